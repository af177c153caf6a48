"""Refunds as a ledger: money is set aside in the database first, moved at the provider
second, and the row says which of the two happened. Never more than was paid."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.auth import Actor
from shop.customers.models import Customer
from shop.errors import ProviderError, RefundRefused
from shop.events.outbox import Topic, publish
from shop.money import Money, to_major_str
from shop.orders.models import Order
from shop.orders.transitions import record
from shop.payments.base import ProviderName, RefundPort, RefundRequest
from shop.payments.models import Payment, Refund
from shop.staff.audit import audit

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RefundResult:
    order_id: int
    requested: Money
    refunded: Money
    refund_ids: tuple[int, ...]
    failed: tuple[str, ...]  # provider errors, one per refund that did not go through

    @property
    def ok(self) -> bool:
        return not self.failed


async def reserve_refund(session: AsyncSession, order: Order, amount: int | None,
                         actor: Actor, reason: str, *, payment_id: int | None = None
                         ) -> list[Refund]:
    """Set aside `amount` (None: everything still refundable) against the order's payments.

    Runs in the caller's transaction with the order locked. Each payment's
    `refunded` grows by a conditional UPDATE that cannot pass its amount.
    `payment_id` limits the refund to one payment (an extra or late one).
    """
    query = select(Payment).where(Payment.order_id == order.id)
    if payment_id is not None:
        query = query.where(Payment.id == payment_id)
    payments = (await session.execute(query.order_by(Payment.id).with_for_update())
                ).scalars().all()
    same = [p for p in payments if p.currency == payments[0].currency] if payments else []
    remaining = sum(p.amount - p.refunded for p in same)
    if not same or remaining <= 0:
        raise RefundRefused(f"nothing is left to refund on order #{order.number}",
                            reason="nothing_left", number=order.number)
    currency = same[0].currency
    wanted = remaining if amount is None else amount
    if wanted <= 0:
        raise RefundRefused("a refund must be more than zero", reason="not_positive")
    if wanted > remaining:
        raise RefundRefused(
            f"at most {to_major_str(remaining, currency)} {currency} can be refunded on order "
            f"#{order.number}, not {to_major_str(wanted, currency)}", reason="too_much",
            number=order.number, maximum=Money(currency, remaining),
            requested=Money(currency, wanted))
    refunds: list[Refund] = []
    for payment in same:
        share = min(wanted, payment.amount - payment.refunded)
        if share <= 0:
            continue
        if payment.provider == ProviderName.STARS and share != payment.amount:
            raise RefundRefused("Telegram Stars payments can only be refunded in full",
                                reason="stars_partial", maximum=Money(payment.currency,
                                                                     payment.amount))
        moved = (await session.execute(
            update(Payment).where(Payment.id == payment.id,
                                  Payment.refunded + share <= Payment.amount)
            .values(refunded=Payment.refunded + share).returning(Payment.id))).one_or_none()
        if moved is None:
            raise RefundRefused("the payment changed meanwhile; try again", reason="changed")
        refund = Refund(order_id=order.id, payment_id=payment.id, amount=share,
                        currency=payment.currency, status="pending", reason=reason[:1000],
                        actor=actor.label, idempotency_key=f"refund-{uuid.uuid4().hex}")
        session.add(refund)
        refunds.append(refund)
        wanted -= share
        if wanted == 0:
            break
    await session.flush()
    audit(session, actor, "order.refund", f"order:{order.number}", None,
          {"amount": sum(r.amount for r in refunds), "currency": currency, "reason": reason})
    record(session, order, "refund_requested", actor,
           f"{to_major_str(sum(r.amount for r in refunds), currency)} {currency}: {reason}")
    return refunds


async def execute_refunds(sessions: async_sessionmaker[AsyncSession], port: RefundPort,
                          refund_ids: list[int]) -> tuple[int, list[str]]:
    """Move the money at the provider for pending refunds; returns (amount done, errors).

    Safe to run again for the same refunds (after a crash): the idempotency key
    makes the provider answer with the refund it already made.
    """
    done, errors = 0, []
    for refund_id in refund_ids:
        async with sessions() as session:
            row = (await session.execute(
                select(Refund, Payment, Customer.channel, Customer.external_id)
                .join(Payment, Payment.id == Refund.payment_id)
                .join(Order, Order.id == Refund.order_id)
                .join(Customer, Customer.id == Order.customer_id)
                .where(Refund.id == refund_id, Refund.status == "pending"))).one_or_none()
        if row is None:
            continue
        refund, payment, channel, external_id = row
        request = RefundRequest(
            provider=ProviderName(payment.provider),
            provider_payment_id=payment.provider_payment_id,
            telegram_charge_id=payment.telegram_charge_id, amount=refund.amount,
            currency=refund.currency, idempotency_key=refund.idempotency_key,
            customer_channel=channel, customer_external_id=external_id)
        try:
            provider_refund_id = await port(request)
        except ProviderError as error:
            await _settle(sessions, refund_id, None, error.message)
            errors.append(error.message)
            continue
        await _settle(sessions, refund_id, provider_refund_id, None)
        done += refund.amount
    return done, errors


async def _settle(sessions: async_sessionmaker[AsyncSession], refund_id: int,
                  provider_refund_id: str | None, error: str | None) -> None:
    async with sessions.begin() as session:
        refund = (await session.execute(select(Refund).where(Refund.id == refund_id)
                                        .with_for_update())).scalar_one()
        if refund.status != "pending":
            return
        order = (await session.execute(select(Order).where(Order.id == refund.order_id))
                 ).scalar_one()
        amount = f"{to_major_str(refund.amount, refund.currency)} {refund.currency}"
        payload = {"order_id": order.id, "number": order.number,
                   "customer_id": order.customer_id, "refund_id": refund.id,
                   "amount": refund.amount, "currency": refund.currency}
        if error is None:
            refund.status, refund.provider_refund_id = "succeeded", provider_refund_id
            record(session, order, "refunded", refund.actor, amount)
            publish(session, Topic.REFUND_ISSUED, payload)
            return
        # The money did not move: give the amount back to what can still be refunded.
        refund.status, refund.error = "failed", error[:2000]
        await session.execute(update(Payment).where(Payment.id == refund.payment_id)
                              .values(refunded=Payment.refunded - refund.amount))
        record(session, order, "refund_failed", refund.actor, f"{amount}: {error}")
        publish(session, Topic.PAYMENT_PROBLEM, {**payload, "problem": "refund_failed",
                                                 "detail": error[:500]})
        log.warning("refund %s for order #%s failed: %s", refund.id, order.number, error)


async def pending_refund_ids(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessions() as session:
        return list((await session.execute(
            select(Refund.id).where(Refund.status == "pending").order_by(Refund.id))).scalars())
