"""What every payment provider speaks: orders going out, verified payments coming in."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class ProviderName(StrEnum):
    TEST = "test"          # the built-in provider: signed confirmations, no money moves
    TELEGRAM = "telegram"  # Telegram invoice paid through a provider token (card, via Stripe)
    STARS = "stars"        # Telegram Stars (XTR), digital goods only
    STRIPE = "stripe"      # Stripe Checkout Session link (WhatsApp, web)


@dataclass(frozen=True, slots=True)
class PayableLine:
    title: str
    quantity: int
    amount: int  # unit price × quantity, minor units


@dataclass(frozen=True, slots=True)
class PayableOrder:
    """What a provider needs to ask for money for one order."""

    order_id: int
    number: int
    currency: str
    total: int
    subtotal: int
    discount: int
    shipping_total: int
    shipping_name: str | None
    digital_only: bool
    lines: tuple[PayableLine, ...]
    language: str = "en"
    # Collected by the customer (pickup): nothing to deliver, so no address to ask for.
    pickup: bool = False


@dataclass(frozen=True, slots=True)
class ConfirmedPayment:
    """A verified provider message saying money arrived for an order."""

    provider: ProviderName
    event_id: str             # de-duplicates the message itself
    order_id: int
    provider_payment_id: str  # what refunds are made against; unique per provider
    amount: int
    currency: str
    telegram_charge_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckoutLink:
    """A payment page to send the customer to (Stripe Checkout, the test provider's page)."""

    url: str
    session_id: str


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """Everything any provider needs to move money back for one payment."""

    provider: ProviderName
    provider_payment_id: str
    telegram_charge_id: str | None
    amount: int
    currency: str
    idempotency_key: str
    customer_channel: str
    customer_external_id: str


class RefundPort(Protocol):
    """Moves money back at the provider; raises shop.errors.ProviderError when it cannot."""

    async def __call__(self, request: RefundRequest) -> str:
        """Refund the request's amount; returns the provider's refund id."""
        ...
