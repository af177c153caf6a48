"""The order use cases, each in its own transaction, with who-may-do-what checked here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.auth import Actor, CustomerActor, Permission, SystemActor, require
from shop.db.base import utcnow
from shop.errors import InputReason, InvalidInput, NotAllowed, NotFound
from shop.orders import transitions
from shop.orders.checkout import CheckoutRequest, existing_order, place_order
from shop.orders.models import Order, OrderLine
from shop.orders.queries import find_due_for_expiry
from shop.orders.states import OrderAction, OrderStatus
from shop.orders.types import OrderSummary, OrderView
from shop.orders.views import order_summary, order_view
from shop.payments.refunds import RefundResult
from shop.payments.service import PaymentService

log = logging.getLogger(__name__)
MAX_PAGE_SIZE = 50


class OrderService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], payments: PaymentService, *,
                 reservation_minutes: int, currency: str, notify: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._payments = payments
        self._reservation_minutes = reservation_minutes
        self._currency = currency
        self._notify = notify
        self._clock = clock

    async def checkout(self, request: CheckoutRequest) -> OrderView:
        """Turn the customer's cart into an order awaiting payment, its stock reserved.

        Checking out again with the same cart (a double tap) returns the same order.
        Raises CartEmpty, OutOfStock, PromoInvalid, ShippingUnavailable, InvalidInput.
        """
        try:
            async with self._sessions.begin() as session:
                order, created = await place_order(
                    session, request, now=self._clock(),
                    reservation_minutes=self._reservation_minutes, currency=self._currency)
        except IntegrityError:
            # A concurrent tap created the order for this cart state first.
            async with self._sessions() as session:
                from shop.cart.service import load_cart
                from shop.orders.checkout import checkout_key

                cart = await load_cart(session, request.customer_id, now=self._clock(),
                                       currency=self._currency)
                found = await existing_order(session, checkout_key(cart, request))
                if found is None:
                    raise
                return await order_view(session, found)
        if created:
            self._notify()
        async with self._sessions() as session:
            return await order_view(session, await transitions.load_order(
                session, order.id, lock=False))

    async def order(self, actor: Actor, order_id: int) -> OrderView:
        """One order; customers only reach their own (NotYourOrder otherwise)."""
        async with self._sessions() as session:
            order = await transitions.load_order(session, order_id, actor=actor, lock=False)
            return await order_view(session, order)

    async def order_by_number(self, actor: Actor, number: int) -> OrderView:
        async with self._sessions() as session:
            order_id = await session.scalar(select(Order.id).where(Order.number == number))
        if order_id is None:
            raise NotFound(f"order #{number} does not exist", what="order", ref=number)
        return await self.order(actor, order_id)

    async def orders(self, actor: Actor, *, statuses: tuple[OrderStatus, ...] = (),
                     page: int = 1, page_size: int = 10) -> list[OrderSummary]:
        """Newest first; a customer gets their own orders, staff anyone's."""
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidInput("page must be 1 or more and page size 1 to 50", field="page",
                               reason=InputReason.OUT_OF_RANGE, minimum=1,
                               maximum=MAX_PAGE_SIZE)
        query = select(Order, func.coalesce(
            select(func.sum(OrderLine.quantity)).where(OrderLine.order_id == Order.id)
            .scalar_subquery(), 0))
        if isinstance(actor, CustomerActor):
            query = query.where(Order.customer_id == actor.customer_id)
        if statuses:
            query = query.where(Order.status.in_([str(s) for s in statuses]))
        query = query.order_by(Order.created_at.desc(), Order.id.desc()).offset(
            (page - 1) * page_size).limit(page_size)
        async with self._sessions() as session:
            return [order_summary(o, int(n)) for o, n in (await session.execute(query)).tuples()]

    async def confirm(self, actor: Actor, order_id: int) -> OrderView:
        require(actor, Permission.ORDERS)
        return await self._act(order_id, lambda s, o: transitions.confirm(s, o, actor))

    async def ship(self, actor: Actor, order_id: int, *, carrier: str, tracking_number: str,
                   tracking_url: str | None = None) -> OrderView:
        require(actor, Permission.ORDERS)
        return await self._act(order_id, lambda s, o: transitions.ship(
            s, o, actor, carrier=carrier, tracking_number=tracking_number,
            tracking_url=tracking_url))

    async def deliver(self, actor: Actor, order_id: int) -> OrderView:
        require(actor, Permission.ORDERS)
        now = self._clock()
        return await self._act(order_id, lambda s, o: transitions.deliver(s, o, actor, now))

    async def cancel(self, actor: Actor, order_id: int, *, reason: str = "",
                     refund_amount: int | None = None) -> tuple[OrderView, RefundResult | None]:
        """Cancel an order. Customers may cancel their own unpaid orders; staff with the
        orders permission may cancel paid or confirmed ones, refunding all (default) or
        `refund_amount`. Stock goes back either way."""
        if not isinstance(actor, CustomerActor):
            require(actor, Permission.ORDERS)
        note = reason.strip()[:500] or "cancelled"
        paid = False
        async with self._sessions.begin() as session:
            order = await transitions.load_order(session, order_id, actor=actor)
            if order.status == OrderStatus.AWAITING_PAYMENT:
                await transitions.cancel_unpaid(session, order, actor, note)
            else:
                if isinstance(actor, CustomerActor) and order.status in (
                        OrderStatus.PAID, OrderStatus.CONFIRMED):
                    raise NotAllowed("a paid order can only be cancelled by the shop; "
                                     "please write to support", reason="paid_order",
                                     number=order.number, status=order.status)
                transitions.change_status(session, order, OrderAction.CANCEL, actor, note)
                await transitions.release_reservation(session, order, actor, "cancelled order")
                paid = order.paid_at is not None
        self._notify()
        refund = None
        if paid and refund_amount != 0:
            refund = await self._payments.refund(actor, order_id, refund_amount,
                                                 f"order cancelled: {note}")
        return await self.order(actor, order_id), refund

    async def expire_due(self, limit: int = 200) -> int:
        """Cancel unpaid orders whose reservation ran out, releasing their stock."""
        now = self._clock()
        actor = SystemActor("reservations")
        async with self._sessions() as session:
            due = await find_due_for_expiry(session, now, limit)
        expired = 0
        for order_id in due:
            async with self._sessions.begin() as session:
                order = await transitions.load_order(session, order_id)
                # Paid or cancelled meanwhile: the conditional check under lock decides.
                if (order.status != OrderStatus.AWAITING_PAYMENT or order.expires_at is None
                        or order.expires_at > now):
                    continue
                await transitions.expire(session, order, actor)
                expired += 1
        if expired:
            log.info("released the reservations of %d expired orders", expired)
            self._notify()
        return expired

    async def _act(self, order_id: int,
                   change: Callable[[AsyncSession, Order], None]) -> OrderView:
        async with self._sessions.begin() as session:
            order = await transitions.load_order(session, order_id)
            change(session, order)
        self._notify()
        async with self._sessions() as session:
            return await order_view(session, await transitions.load_order(
                session, order_id, lock=False))
