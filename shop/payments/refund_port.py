"""The refund port: where the money goes back, by the provider that took it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from shop.errors import ProviderError
from shop.payments.base import ProviderName, RefundRequest
from shop.payments.stripe_checkout import StripeCheckout

# refundStarPayment(user_id, telegram_payment_charge_id), supplied by the customer bot.
StarsRefunder = Callable[[int, str], Awaitable[None]]


class ProviderRefunds:
    """Card payments made in Telegram are refunded at Stripe on their charge, Stripe
    Checkout payments on their payment intent, Stars through the customer bot, and the
    test provider's payments locally."""

    def __init__(self, stripe: StripeCheckout | None = None,
                 stars: StarsRefunder | None = None) -> None:
        self.stripe = stripe
        self.stars = stars

    async def __call__(self, request: RefundRequest) -> str:
        match request.provider:
            case ProviderName.TEST:
                return f"test_refund_{request.idempotency_key}"
            case ProviderName.TELEGRAM:
                if self.stripe is None:
                    raise ProviderError("refunding a Telegram card payment needs STRIPE_API_KEY "
                                        "(the account behind PAYMENT_PROVIDER_TOKEN)",
                                        reason="not_configured", provider="stripe")
                return await self.stripe.refund_charge(
                    request.provider_payment_id, request.amount, request.idempotency_key,
                    currency=request.currency)
            case ProviderName.STRIPE:
                if self.stripe is None:
                    raise ProviderError("refunding a Stripe payment needs STRIPE_API_KEY",
                                        reason="not_configured", provider="stripe")
                return await self.stripe.refund_payment_intent(
                    request.provider_payment_id, request.amount, request.idempotency_key,
                    currency=request.currency)
            case ProviderName.STARS:
                if self.stars is None or request.customer_channel != "telegram":
                    raise ProviderError("Stars can only be refunded through the Telegram bot",
                                        reason="not_configured", provider="stars")
                charge = request.telegram_charge_id or request.provider_payment_id
                await self.stars(int(request.customer_external_id), charge)
                return f"stars_refund_{charge}"
        raise ProviderError(f"unknown payment provider {request.provider!r}",
                            reason="unknown", provider=str(request.provider))
