"""One function per thing that happens to an order; each checks the state, writes the change,
records the history and appends the event in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shop.auth import Actor, CustomerActor
from shop.errors import InputReason, InvalidInput, NotFound, NotYourOrder
from shop.events.outbox import Topic, publish
from shop.orders import stock_moves
from shop.orders.models import Order, OrderHistory
from shop.orders.states import OrderAction, OrderStatus, next_status
from shop.staff.audit import audit


async def load_order(session: AsyncSession, order_id: int, *, actor: Actor | None = None,
                     lock: bool = True) -> Order:
    """The order row (locked for update), checking a customer only reaches their own."""
    query = select(Order).where(Order.id == order_id).options(selectinload(Order.lines))
    if lock:
        query = query.with_for_update()
    order = (await session.execute(query)).scalar_one_or_none()
    # The same answer for "missing" and "someone else's", so ids cannot be probed.
    if order is None or (isinstance(actor, CustomerActor)
                         and order.customer_id != actor.customer_id):
        if order is not None:
            raise NotYourOrder(f"order {order_id} is not one of your orders", ref=order_id)
        raise NotFound(f"order {order_id} does not exist", what="order", ref=order_id)
    return order


def record(session: AsyncSession, order: Order, kind: str, actor: Actor | str, note: str = "",
           from_status: str | None = None, to_status: str | None = None) -> None:
    """Add a line to the order's timeline; `actor` may be a stored actor label."""
    label = actor if isinstance(actor, str) else actor.label
    session.add(OrderHistory(order_id=order.id, kind=kind, from_status=from_status,
                             to_status=to_status, actor=label, note=note[:2000]))


def change_status(session: AsyncSession, order: Order, action: OrderAction, actor: Actor,
                  note: str = "") -> OrderStatus:
    """Move the order along DESIGN.md's state machine; IllegalTransition otherwise."""
    before = order.status
    after = next_status(before, action)
    order.status = after
    record(session, order, str(action), actor, note, before, after)
    audit(session, actor, f"order.{action}", f"order:{order.number}", {"status": before},
          {"status": str(after), **({"note": note} if note else {})})
    publish(session, Topic.ORDER_STATUS_CHANGED, {
        "order_id": order.id, "number": order.number, "customer_id": order.customer_id,
        "from": before, "to": str(after), "action": str(action), "actor": actor.label,
        "note": note,
    })
    return after


async def release_reservation(session: AsyncSession, order: Order, actor: Actor,
                              reason: str) -> None:
    """Give reserved or committed units back to stock, once per order."""
    if order.stock_state not in ("reserved", "committed"):
        return
    await stock_moves.give_back(session, order, ((line, line.quantity) for line in order.lines),
                                reason=reason, actor=actor.label)
    order.stock_state = "released"


async def expire(session: AsyncSession, order: Order, actor: Actor) -> None:
    """An unpaid order whose reservation ran out: stock and promo code released."""
    from shop.cart.promo import release as release_promo

    change_status(session, order, OrderAction.EXPIRE, actor, "reservation expired")
    await release_reservation(session, order, actor, "reservation expired for order")
    await release_promo(session, order.id)


async def cancel_unpaid(session: AsyncSession, order: Order, actor: Actor, note: str) -> None:
    from shop.cart.promo import release as release_promo

    change_status(session, order, OrderAction.CANCEL, actor, note)
    await release_reservation(session, order, actor, "cancelled order")
    await release_promo(session, order.id)


def confirm(session: AsyncSession, order: Order, actor: Actor) -> None:
    change_status(session, order, OrderAction.CONFIRM, actor)


def ship(session: AsyncSession, order: Order, actor: Actor, *, carrier: str,
         tracking_number: str, tracking_url: str | None) -> None:
    carrier, tracking_number = carrier.strip(), tracking_number.strip()
    if not carrier or len(carrier) > 100:
        raise InvalidInput("a carrier name of 1 to 100 characters is needed", field="carrier",
                           reason=InputReason.FORMAT, max_length=100)
    if not tracking_number or len(tracking_number) > 100 or any(c.isspace() for c in
                                                                 tracking_number):
        raise InvalidInput("a tracking number of 1 to 100 characters without spaces is needed",
                           field="tracking_number", reason=InputReason.FORMAT, max_length=100)
    url = (tracking_url or "").strip() or None
    if url is not None and (not url.startswith(("https://", "http://")) or len(url) > 2000):
        raise InvalidInput("a tracking link must be an http(s) URL", field="tracking_url",
                           reason=InputReason.FORMAT)
    order.carrier, order.tracking_number, order.tracking_url = carrier, tracking_number, url
    change_status(session, order, OrderAction.SHIP, actor,
                  f"{carrier} {tracking_number}")


def deliver(session: AsyncSession, order: Order, actor: Actor, now: datetime) -> None:
    change_status(session, order, OrderAction.DELIVER, actor)
    order.delivered_at = now
