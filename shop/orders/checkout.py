"""Checkout: the customer's cart, address and shipping method become an order awaiting payment,
with its stock reserved, in one transaction.

Physical goods need a shipping method; the delivery address may be left out only for a
method that needs none (pickup at the shop), and such an order has no address at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shop.auth import CustomerActor
from shop.cart import promo
from shop.cart.models import Cart
from shop.cart.service import load_cart
from shop.cart.types import CartView
from shop.customers.service import address_for
from shop.errors import (
    CartEmpty,
    InputReason,
    InvalidInput,
    NotFound,
    OutOfStock,
    ShippingUnavailable,
)
from shop.events.outbox import Topic, publish
from shop.money import Money
from shop.orders import stock_moves, transitions
from shop.orders.models import Counter, Order, OrderLine
from shop.orders.states import OrderStatus
from shop.shipping.rates import quote


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    customer_id: int
    address_id: int | None = None       # not needed for digital goods, nor for pickup
    shipping_method_id: int | None = None  # needed unless every item is digital
    language: str = "en"


def checkout_key(cart: CartView, request: CheckoutRequest) -> str:
    """One order per cart state, address and shipping method: a double tap finds the
    order the first tap made; another address or method makes a new one."""
    return (f"cart:{cart.cart_id}:{cart.version}:{request.address_id or 0}:"
            f"{request.shipping_method_id or 0}")


async def existing_order(session: AsyncSession, key: str) -> Order | None:
    return (await session.execute(select(Order).where(Order.checkout_key == key))
            ).scalar_one_or_none()


async def next_order_number(session: AsyncSession) -> int:
    """The next human order number (#1001, #1002 …).

    PostgreSQL uses a sequence, so concurrent checkouts never wait on each other
    for a number (a rolled-back checkout leaves a gap, which is harmless); SQLite
    serializes writers anyway and uses a counter row.
    """
    if session.get_bind().dialect.name == "postgresql":
        return int((await session.execute(text("SELECT nextval('order_number_seq')"))
                    ).scalar_one())
    return int((await session.execute(
        update(Counter).where(Counter.name == "order_number")
        .values(value=Counter.value + 1).returning(Counter.value)
    )).scalar_one())


async def place_order(session: AsyncSession, request: CheckoutRequest, *, now: datetime,
                      reservation_minutes: int, currency: str) -> tuple[Order, bool]:
    """Create the order (or find the one this cart state already made); returns (order, new).

    The caller owns the transaction: if anything here raises, nothing of the
    order, its reservations or its promo redemption remains.
    """
    actor = CustomerActor(request.customer_id)
    cart = await load_cart(session, request.customer_id, now=now, currency=currency)
    if not cart.lines:
        raise CartEmpty()
    key = checkout_key(cart, request)
    found = await existing_order(session, key)
    if found is not None and (found.status != OrderStatus.CANCELLED or found.paid_at):
        return found, False
    if found is not None:
        # This cart state's order was cancelled or expired unpaid: checking out again
        # means a new order, so the cart moves to a new state (and a new key).
        await session.execute(update(Cart).where(Cart.id == cart.cart_id)
                              .values(version=Cart.version + 1))
        cart = await load_cart(session, request.customer_id, now=now, currency=currency)
        key = checkout_key(cart, request)
    if await _cancel_superseded(session, cart, actor):
        # Their units are back in stock: look at the cart's availability again.
        cart = await load_cart(session, request.customer_id, now=now, currency=currency)
    problem = next((line for line in cart.lines if not line.ok), None)
    if problem is not None:
        if problem.unit_price.currency != cart.currency:
            raise InvalidInput(f"{problem.title}: {problem.issue}", field="currency",
                               reason=InputReason.CURRENCY, title=problem.title,
                               currency=problem.unit_price.currency,
                               shop_currency=cart.currency)
        if problem.issue == "no longer available":
            raise NotFound(what="product", ref=problem.product_id, title=problem.title)
        raise OutOfStock(title=problem.title, available=max(problem.available, 0),
                         requested=problem.quantity)
    discount = 0
    promo_id = None
    if cart.promo_code:
        promo_info = await promo.find_promo(session, cart.promo_code)
        discount = await promo.evaluate(session, promo_info, customer_id=request.customer_id,
                                        subtotal=cart.subtotal, now=now)
        promo_id = promo_info.id
    goods_total = cart.subtotal.minor - discount

    order = Order(
        customer_id=request.customer_id, status=OrderStatus.AWAITING_PAYMENT,
        checkout_key=key, currency=cart.currency, subtotal=cart.subtotal.minor,
        discount=discount, promo_code=cart.promo_code, digital_only=cart.digital_only,
        language=request.language, stock_state="reserved",
        expires_at=now + timedelta(minutes=reservation_minutes),
        created_at=now,
    )
    shipping_total = 0
    if not cart.digital_only:
        if request.shipping_method_id is None:
            raise InvalidInput("a delivery address and a shipping method are needed",
                               field="shipping_method", reason=InputReason.REQUIRED)
        address = None
        if request.address_id is not None:
            address = await address_for(session, request.customer_id, request.address_id)
        try:
            shipping = await quote(session, request.shipping_method_id,
                                   country=address.country if address else None,
                                   weight_grams=cart.weight_grams,
                                   goods_total=Money(cart.currency, goods_total))
        except ShippingUnavailable as refused:
            if refused.reason != "needs_address":
                raise
            raise InvalidInput(f"a delivery address is needed for {refused.params['method']}",
                               field="address", reason=InputReason.REQUIRED,
                               method=refused.params["method"]) from None
        shipping_total = shipping.price.minor
        order.shipping_method_id = shipping.method_id
        order.shipping_method_name = shipping.name
        if address is not None:
            order.ship_name, order.ship_street, order.ship_city = (
                address.name, address.street, address.city)
            order.ship_postcode, order.ship_country, order.ship_phone = (
                address.postcode, address.country, address.phone)
    order.shipping_total = shipping_total
    order.total = goods_total + shipping_total

    order.lines = [
        OrderLine(variant_id=line.variant_id, product_id=line.product_id, sku=line.sku,
                  title=line.title, options=line.options, unit_price=line.unit_price.minor,
                  quantity=line.quantity, weight_grams=line.weight_grams, digital=line.digital)
        for line in cart.lines
    ]
    order.number = await next_order_number(session)
    await stock_moves.reserve(session, order, order.lines)
    session.add(order)
    await session.flush()
    if promo_id is not None:
        await promo.redeem(session, promo_id, customer_id=request.customer_id,
                           order_id=order.id)
    transitions.record(session, order, "placed", actor, to_status=OrderStatus.AWAITING_PAYMENT)
    publish(session, Topic.ORDER_PLACED, {
        "order_id": order.id, "number": order.number, "customer_id": order.customer_id,
        "total": order.total, "currency": order.currency,
        "expires_at": order.expires_at.isoformat() if order.expires_at else None,
    })
    return order, True


async def _cancel_superseded(session: AsyncSession, cart: CartView, actor: CustomerActor
                             ) -> bool:
    """Unpaid orders from earlier states of this cart give their stock back.

    The customer changed the cart and checked out again: the older invoice must
    not keep holding units the new order needs.
    """
    prefix = f"cart:{cart.cart_id}:"
    stale = (await session.execute(
        select(Order).where(Order.customer_id == actor.customer_id,
                            Order.checkout_key.like(prefix + "%"),
                            Order.status == OrderStatus.AWAITING_PAYMENT)
        .with_for_update()
    )).scalars().all()
    for order in stale:
        await session.refresh(order, ["lines"])
        await transitions.cancel_unpaid(session, order, actor, "replaced by a newer checkout")
    return bool(stale)
