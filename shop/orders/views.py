"""Turning order and return rows into the plain views callers get."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shop.money import Money
from shop.orders.models import Order, OrderHistory, OrderLine, Return
from shop.orders.states import OrderStatus
from shop.orders.types import (
    HistoryEntry,
    OrderLineView,
    OrderSummary,
    OrderView,
    ReturnLineView,
    ReturnView,
    ShippingAddress,
)
from shop.payments.models import Payment, ProviderEvent
from shop.payments.recording import Outcome
from shop.payments.telegram_invoice import STARS


def line_view(line: OrderLine, currency: str) -> OrderLineView:
    return OrderLineView(
        id=line.id, variant_id=line.variant_id, sku=line.sku, title=line.title,
        options=line.options, unit_price=Money(currency, line.unit_price),
        quantity=line.quantity, line_total=Money(currency, line.unit_price * line.quantity),
        digital=line.digital,
    )


@dataclass(frozen=True, slots=True)
class _Money:
    paid: int      # minor units of the order's currency
    refunded: int
    paid_stars: int
    refunded_stars: int


async def _money(session: AsyncSession, order: Order) -> _Money:
    """What the order's payments are worth, in its currency and in Telegram Stars.

    Payments in the order's currency count as they are. A Stars payment that paid the
    order (the ledger's event says so) is worth the order's total, and its refund the
    same share of that total; Stars that did not pay it (a mismatch, an extra payment)
    are worth nothing in the order's currency but still show in the Stars figures.
    """
    rows = (await session.execute(
        select(Payment.currency, Payment.amount, Payment.refunded, ProviderEvent.outcome)
        .outerjoin(ProviderEvent, and_(ProviderEvent.provider == Payment.provider,
                                       ProviderEvent.event_id == Payment.provider_payment_id))
        .where(Payment.order_id == order.id))).tuples().all()
    paid = refunded = paid_stars = refunded_stars = 0
    for currency, amount, back, outcome in rows:
        if currency == order.currency:
            paid, refunded = paid + amount, refunded + back
        if currency == STARS and order.currency != STARS:
            paid_stars, refunded_stars = paid_stars + amount, refunded_stars + back
            if outcome == Outcome.PAID:
                paid += order.total
                refunded += order.total * back // amount
    return _Money(paid, refunded, paid_stars, refunded_stars)


async def order_view(session: AsyncSession, order: Order) -> OrderView:
    """The full view: lines, money paid and refunded (in the order's currency, and in Stars
    for an order paid with them), history."""
    history = (await session.execute(
        select(OrderHistory).where(OrderHistory.order_id == order.id)
        .order_by(OrderHistory.id))).scalars().all()
    money = await _money(session, order)
    await session.refresh(order, ["lines"])
    c = order.currency
    address = None
    if order.ship_street:
        address = ShippingAddress(
            name=order.ship_name or "", street=order.ship_street, city=order.ship_city or "",
            postcode=order.ship_postcode or "", country=order.ship_country or "",
            phone=order.ship_phone,
        )
    return OrderView(
        id=order.id, number=order.number, customer_id=order.customer_id,
        status=OrderStatus(order.status), currency=c, subtotal=Money(c, order.subtotal),
        discount=Money(c, order.discount), shipping_total=Money(c, order.shipping_total),
        total=Money(c, order.total), paid=Money(c, money.paid),
        refunded=Money(c, money.refunded),
        promo_code=order.promo_code, digital_only=order.digital_only,
        shipping_method=order.shipping_method_name, address=address,
        lines=tuple(line_view(line, c) for line in order.lines),
        expires_at=order.expires_at, carrier=order.carrier,
        tracking_number=order.tracking_number, tracking_url=order.tracking_url,
        created_at=order.created_at, paid_at=order.paid_at, delivered_at=order.delivered_at,
        history=tuple(
            HistoryEntry(h.kind, h.from_status, h.to_status, h.actor, h.note, h.created_at)
            for h in history
        ),
        paid_stars=money.paid_stars, refunded_stars=money.refunded_stars,
    )


def order_summary(order: Order, item_count: int) -> OrderSummary:
    return OrderSummary(
        id=order.id, number=order.number, customer_id=order.customer_id,
        status=OrderStatus(order.status), total=Money(order.currency, order.total),
        item_count=item_count, created_at=order.created_at,
    )


async def return_view(session: AsyncSession, ret: Return, order: Order) -> ReturnView:
    await session.refresh(ret, ["lines"])
    await session.refresh(order, ["lines"])
    by_id = {line.id: line for line in order.lines}
    lines = tuple(
        ReturnLineView(
            order_line_id=rl.order_line_id, title=by_id[rl.order_line_id].title,
            options=by_id[rl.order_line_id].options, quantity=rl.quantity,
            unit_price=Money(order.currency, by_id[rl.order_line_id].unit_price),
        )
        for rl in ret.lines
    )
    value = sum(line.unit_price.minor * line.quantity for line in lines)
    return ReturnView(
        id=ret.id, order_id=order.id, order_number=order.number, customer_id=ret.customer_id,
        status=ret.status, reason=ret.reason, photo_ids=tuple(ret.photo_ids),
        staff_note=ret.staff_note, lines=lines, value=Money(order.currency, value),
        refund_amount=Money(order.currency, ret.refund_amount), created_at=ret.created_at,
    )
