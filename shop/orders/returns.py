"""Returns: a customer asks to send back delivered lines; staff approve or reject, receive the
goods (back into stock) and refund them. Every step is an event and a line in the history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.auth import Actor, CustomerActor, Permission, require
from shop.db.base import utcnow
from shop.errors import IllegalTransition, InputReason, InvalidInput, NotFound, NotYourOrder
from shop.events.outbox import Topic, publish
from shop.orders import stock_moves, transitions
from shop.orders.models import Order, Return, ReturnLine
from shop.orders.states import OrderAction
from shop.orders.types import ReturnView
from shop.orders.views import return_view
from shop.payments.refunds import RefundResult
from shop.payments.service import PaymentService

MAX_REASON = 1000
MAX_PHOTOS = 10


@dataclass(frozen=True, slots=True)
class ReturnItem:
    order_line_id: int
    quantity: int


class ReturnService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], payments: PaymentService, *,
                 window_days: int, notify: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._payments = payments
        self._window = timedelta(days=window_days)
        self._notify = notify
        self._clock = clock

    async def request(self, actor: CustomerActor, order_id: int, items: Sequence[ReturnItem],
                      reason: str, photo_ids: Sequence[str] = ()) -> ReturnView:
        """Ask to return delivered lines within the return window."""
        reason = reason.strip()
        if not reason:
            raise InvalidInput("please say why you are returning the items", field="reason",
                               reason=InputReason.REQUIRED)
        if len(reason) > MAX_REASON:
            raise InvalidInput(f"the reason is too long (at most {MAX_REASON} characters)",
                               field="reason", reason=InputReason.TOO_LONG,
                               max_length=MAX_REASON)
        if len(photo_ids) > MAX_PHOTOS or any(not p or len(p) > 255 for p in photo_ids):
            raise InvalidInput(f"at most {MAX_PHOTOS} photos can go with a return",
                               field="photos", reason=InputReason.TOO_MANY, limit=MAX_PHOTOS)
        if not items:
            raise InvalidInput("choose at least one item to return", field="items",
                               reason=InputReason.REQUIRED)
        now = self._clock()
        async with self._sessions.begin() as session:
            order = await transitions.load_order(session, order_id, actor=actor)
            # Orders never delivered are refused by the state machine below.
            if order.delivered_at is not None and now > order.delivered_at + self._window:
                raise IllegalTransition(
                    f"the {self._window.days}-day return window for order #{order.number} "
                    "has closed", current=order.status, action="request_return",
                    reason="return_window", days=self._window.days, number=order.number)
            returnable = await _returnable(session, order)
            wanted: dict[int, int] = {}
            for item in items:
                if item.order_line_id not in returnable:
                    raise InvalidInput("that item is not part of this order", field="item",
                                       reason=InputReason.NOT_IN_ORDER)
                if item.quantity <= 0:
                    raise InvalidInput("the quantity to return must be at least 1",
                                       field="return_quantity", reason=InputReason.OUT_OF_RANGE,
                                       minimum=1)
                wanted[item.order_line_id] = wanted.get(item.order_line_id, 0) + item.quantity
            for line_id, quantity in wanted.items():
                if quantity > returnable[line_id]:
                    raise InvalidInput(f"only {returnable[line_id]} of that item can still be "
                                       "returned", field="return_quantity",
                                       reason=InputReason.TOO_MANY, limit=returnable[line_id])
            transitions.change_status(session, order, OrderAction.REQUEST_RETURN, actor, reason)
            ret = Return(order_id=order.id, customer_id=order.customer_id, status="requested",
                         reason=reason, photo_ids=list(photo_ids), created_at=now)
            ret.lines = [ReturnLine(order_line_id=k, quantity=v) for k, v in wanted.items()]
            session.add(ret)
            await session.flush()
            view = await return_view(session, ret, order)
            publish(session, Topic.RETURN_REQUESTED, {
                "return_id": ret.id, "order_id": order.id, "number": order.number,
                "customer_id": order.customer_id, "reason": reason,
                "photo_ids": list(photo_ids), "value": view.value.minor,
                "currency": order.currency,
                "lines": [{"title": line.title, "options": line.options,
                           "quantity": line.quantity} for line in view.lines],
            })
        self._notify()
        return view

    async def approve(self, actor: Actor, return_id: int, note: str = "") -> ReturnView:
        return await self._decide(actor, return_id, "approved", OrderAction.APPROVE_RETURN, note)

    async def reject(self, actor: Actor, return_id: int, note: str) -> ReturnView:
        if not note.strip():
            raise InvalidInput("tell the customer why the return is rejected", field="note",
                               reason=InputReason.REQUIRED)
        return await self._decide(actor, return_id, "rejected", OrderAction.REJECT_RETURN, note)

    async def receive(self, actor: Actor, return_id: int) -> ReturnView:
        """The goods came back: they go back into stock."""
        require(actor, Permission.RETURNS)
        async with self._sessions.begin() as session:
            ret, order = await _load(session, return_id, actor)
            _expect(ret, "approved", "received")
            await session.refresh(ret, ["lines"])
            by_id = {line.id: line for line in order.lines}
            await stock_moves.give_back(
                session, order, ((by_id[rl.order_line_id], rl.quantity) for rl in ret.lines),
                reason="returned from order", actor=actor.label)
            self._set(session, ret, order, "received", OrderAction.RECEIVE_RETURN, actor, "")
            view = await return_view(session, ret, order)
        self._notify()
        return view

    async def refund(self, actor: Actor, return_id: int, amount: int | None = None
                     ) -> tuple[ReturnView, RefundResult]:
        """Refund a received return: by default what the returned lines cost."""
        require(actor, Permission.RETURNS)
        async with self._sessions() as session:
            ret, order = await _load(session, return_id, actor, lock=False)
            _expect(ret, "received", "refunded")
            value = (await return_view(session, ret, order)).value.minor
        result = await self._payments.refund(actor, order.id, value if amount is None else amount,
                                             f"return {return_id}", Permission.RETURNS)
        async with self._sessions.begin() as session:
            ret, order = await _load(session, return_id, actor)
            if ret.status == "received":
                ret.refund_amount = result.refunded.minor
                self._set(session, ret, order, "refunded", OrderAction.REFUND_RETURN, actor,
                          str(result.refunded))
            view = await return_view(session, ret, order)
        self._notify()
        return view, result

    async def get(self, actor: Actor, return_id: int) -> ReturnView:
        async with self._sessions() as session:
            ret, order = await _load(session, return_id, actor, lock=False)
            return await return_view(session, ret, order)

    async def list(self, actor: Actor, *, status: str | None = None, limit: int = 20
                   ) -> list[ReturnView]:
        """Newest first; a customer sees their own returns, staff all of them."""
        query = select(Return).order_by(Return.created_at.desc(), Return.id.desc()).limit(
            max(1, min(limit, 100)))
        if isinstance(actor, CustomerActor):
            query = query.where(Return.customer_id == actor.customer_id)
        if status:
            query = query.where(Return.status == status)
        async with self._sessions() as session:
            views = []
            for ret in (await session.execute(query)).scalars().all():
                order = await transitions.load_order(session, ret.order_id, lock=False)
                views.append(await return_view(session, ret, order))
            return views

    async def _decide(self, actor: Actor, return_id: int, status: str, action: OrderAction,
                      note: str) -> ReturnView:
        require(actor, Permission.RETURNS)
        async with self._sessions.begin() as session:
            ret, order = await _load(session, return_id, actor)
            _expect(ret, "requested", status)
            ret.staff_note = note.strip()[:MAX_REASON]
            self._set(session, ret, order, status, action, actor, ret.staff_note)
            view = await return_view(session, ret, order)
        self._notify()
        return view

    def _set(self, session: AsyncSession, ret: Return, order: Order, status: str,
             action: OrderAction, actor: Actor, note: str) -> None:
        before = ret.status
        ret.status = status
        transitions.change_status(session, order, action, actor, note)
        publish(session, Topic.RETURN_STATUS_CHANGED, {
            "return_id": ret.id, "order_id": order.id, "number": order.number,
            "customer_id": order.customer_id, "from": before, "to": status, "note": note,
            "actor": actor.label,
        })


async def _load(session: AsyncSession, return_id: int, actor: Actor, *, lock: bool = True
                ) -> tuple[Return, Order]:
    query = select(Return).where(Return.id == return_id)
    ret = (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
    if ret is None:
        raise NotFound(f"return {return_id} does not exist", what="return", ref=return_id)
    if isinstance(actor, CustomerActor) and ret.customer_id != actor.customer_id:
        raise NotYourOrder(f"return {return_id} is not one of your returns", what="return",
                           ref=return_id)
    return ret, await transitions.load_order(session, ret.order_id, lock=lock)


def _expect(ret: Return, current: str, target: str) -> None:
    if ret.status != current:
        raise IllegalTransition(f"a return that is {ret.status} cannot be {target}",
                                current=ret.status, action=target, subject="return")


async def _returnable(session: AsyncSession, order: Order) -> dict[int, int]:
    """Per order line, how many units are not already in a (non-rejected) return."""
    taken = dict((await session.execute(
        select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity))
        .join(Return, Return.id == ReturnLine.return_id)
        .where(Return.order_id == order.id, Return.status != "rejected")
        .group_by(ReturnLine.order_line_id))).tuples().all())
    return {line.id: line.quantity - int(taken.get(line.id, 0)) for line in order.lines}
