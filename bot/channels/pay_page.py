"""The built-in test provider's payment page, for channels where customers pay on a web page
(WhatsApp) while no Stripe is configured: the demo and the tests buy with no account. Its
texts come from the chat's gettext catalogs, in the customer's language; the signed link is
made by `shop.payments.page_link`.

`GET /payments/test/{order_id}?sig=…` shows the order's total and a Pay button; a `POST` to
the same signed URL pays it through the test provider, with the same core call as the in-chat
test payment (`PaymentService.confirm_test_payment`). The signature is an HMAC of the order id
under a key the shop keeps in its database, so a forged or altered link gets a 403 page. The
payment's id is fixed per order, so pressing Pay twice (or two tabs at once) pays once; an
order already paid, cancelled or expired gets a page that says so. The receipt reaches the
customer in the chat through the `order.paid` event, like a Stripe payment's.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from bot.channels.web_page import html_page
from bot.i18n import LANGUAGES, Translator, format_money
from shop.auth import SystemActor
from shop.errors import NotFound, PaymentRejected
from shop.orders.states import OrderStatus
from shop.orders.types import OrderView
from shop.payments import signing
from shop.payments.page_link import LINK_KEY, PATH
from shop.payments.recording import Outcome
from shop.payments.secrets import shop_secret
from shop.payments.service import TEST_PROVIDER_KEY

if TYPE_CHECKING:
    from shop.bootstrap import Shop

log = logging.getLogger(__name__)
SYSTEM = SystemActor("test_payment_page")


def _texts(key: str, t: Translator, number: int | str, total: str) -> tuple[str, str]:
    """The page's title and text, in the customer's language (gettext, as the chat's)."""
    if key == "pay":
        return (t("Order #{number}", number=number),
                t("Total to pay: {total}. This shop uses a test payment: no money moves.",
                  total=total))
    if key == "paid":
        return (t("Thank you!"),
                t("Order #{number} is paid. The receipt arrives in the chat; you can close "
                  "this page.", number=number))
    if key == "cancelled":
        return (t("Order cancelled"),
                t("Order #{number} was cancelled (or its reservation expired), so it cannot "
                  "be paid. Nothing was charged.", number=number))
    if key == "closed":
        return (t("Nothing to pay"),
                t("Order #{number} cannot be paid now. Go back to the chat to see where it "
                  "stands.", number=number))
    return (t("Link not valid"),
            t("This payment link is not valid. Use the Pay button in the chat."))


@dataclass(frozen=True, slots=True)
class _Page:
    key: str
    language: str
    number: int | str = ""
    total: str = ""
    form: bool = False
    status: int = 200

    def render(self, shop_name: str) -> web.Response:
        t = Translator(self.language)
        title, text = _texts(self.key, t, self.number, self.total)
        body = f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        if self.form:
            label = t("Pay {total} (test)", total=self.total)
            # The form posts to the page's own signed URL (action="" keeps the query).
            body += (f'<form method="post" action=""><button type="submit">'
                     f"{html.escape(label)}</button></form>")
        return html_page(shop_name, self.language, body, self.status)


class TestPaymentPages:
    """The page's two routes; mounted by the channels whose customers pay on a web page."""

    __test__ = False  # not a pytest class, whatever its name

    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    def mount(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.show)
        app.router.add_post(PATH, self.pay)

    async def _order(self, request: web.Request) -> tuple[OrderView | None, str]:
        """The order the signed URL names (None when the link is forged) and the page's
        language."""
        raw = request.match_info["order_id"]
        language = self.shop.settings.default_language
        if not raw.isdigit() or len(raw) > 18:
            return None, language
        order_id = int(raw)
        key = await shop_secret(self.shop.sessions, LINK_KEY)
        try:
            signing.verify_test_link(key, order_id, request.query.get("sig", ""))
            order = await self.shop.orders.order(SYSTEM, order_id)
        except (PaymentRejected, NotFound):
            log.warning("test payment page: refused a link for order %s", order_id)
            return None, language
        customer = await self.shop.customers.get(order.customer_id)
        return order, customer.language if customer.language in LANGUAGES else language

    def _settled(self, order: OrderView, language: str) -> _Page:
        if order.paid_at is not None and order.status != OrderStatus.CANCELLED:
            return _Page("paid", language, order.number)
        if order.status == OrderStatus.CANCELLED or self._expired(order):
            return _Page("cancelled", language, order.number)
        return _Page("closed", language, order.number)

    def _expired(self, order: OrderView) -> bool:
        return (order.status == OrderStatus.AWAITING_PAYMENT and order.expires_at is not None
                and order.expires_at <= self.shop.clock())

    def _respond(self, page: _Page) -> web.Response:
        return page.render(self.shop.settings.shop_name)

    async def _payable(self, request: web.Request) -> tuple[OrderView, str] | web.Response:
        """The order the link names and the page's language, when it can be paid now; else
        the page saying why not."""
        order, language = await self._order(request)
        if order is None:
            return self._respond(_Page("forged", language, status=403))
        if order.status != OrderStatus.AWAITING_PAYMENT or self._expired(order):
            return self._respond(self._settled(order, language))
        return order, language

    async def show(self, request: web.Request) -> web.Response:
        payable = await self._payable(request)
        if isinstance(payable, web.Response):
            return payable
        order, language = payable
        return self._respond(_Page("pay", language, order.number,
                                   format_money(order.total, language), form=True))

    async def pay(self, request: web.Request) -> web.Response:
        payable = await self._payable(request)
        if isinstance(payable, web.Response):
            return payable
        order, language = payable
        # One payment id per order: a second press, or a second tab, is a duplicate of the
        # first in the payment ledger, never a second charge.
        key = await shop_secret(self.shop.sessions, TEST_PROVIDER_KEY)
        token = signing.sign_test_confirmation(key, signing.TestConfirmation(
            order.id, f"page{order.id}", order.total.minor, order.total.currency))
        result = await self.shop.payments.confirm_test_payment(token)
        log.info("test payment page: order %s %s", order.id, result.outcome)
        if result.outcome not in (Outcome.PAID, Outcome.DUPLICATE):
            log.warning("test payment page: order %s not paid: %s", order.id, result.detail)
        # Paid (now or by the first press), or why not: the order as it now stands.
        return self._respond(self._settled(await self.shop.orders.order(SYSTEM, order.id),
                                           language))
