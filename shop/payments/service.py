"""The payment use cases: invoices and links out, verified payments in, refunds back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.auth import Actor, CustomerActor, Permission, SystemActor, require
from shop.catalog.models import Variant
from shop.db.base import utcnow
from shop.errors import IllegalTransition, NotFound, PaymentRejected, ProviderError
from shop.money import Money
from shop.orders.models import Order
from shop.orders.states import CUSTOMER_WORDS, OrderStatus
from shop.orders.transitions import load_order
from shop.payments import refunds, signing
from shop.payments.base import (
    CheckoutLink,
    ConfirmedPayment,
    PayableLine,
    PayableOrder,
    ProviderName,
    RefundPort,
)
from shop.payments.recording import Outcome, Recorded, record_payment
from shop.payments.secrets import shop_secret
from shop.payments.stripe_checkout import StripeCheckout
from shop.payments.telegram_invoice import (
    STARS,
    TelegramInvoice,
    card_invoice,
    stars_invoice,
    stars_price,
)
from shop.shipping.models import ShippingMethod

log = logging.getLogger(__name__)
PAYLOAD_KEY = "invoice_payload_key"
TEST_PROVIDER_KEY = "test_provider_key"


@dataclass(frozen=True, slots=True)
class ShippingOffer:
    """One shipping option for Telegram's payment sheet."""

    id: str
    title: str
    amount: int  # minor units of the order's currency


@dataclass(frozen=True, slots=True)
class PaymentConfig:
    shop_name: str
    provider_token: str | None
    stars_per_unit: int


def payable(order: Order) -> PayableOrder:
    return PayableOrder(
        order_id=order.id, number=order.number, currency=order.currency, total=order.total,
        subtotal=order.subtotal, discount=order.discount, shipping_total=order.shipping_total,
        shipping_name=order.shipping_method_name, digital_only=order.digital_only,
        lines=tuple(PayableLine(line.title + (f" ({line.options})" if line.options else ""),
                                line.quantity, line.unit_price * line.quantity)
                    for line in order.lines),
        language=order.language,
        pickup=not order.digital_only and order.ship_country is None,
    )


class PaymentService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], config: PaymentConfig,
                 refund_port: RefundPort, *, stripe: StripeCheckout | None = None,
                 notify: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._config = config
        self._refund_port = refund_port
        self._stripe = stripe
        self._notify = notify
        self._clock = clock
        self._keys: dict[str, bytes] = {}

    async def _key(self, name: str) -> bytes:
        # Keys never change once made, so each is read from the database once.
        if name not in self._keys:
            self._keys[name] = await shop_secret(self._sessions, name)
        return self._keys[name]

    def expected_charge(self, order: Order, provider: ProviderName) -> tuple[str, int]:
        """What this provider must charge for the order: (currency, amount in minor units)."""
        if provider == ProviderName.STARS:
            return STARS, stars_price(order.total, order.currency, self._config.stars_per_unit)
        return order.currency, order.total

    async def _payable_order(self, actor: CustomerActor, order_id: int) -> Order:
        async with self._sessions() as session:
            order = await load_order(session, order_id, actor=actor, lock=False)
        if order.status != OrderStatus.AWAITING_PAYMENT:
            raise IllegalTransition(
                f"order #{order.number} is {CUSTOMER_WORDS[OrderStatus(order.status)]} "
                "and cannot be paid", current=order.status, action="pay", number=order.number)
        return order

    async def telegram_invoice(self, actor: CustomerActor, order_id: int) -> TelegramInvoice:
        """sendInvoice parameters: Stars for digital-only orders, else card by provider token.

        Raises ProviderError when a card order needs a provider token and none is set:
        the caller then offers the built-in test provider instead.
        """
        order = await self._payable_order(actor, order_id)
        key = await self._key(PAYLOAD_KEY)
        payload = signing.invoice_payload(key, order.id, order.number)
        if order.digital_only:
            return stars_invoice(payable(order), shop_name=self._config.shop_name,
                                 payload=payload, stars_per_unit=self._config.stars_per_unit)
        if not self._config.provider_token:
            raise ProviderError("card payments in Telegram need PAYMENT_PROVIDER_TOKEN",
                                reason="not_configured", provider="telegram")
        return card_invoice(payable(order), shop_name=self._config.shop_name, payload=payload,
                            provider_token=self._config.provider_token,
                            ask_shipping_in_sheet=order.ship_country is not None)

    async def shipping_options(self, *, payload: str, country: str) -> list[ShippingOffer]:
        """Telegram's shipping question for a flexible invoice: the method chosen at
        checkout, if it delivers to the country typed in the payment sheet.

        Raises PaymentRejected with a message for the customer otherwise.
        """
        key = await self._key(PAYLOAD_KEY)
        order_id = signing.parse_invoice_payload(key, payload)
        async with self._sessions() as session:
            try:
                order = await load_order(session, order_id, lock=False)
            except NotFound:
                raise PaymentRejected("this order no longer exists",
                                      reason="order_gone") from None
            if order.ship_country is None or order.shipping_method_id is None:
                raise PaymentRejected("this order needs no delivery", reason="no_delivery",
                                      number=order.number)
            method = await session.get(ShippingMethod, order.shipping_method_id)
        countries = method.countries if method is not None else [order.ship_country]
        if country.upper() != order.ship_country and "*" not in countries and (
                country.upper() not in countries):
            raise PaymentRejected(
                f"{order.shipping_method_name} does not deliver to {country.upper()}; "
                "please start the checkout again to choose another address", reason="country",
                method=order.shipping_method_name or "", country=country.upper())
        return [ShippingOffer(f"m{order.shipping_method_id}",
                              order.shipping_method_name or "Delivery", order.shipping_total)]

    async def test_confirmation(self, actor: CustomerActor, order_id: int) -> str:
        """A signed confirmation from the built-in test provider (the demo's 'payment page')."""
        order = await self._payable_order(actor, order_id)
        key = await self._key(TEST_PROVIDER_KEY)
        payment_id = f"test{order.id}x{int(self._clock().timestamp() * 1000)}"
        return signing.sign_test_confirmation(key, signing.TestConfirmation(
            order.id, payment_id, order.total, order.currency))

    async def confirm_test_payment(self, token: str) -> Recorded:
        """Record a test-provider payment; PaymentRejected when the token is forged."""
        key = await self._key(TEST_PROVIDER_KEY)
        confirmation = signing.verify_test_confirmation(key, token)
        return await self.record(ConfirmedPayment(
            provider=ProviderName.TEST, event_id=confirmation.payment_id,
            order_id=confirmation.order_id, provider_payment_id=confirmation.payment_id,
            amount=confirmation.amount, currency=confirmation.currency,
            raw={"token": token}))

    async def stripe_link(self, actor: CustomerActor, order_id: int,
                          email: str | None = None) -> CheckoutLink:
        if self._stripe is None:
            raise ProviderError("Stripe is not configured (STRIPE_API_KEY)",
                                reason="not_configured", provider="stripe")
        order = await self._payable_order(actor, order_id)
        return await self._stripe.create_session(payable(order), customer_email=email,
                                                 expires_at=order.expires_at)

    async def precheckout(self, *, payload: str, currency: str, total_amount: int,
                          actor: CustomerActor | None = None) -> int:
        """Telegram's pre-checkout question: may this invoice be paid now? Returns the order id.

        Raises PaymentRejected with a message meant for the customer. Reads only,
        so it answers well within Telegram's 10 seconds.
        """
        key = await self._key(PAYLOAD_KEY)
        order_id = signing.parse_invoice_payload(key, payload)
        provider = ProviderName.STARS if currency == STARS else ProviderName.TELEGRAM
        async with self._sessions() as session:
            try:
                order = await load_order(session, order_id, actor=actor, lock=False)
            except NotFound:
                raise PaymentRejected("this order no longer exists",
                                      reason="order_gone") from None
            if (currency, total_amount) != self.expected_charge(order, provider):
                raise PaymentRejected("the amount of this invoice is out of date; "
                                      "please start the checkout again",
                                      reason="amount_changed", number=order.number)
            if order.status == OrderStatus.AWAITING_PAYMENT:
                return order.id
            if order.status == OrderStatus.CANCELLED and order.paid_at is None:
                if await _stock_still_there(session, order):
                    return order.id
                raise PaymentRejected("sorry, the reservation expired and some items are "
                                      "now sold out; nothing was charged", reason="sold_out",
                                      number=order.number)
            raise PaymentRejected(f"order #{order.number} is already "
                                  f"{CUSTOMER_WORDS[OrderStatus(order.status)]}",
                                  reason="settled", number=order.number, status=order.status)

    async def telegram_payment(self, *, payload: str, currency: str, total_amount: int,
                               telegram_payment_charge_id: str,
                               provider_payment_charge_id: str | None) -> Recorded:
        """A successful_payment from Telegram (card or Stars)."""
        key = await self._key(PAYLOAD_KEY)
        order_id = signing.parse_invoice_payload(key, payload)
        stars = currency == STARS
        return await self.record(ConfirmedPayment(
            provider=ProviderName.STARS if stars else ProviderName.TELEGRAM,
            event_id=telegram_payment_charge_id, order_id=order_id,
            provider_payment_id=(telegram_payment_charge_id if stars
                                 else provider_payment_charge_id or telegram_payment_charge_id),
            amount=total_amount, currency=currency,
            telegram_charge_id=telegram_payment_charge_id,
            raw={"payload": payload, "currency": currency, "total_amount": total_amount,
                 "telegram_payment_charge_id": telegram_payment_charge_id,
                 "provider_payment_charge_id": provider_payment_charge_id}))

    async def stripe_webhook(self, raw_body: bytes, signature: str | None) -> Recorded | None:
        """A Stripe webhook (raw body); PaymentRejected when its signature is not Stripe's."""
        if self._stripe is None:
            raise PaymentRejected("Stripe is not configured", reason="webhook")
        payment = self._stripe.parse_webhook(raw_body, signature)
        return None if payment is None else await self.record(payment)

    async def record(self, payment: ConfirmedPayment) -> Recorded:
        """Record a verified payment once; refunds what cannot be fulfilled."""
        now = self._clock()
        try:
            async with self._sessions.begin() as session:
                expected = await self._expected_for(session, payment)
                result = await record_payment(session, payment, expected, now)
        except IntegrityError:
            # The same payment committed concurrently (a replay racing the original).
            result = Recorded(Outcome.DUPLICATE, payment.order_id, None)
        log.info("payment %s/%s for order %s: %s", payment.provider, payment.event_id,
                 payment.order_id, result.outcome)
        self._notify()
        if result.needs_refund and result.order_id and result.payment_id:
            await self._refund(SystemActor("payments"), result.order_id, None,
                               result.detail, payment_id=result.payment_id)
        return result

    async def _expected_for(self, session: AsyncSession, payment: ConfirmedPayment
                            ) -> tuple[str, int] | None:
        order = await session.get(Order, payment.order_id)
        return None if order is None else self.expected_charge(order, payment.provider)

    async def refund(self, actor: Actor, order_id: int, amount: int | None, reason: str,
                     permission: Permission = Permission.ORDERS) -> refunds.RefundResult:
        """Refund part or all of what an order paid; never more than was paid."""
        require(actor, permission)
        return await self._refund(actor, order_id, amount, reason)

    async def _refund(self, actor: Actor, order_id: int, amount: int | None, reason: str,
                      *, payment_id: int | None = None) -> refunds.RefundResult:
        async with self._sessions.begin() as session:
            order = await load_order(session, order_id)
            rows = await refunds.reserve_refund(session, order, amount, actor, reason,
                                                payment_id=payment_id)
            currency = rows[0].currency
            wanted = sum(r.amount for r in rows)
            ids = [r.id for r in rows]
        done, errors = await refunds.execute_refunds(self._sessions, self._refund_port, ids)
        self._notify()
        return refunds.RefundResult(order_id, Money(currency, wanted), Money(currency, done),
                                    tuple(ids), tuple(errors))

    async def resume_pending_refunds(self) -> int:
        """Finish refunds a crash left between the ledger and the provider."""
        ids = await refunds.pending_refund_ids(self._sessions)
        if ids:
            await refunds.execute_refunds(self._sessions, self._refund_port, ids)
            self._notify()
        return len(ids)


async def _stock_still_there(session: AsyncSession, order: Order) -> bool:
    for line in order.lines:
        if line.variant_id is None:
            return False
        stock = await session.scalar(select(Variant.stock).where(Variant.id == line.variant_id))
        if stock is None or stock < line.quantity:
            return False
    return True
