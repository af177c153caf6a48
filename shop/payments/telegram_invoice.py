"""sendInvoice parameters for Telegram: card payments through a provider token, or Stars.

The core builds them (prices, payload, what to ask for); the bot layer only
passes them to the Bot API.
"""

from __future__ import annotations

from dataclasses import dataclass

from shop.money import exponent
from shop.payments.base import PayableOrder, ProviderName

STARS = "XTR"
TITLE_MAX = 32
DESCRIPTION_MAX = 255
LABEL_MAX = 32  # Telegram shows short labels; longer ones are cut here, not by Telegram.


@dataclass(frozen=True, slots=True)
class LabeledAmount:
    label: str
    amount: int  # minor units of the invoice currency; a discount is negative


@dataclass(frozen=True, slots=True)
class TelegramInvoice:
    provider: ProviderName
    title: str
    description: str
    payload: str
    currency: str
    prices: tuple[LabeledAmount, ...]
    provider_token: str | None      # None for Stars and for the test provider's own page
    need_name: bool = False
    need_shipping_address: bool = False
    is_flexible: bool = False

    @property
    def total(self) -> int:
        return sum(price.amount for price in self.prices)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def stars_price(total_minor: int, currency: str, stars_per_unit: int) -> int:
    """Whole Stars for an amount, rounded up so the shop never undercharges."""
    scale = int(10 ** exponent(currency))
    return max(1, -(-total_minor * stars_per_unit // scale))


def card_invoice(order: PayableOrder, *, shop_name: str, payload: str, provider_token: str,
                 ask_shipping_in_sheet: bool = False) -> TelegramInvoice:
    """An invoice paid by card through the provider token, itemised like the order.

    With `ask_shipping_in_sheet` the payment sheet asks for the delivery address and
    offers the shipping chosen at checkout as its one option (see
    `PaymentService.shipping_options`), so the customer confirms where it goes. Orders
    with nothing to deliver (digital goods, pickup) never ask for an address.
    """
    ask_shipping_in_sheet = (ask_shipping_in_sheet and not order.digital_only
                             and not order.pickup)
    if order.discount:
        # Negative price components are not accepted by every payment provider, so a
        # discounted order is one line for the goods after the discount.
        prices = [LabeledAmount(_cut(f"Order #{order.number}, discount applied", LABEL_MAX),
                                order.subtotal - order.discount)]
    else:
        prices = [LabeledAmount(_cut(f"{line.title} × {line.quantity}", LABEL_MAX),
                                line.amount) for line in order.lines]
    # With the address asked in the payment sheet, Telegram adds the shipping option
    # the customer confirms there; it must not be in the prices twice.
    if order.shipping_total and not ask_shipping_in_sheet:
        prices.append(LabeledAmount(_cut(order.shipping_name or "Shipping", LABEL_MAX),
                                    order.shipping_total))
    return TelegramInvoice(
        provider=ProviderName.TELEGRAM,
        title=_cut(f"{shop_name} order #{order.number}", TITLE_MAX),
        description=_cut(_describe(order), DESCRIPTION_MAX),
        payload=payload,
        currency=order.currency,
        prices=tuple(prices),
        provider_token=provider_token,
        need_shipping_address=ask_shipping_in_sheet,
        is_flexible=ask_shipping_in_sheet,
    )


def stars_invoice(order: PayableOrder, *, shop_name: str, payload: str,
                  stars_per_unit: int) -> TelegramInvoice:
    """A Stars invoice: one price item in whole Stars (Telegram requires exactly one)."""
    return TelegramInvoice(
        provider=ProviderName.STARS,
        title=_cut(f"{shop_name} order #{order.number}", TITLE_MAX),
        description=_cut(_describe(order), DESCRIPTION_MAX),
        payload=payload,
        currency=STARS,
        prices=(LabeledAmount(f"Order #{order.number}",
                              stars_price(order.total, order.currency, stars_per_unit)),),
        provider_token=None,
    )


def _describe(order: PayableOrder) -> str:
    items = ", ".join(f"{line.title} × {line.quantity}" for line in order.lines)
    return items or f"Order #{order.number}"
