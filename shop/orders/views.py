"""Turning order and return rows into the plain views callers get."""

from __future__ import annotations

from sqlalchemy import func, select
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
from shop.payments.models import Payment


def line_view(line: OrderLine, currency: str) -> OrderLineView:
    return OrderLineView(
        id=line.id, variant_id=line.variant_id, sku=line.sku, title=line.title,
        options=line.options, unit_price=Money(currency, line.unit_price),
        quantity=line.quantity, line_total=Money(currency, line.unit_price * line.quantity),
        digital=line.digital,
    )


async def order_view(session: AsyncSession, order: Order) -> OrderView:
    """The full view: lines, money paid and refunded (in the order's currency), history."""
    history = (await session.execute(
        select(OrderHistory).where(OrderHistory.order_id == order.id)
        .order_by(OrderHistory.id))).scalars().all()
    paid, refunded = (await session.execute(
        select(func.coalesce(func.sum(Payment.amount), 0),
               func.coalesce(func.sum(Payment.refunded), 0))
        .where(Payment.order_id == order.id, Payment.currency == order.currency)
    )).one()
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
        total=Money(c, order.total), paid=Money(c, int(paid)), refunded=Money(c, int(refunded)),
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
