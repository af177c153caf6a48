"""Recording money that arrived: once per provider payment, checked against the order.

What a verified payment does to its order:
- awaiting payment, right amount and currency → paid, stock committed, cart cleared;
- wrong amount or currency → the money is recorded, nothing is fulfilled, staff are told;
- the order expired meanwhile → stock reserved again if it can be, else refunded;
- the order was already paid (a second invoice paid) → the extra payment is refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shop.auth import SystemActor
from shop.cart.models import Cart, CartItem
from shop.errors import NotFound, OutOfStock
from shop.events.outbox import Topic, publish
from shop.money import to_major_str
from shop.orders import stock_moves
from shop.orders.models import Order
from shop.orders.states import OrderAction, OrderStatus
from shop.orders.transitions import change_status, load_order, record
from shop.payments.base import ConfirmedPayment
from shop.payments.models import Payment, ProviderEvent


class Outcome(StrEnum):
    PAID = "paid"                    # the order is paid now
    DUPLICATE = "duplicate"          # seen before: nothing changed
    MISMATCH = "mismatch"            # amount or currency wrong: recorded, not fulfilled
    LATE_REFUND = "late_refund"      # paid after expiry with the stock gone: refunding
    EXTRA_REFUND = "extra_refund"    # the order was already paid: refunding this one
    UNKNOWN_ORDER = "unknown_order"  # names no order of this shop


@dataclass(frozen=True, slots=True)
class Recorded:
    outcome: Outcome
    order_id: int | None
    payment_id: int | None
    detail: str = ""

    @property
    def needs_refund(self) -> bool:
        return self.outcome in (Outcome.LATE_REFUND, Outcome.EXTRA_REFUND)


async def seen_before(session: AsyncSession, payment: ConfirmedPayment) -> bool:
    found = await session.execute(
        select(ProviderEvent.id).where(ProviderEvent.provider == payment.provider,
                                       ProviderEvent.event_id == payment.event_id))
    if found.first() is not None:
        return True
    return (await session.execute(
        select(Payment.id).where(Payment.provider == payment.provider,
                                 Payment.provider_payment_id == payment.provider_payment_id))
            ).first() is not None


async def record_payment(session: AsyncSession, payment: ConfirmedPayment,
                         expected: tuple[str, int] | None, now: datetime) -> Recorded:
    """Apply one verified payment inside the caller's transaction.

    `expected` is the (currency, amount) this provider should have charged for
    the order, computed by the caller, or None when the order is unknown.
    Unique constraints on the event id and the provider payment id make a
    concurrent replay fail at commit, which the caller reports as a duplicate.
    """
    if await seen_before(session, payment):
        return Recorded(Outcome.DUPLICATE, payment.order_id, None)
    event = ProviderEvent(provider=payment.provider, event_id=payment.event_id,
                          kind="payment", order_id=payment.order_id, outcome="",
                          payload=payment.raw)
    session.add(event)
    try:
        order = await load_order(session, payment.order_id)
    except NotFound:
        event.outcome, event.order_id = Outcome.UNKNOWN_ORDER, None
        publish(session, Topic.PAYMENT_PROBLEM, _problem(payment, None, "unknown_order"))
        return Recorded(Outcome.UNKNOWN_ORDER, None, None)

    row = Payment(order_id=order.id, provider=payment.provider,
                  provider_payment_id=payment.provider_payment_id,
                  telegram_charge_id=payment.telegram_charge_id, amount=payment.amount,
                  currency=payment.currency, created_at=now)
    session.add(row)
    await session.flush()
    actor = SystemActor(f"payment:{payment.provider}")
    money = f"{to_major_str(payment.amount, payment.currency)} {payment.currency}"

    if expected != (payment.currency, payment.amount):
        want = f"{to_major_str(expected[1], expected[0])} {expected[0]}" if expected else "?"
        detail = f"received {money}, expected {want}"
        event.outcome = Outcome.MISMATCH
        record(session, order, "payment_problem", actor, detail)
        publish(session, Topic.PAYMENT_PROBLEM, _problem(payment, order, "mismatch", detail))
        return Recorded(Outcome.MISMATCH, order.id, row.id, detail)

    if order.status == OrderStatus.AWAITING_PAYMENT:
        change_status(session, order, OrderAction.PAY, actor, money)
    elif order.status == OrderStatus.CANCELLED and order.paid_at is None:
        if not await _reserve_again(session, order):
            event.outcome = Outcome.LATE_REFUND
            detail = "paid after the order was cancelled and the stock is gone: refunding"
            record(session, order, "payment_problem", actor, detail)
            publish(session, Topic.PAYMENT_PROBLEM,
                    _problem(payment, order, "late_payment_refunded", detail))
            return Recorded(Outcome.LATE_REFUND, order.id, row.id, detail)
        change_status(session, order, OrderAction.PAY_LATE, actor,
                      f"{money}, paid after expiry; stock reserved again")
    else:
        event.outcome = Outcome.EXTRA_REFUND
        detail = f"order was already {order.status}: refunding the extra payment"
        record(session, order, "payment_problem", actor, detail)
        publish(session, Topic.PAYMENT_PROBLEM,
                _problem(payment, order, "extra_payment_refunded", detail))
        return Recorded(Outcome.EXTRA_REFUND, order.id, row.id, detail)

    event.outcome = Outcome.PAID
    order.stock_state, order.paid_at, order.expires_at = "committed", now, None
    await _clear_cart(session, order)
    publish(session, Topic.ORDER_PAID, {
        "order_id": order.id, "number": order.number, "customer_id": order.customer_id,
        "total": order.total, "currency": order.currency, "provider": payment.provider,
        "amount": payment.amount, "paid_currency": payment.currency,
    })
    return Recorded(Outcome.PAID, order.id, row.id)


async def _reserve_again(session: AsyncSession, order: Order) -> bool:
    """Take the stock again for a late payment; False (nothing taken) when it is gone."""
    try:
        async with session.begin_nested():
            await stock_moves.reserve(session, order, order.lines)
    except (OutOfStock, NotFound):
        return False
    return True


async def _clear_cart(session: AsyncSession, order: Order) -> None:
    """Empty the cart that made this order, unless the customer has changed it since."""
    _, cart_id, version, *_ = order.checkout_key.split(":")
    cart = (await session.execute(
        update(Cart).where(Cart.id == int(cart_id), Cart.version == int(version))
        .values(version=Cart.version + 1, promo_code_id=None).returning(Cart.id))).first()
    if cart is not None:
        await session.execute(delete(CartItem).where(CartItem.cart_id == int(cart_id)))


def _problem(payment: ConfirmedPayment, order: Order | None, problem: str,
             detail: str = "") -> dict[str, object]:
    return {
        "order_id": order.id if order else None, "number": order.number if order else None,
        "customer_id": order.customer_id if order else None, "problem": problem,
        "detail": detail, "provider": str(payment.provider), "amount": payment.amount,
        "currency": payment.currency, "provider_payment_id": payment.provider_payment_id,
    }
