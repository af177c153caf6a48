"""The signed link to the built-in test provider's payment page, for channels where customers
pay on a web page (WhatsApp) while no Stripe is configured. The page itself, a customer-facing
text in their language, is `bot.channels.pay_page`; the link and its key are the
shop's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shop.auth import CustomerActor
from shop.payments import signing
from shop.payments.secrets import shop_secret
from shop.settings import Settings

if TYPE_CHECKING:
    from shop.bootstrap import Shop

PATH = "/payments/test/{order_id}"
LINK_KEY = "test_link_key"


def public_base(settings: Settings) -> str:
    """Where customers reach our HTTP server (as for Stripe's success page)."""
    return settings.webhook_base_url or f"http://{settings.http_host}:{settings.http_port}"


async def test_payment_link(shop: Shop, actor: CustomerActor, order_id: int) -> str:
    """The signed URL of the test payment page for one of the customer's orders
    (NotYourOrder for another's)."""
    order = await shop.orders.order(actor, order_id)
    key = await shop_secret(shop.sessions, LINK_KEY)
    path = PATH.format(order_id=order.id)
    return f"{public_base(shop.settings)}{path}?sig={signing.sign_test_link(key, order.id)}"
