"""The customer's cart: persistent, one per customer, created with the first item.

Quantities are whole numbers from 1 to 99 per line (`MAX_LINE_QUANTITY`),
checked against the stock available for sale when they are set. Stock may
drop afterwards: the cart keeps such lines and flags them, and the checkout
re-checks stock atomically when it reserves.

Units that an unpaid order from this same cart holds count as available to
it: the customer who goes back to change the cart after starting a checkout
must not see their own reservation as "sold out" (checking out again
releases that order first).

Every change bumps `Cart.version` (the checkout keys its order on cart id and
version); a request that changes nothing does not.

`load_cart` and `clear_cart` work inside a session the caller owns, for the
checkout's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.cart.models import Cart, CartItem, PromoCode
from shop.cart.promo import evaluate, find_promo, promo_info
from shop.cart.types import MAX_LINE_QUANTITY, CartLine, CartView
from shop.catalog.queries import (
    FIRST_IMAGE,
    OPTION_NAMES,
    PRODUCTS,
    VARIANT_COLUMNS,
    VARIANT_WIDTH,
    VARIANTS,
    variant_from_row,
)
from shop.customers.models import Customer
from shop.db.base import utcnow
from shop.db.engine import read_only
from shop.errors import InputReason, InvalidInput, NotFound, OutOfStock, PromoInvalid
from shop.money import Money
from shop.orders.models import Order, OrderLine
from shop.reports.funnel import FunnelStep, record_step


def _empty(currency: str) -> CartView:
    zero = Money(currency, 0)
    return CartView(None, 0, currency, (), zero, zero, zero, None, None, 0, False, 0)


def _issue(active: bool, price_currency: str, quantity: int, currency: str,
           available: int) -> str | None:
    if not active:
        return "no longer available"
    if price_currency != currency:
        return f"priced in {price_currency}"
    if available <= 0:
        return "sold out"
    if available < quantity:
        return f"only {available} left"
    return None


# The cart is read on every change and view, so its statements are Core, built once, and
# return plain rows (the ORM's entities cost several times as much CPU here).
_ORDERS = Order.__table__
_ORDER_LINES = OrderLine.__table__
_ITEMS = cast(Table, CartItem.__table__)
_CARTS = cast(Table, Cart.__table__)


@dataclass(slots=True)
class _Cart:
    id: int
    customer_id: int
    version: int
    promo_code_id: int | None


_CART_OF = select(_CARTS.c.id, _CARTS.c.customer_id, _CARTS.c.version,
                  _CARTS.c.promo_code_id).where(_CARTS.c.customer_id == bindparam("customer_id"))
_CART_OF_LOCKED = _CART_OF.with_for_update()
_NEW_CART = insert(_CARTS).returning(_CARTS.c.id)
_SAVE_CART = (update(_CARTS).where(_CARTS.c.id == bindparam("cart_id"))
              .values(version=bindparam("new_version"), promo_code_id=bindparam("new_promo"),
                      updated_at=bindparam("now")))
_HELD_BY_CART = (
    select(_ORDER_LINES.c.variant_id, func.sum(_ORDER_LINES.c.quantity))
    .join_from(_ORDER_LINES, _ORDERS, _ORDERS.c.id == _ORDER_LINES.c.order_id)
    # The customer filter lets the database use its index on orders' customer.
    .where(_ORDERS.c.customer_id == bindparam("customer_id"),
           _ORDERS.c.checkout_key.like(bindparam("checkout_keys")),
           _ORDERS.c.status == "awaiting_payment", _ORDER_LINES.c.variant_id.is_not(None))
    .group_by(_ORDER_LINES.c.variant_id)
)


async def _held_by_cart(session: AsyncSession, cart: _Cart) -> dict[int, int]:
    """Units per variant reserved by this cart's own unpaid orders."""
    rows = await session.execute(_HELD_BY_CART, {"customer_id": cart.customer_id,
                                                 "checkout_keys": f"cart:{cart.id}:%"})
    return {int(v): int(q) for v, q in rows.tuples().all() if v is not None}


# Each row: the quantity, the variant (VARIANT_COLUMNS), its product's option names, the
# product's title and whether it is on sale, and its first image.
_LINES = (
    select(_ITEMS.c.quantity, *VARIANT_COLUMNS, *OPTION_NAMES, PRODUCTS.c.title,
           PRODUCTS.c.active, FIRST_IMAGE)
    .join_from(_ITEMS, VARIANTS, VARIANTS.c.id == _ITEMS.c.variant_id)
    .join(PRODUCTS, PRODUCTS.c.id == VARIANTS.c.product_id)
    .where(_ITEMS.c.cart_id == bindparam("cart_id"))
    .order_by(_ITEMS.c.added_at, _ITEMS.c.id)
)
_VARIANT_FOR_SALE = (
    select(VARIANTS.c.stock, VARIANTS.c.currency, PRODUCTS.c.id, PRODUCTS.c.title,
           PRODUCTS.c.active)
    .join_from(VARIANTS, PRODUCTS, PRODUCTS.c.id == VARIANTS.c.product_id)
    .where(VARIANTS.c.id == bindparam("variant_id"))
)
_ITEM = select(_ITEMS.c.id, _ITEMS.c.quantity).where(
    _ITEMS.c.cart_id == bindparam("cart_id"), _ITEMS.c.variant_id == bindparam("variant_id"))
_INSERT_ITEM = insert(_ITEMS)
_SET_ITEM_QUANTITY = (update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id"))
                      .values(quantity=bindparam("quantity")))
_DELETE_ITEM = delete(_ITEMS).where(_ITEMS.c.id == bindparam("item_id"))


def _line(row: Row[Any], currency: str, held: dict[int, int]) -> CartLine:
    quantity = int(row[0])
    product = 1 + VARIANT_WIDTH + len(OPTION_NAMES)  # where the product's columns start
    info = variant_from_row(row[1:1 + VARIANT_WIDTH], row[1 + VARIANT_WIDTH:product])
    title, active, image = str(row[product]), bool(row[product + 1]), row[product + 2]
    available = info.stock + held.get(info.id, 0) if active else 0
    return CartLine(
        variant_id=info.id,
        product_id=info.product_id,
        sku=info.sku,
        title=title,
        options=" / ".join(value for _, value in info.options),
        unit_price=info.price,
        quantity=quantity,
        line_total=info.price.times(quantity),
        weight_grams=info.weight_grams,
        digital=info.digital,
        available=available,
        issue=_issue(active, info.price.currency, quantity, currency, available),
        image_url=info.image_url or image,
    )


async def _view(session: AsyncSession, cart: _Cart, *, now: datetime, currency: str,
                held: dict[int, int] | None = None) -> CartView:
    """`held`: `_held_by_cart` when the caller has just read it in this transaction."""
    rows = (await session.execute(_LINES, {"cart_id": cart.id})).all()
    if held is None:
        held = await _held_by_cart(session, cart) if rows else {}
    lines = tuple(_line(row, currency, held) for row in rows)
    # Lines priced in another currency cannot be added up; they carry an issue
    # and checkout refuses them.
    subtotal = Money(currency, sum(line.line_total.minor for line in lines
                                   if line.unit_price.currency == currency))
    discount, code, problem, refusal = 0, None, None, None
    if cart.promo_code_id is not None:
        row = await session.get(PromoCode, cart.promo_code_id)
        if row is not None:
            code = row.code
            try:
                discount = await evaluate(session, promo_info(row), customer_id=cart.customer_id,
                                          subtotal=subtotal, now=now)
            except PromoInvalid as refused:
                problem, refusal = refused.message, refused
    discount = min(discount, subtotal.minor)
    return CartView(
        cart_id=cart.id,
        version=cart.version,
        currency=currency,
        lines=lines,
        subtotal=subtotal,
        discount=Money(currency, discount),
        total=Money(currency, subtotal.minor - discount),
        promo_code=code,
        promo_problem=problem,
        weight_grams=sum(line.weight_grams * line.quantity for line in lines),
        digital_only=bool(lines) and all(line.digital for line in lines),
        item_count=sum(line.quantity for line in lines),
        promo_error=refusal,
    )


async def _cart(session: AsyncSession, customer_id: int, *, lock: bool) -> _Cart | None:
    # Row lock on PostgreSQL so concurrent changes to one cart queue up; SQLite's BEGIN
    # IMMEDIATE already serializes writers.
    row = (await session.execute(_CART_OF_LOCKED if lock else _CART_OF,
                                 {"customer_id": customer_id})).one_or_none()
    return None if row is None else _Cart(*row)


async def _cart_for_change(session: AsyncSession, customer_id: int) -> _Cart:
    cart = await _cart(session, customer_id, lock=True)
    if cart is not None:
        return cart
    if await session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} does not exist", what="customer",
                       ref=customer_id)
    try:
        async with session.begin_nested():
            cart_id = (await session.execute(_NEW_CART, {"customer_id": customer_id,
                                                         "version": 0, "updated_at": utcnow()})
                       ).scalar_one()
        return _Cart(int(cart_id), customer_id, 0, None)
    except IntegrityError:
        # A concurrent first change created it; use that one.
        cart = await _cart(session, customer_id, lock=True)
        if cart is None:
            raise
        return cart


async def _bump(session: AsyncSession, cart: _Cart) -> None:
    """Save the change to the cart's promo code, if any, with a new version."""
    cart.version += 1
    await session.execute(_SAVE_CART, {"cart_id": cart.id, "new_version": cart.version,
                                       "new_promo": cart.promo_code_id, "now": utcnow()})


async def _item(session: AsyncSession, cart_id: int, variant_id: int
                ) -> tuple[int, int] | None:
    """The cart's line of this variant: (item id, quantity)."""
    row = (await session.execute(_ITEM, {"cart_id": cart_id, "variant_id": variant_id})
           ).one_or_none()
    return None if row is None else (int(row[0]), int(row[1]))


async def _set_line(session: AsyncSession, cart_id: int, variant_id: int,
                    item: tuple[int, int] | None, quantity: int) -> None:
    if item is None:
        await session.execute(_INSERT_ITEM, {"cart_id": cart_id, "variant_id": variant_id,
                                             "quantity": quantity, "added_at": utcnow()})
    else:
        await session.execute(_SET_ITEM_QUANTITY, {"item_id": item[0], "quantity": quantity})


def _check_quantity(quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidInput("a quantity is a whole number of 1 or more", field="quantity",
                           reason=InputReason.OUT_OF_RANGE, minimum=1,
                           maximum=MAX_LINE_QUANTITY)
    if quantity > MAX_LINE_QUANTITY:
        raise InvalidInput(f"at most {MAX_LINE_QUANTITY} of one item per order",
                           field="quantity", reason=InputReason.TOO_MANY,
                           limit=MAX_LINE_QUANTITY)


async def _check_variant(session: AsyncSession, variant_id: int, wanted: int, in_cart: int,
                         currency: str, cart: _Cart) -> dict[int, int]:
    """Check the variant can be sold in this quantity; return what the cart's own unpaid
    orders hold (see `_held_by_cart`)."""
    row = (await session.execute(_VARIANT_FOR_SALE, {"variant_id": variant_id})).one_or_none()
    if row is None:
        raise NotFound(f"variant {variant_id} does not exist", what="variant", ref=variant_id)
    stock, price_currency, product_id, title, active = row
    if not active:
        raise NotFound(what="product", ref=product_id, title=title)
    if price_currency != currency:
        raise InvalidInput(
            f"{title} is priced in {price_currency}; this shop sells in {currency}",
            field="currency", reason=InputReason.CURRENCY, title=title,
            currency=price_currency, shop_currency=currency)
    held = await _held_by_cart(session, cart)
    available = int(stock) + held.get(variant_id, 0)
    if wanted > available:
        raise OutOfStock(title=title, available=max(available, 0), requested=wanted,
                         in_cart=in_cart)
    return held


async def load_cart(session: AsyncSession, customer_id: int, *, now: datetime,
                    currency: str = "EUR") -> CartView:
    """The customer's cart with current prices, stock flags and promo, inside the caller's
    transaction; an empty view (cart_id None) when the customer has no cart yet.

    Nothing is locked: the checkout re-checks stock atomically when it reserves.
    `currency` is the shop's; lines priced otherwise are flagged and left out of
    the subtotal.
    """
    cart = await _cart(session, customer_id, lock=False)
    if cart is None:
        return _empty(currency)
    return await _view(session, cart, now=now, currency=currency)


async def clear_cart(session: AsyncSession, customer_id: int) -> None:
    """Empty the cart and drop its promo code (after checkout, or on request)."""
    cart = await _cart(session, customer_id, lock=True)
    if cart is None:
        return
    removed = (
        await session.execute(
            delete(CartItem).where(CartItem.cart_id == cart.id).returning(CartItem.id)
        )
    ).first()
    if removed is not None or cart.promo_code_id is not None:
        cart.promo_code_id = None
        await _bump(session, cart)


class CartService:
    """Cart use cases, each one transaction; returns the cart as it is afterwards."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, currency: str = "EUR",
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._currency = currency
        self._clock = clock

    async def _after(self, session: AsyncSession, cart: _Cart,
                     held: dict[int, int] | None = None) -> CartView:
        return await _view(session, cart, now=self._clock(), currency=self._currency,
                           held=held)

    async def view(self, customer_id: int) -> CartView:
        """The cart as it is now (empty when the customer has none)."""
        async with read_only(self._sessions) as session:
            return await load_cart(session, customer_id, now=self._clock(),
                                   currency=self._currency)

    async def add(self, customer_id: int, variant_id: int, quantity: int = 1) -> CartView:
        """Put units of a variant in the cart, on top of any already there.

        Raises NotFound (missing variant, inactive product), InvalidInput (bad
        quantity, above 99 per line, another currency) or OutOfStock saying how
        many are left.
        """
        _check_quantity(quantity)
        async with self._sessions.begin() as session:
            cart = await _cart_for_change(session, customer_id)
            item = await _item(session, cart.id, variant_id)
            in_cart = item[1] if item else 0
            if in_cart + quantity > MAX_LINE_QUANTITY:
                raise InvalidInput(f"at most {MAX_LINE_QUANTITY} of one item per order "
                                   f"(you already have {in_cart} in your cart)",
                                   field="quantity", reason=InputReason.TOO_MANY,
                                   limit=MAX_LINE_QUANTITY, in_cart=in_cart)
            held = await _check_variant(session, variant_id, in_cart + quantity, in_cart,
                                        self._currency, cart)
            await _set_line(session, cart.id, variant_id, item, in_cart + quantity)
            await _bump(session, cart)
            await record_step(session, FunnelStep.CART, customer_id, self._clock())
            return await self._after(session, cart, held)

    async def set_quantity(self, customer_id: int, variant_id: int, quantity: int) -> CartView:
        """Set a line's quantity (0 removes it); same checks as `add`."""
        if quantity == 0 and not isinstance(quantity, bool):
            return await self.remove(customer_id, variant_id)
        _check_quantity(quantity)
        async with self._sessions.begin() as session:
            cart = await _cart_for_change(session, customer_id)
            item = await _item(session, cart.id, variant_id)
            if item is not None and item[1] == quantity:
                return await self._after(session, cart)
            held = await _check_variant(session, variant_id, quantity, 0, self._currency,
                                        cart)
            await _set_line(session, cart.id, variant_id, item, quantity)
            await _bump(session, cart)
            return await self._after(session, cart, held)

    async def remove(self, customer_id: int, variant_id: int) -> CartView:
        """Take a variant out of the cart; removing what is not there changes nothing."""
        async with self._sessions.begin() as session:
            cart = await _cart(session, customer_id, lock=True)
            if cart is None:
                return _empty(self._currency)
            item = await _item(session, cart.id, variant_id)
            if item is not None:
                await session.execute(_DELETE_ITEM, {"item_id": item[0]})
                await _bump(session, cart)
            return await self._after(session, cart)

    async def clear(self, customer_id: int) -> CartView:
        """Empty the cart and drop its promo code."""
        async with self._sessions.begin() as session:
            await clear_cart(session, customer_id)
            return await load_cart(session, customer_id, now=self._clock(),
                                   currency=self._currency)

    async def apply_promo(self, customer_id: int, code: str) -> CartView:
        """Apply a promo code to the cart, checked now against its total.

        Raises PromoInvalid (a `PromoRefused` with a reason) when it does not
        apply; the code that was applied before, if any, stays.
        """
        async with self._sessions.begin() as session:
            cart = await _cart_for_change(session, customer_id)
            promo = await find_promo(session, code)
            current = await _view(session, cart, now=self._clock(), currency=self._currency)
            await evaluate(session, promo, customer_id=customer_id, subtotal=current.subtotal,
                           now=self._clock())
            if cart.promo_code_id != promo.id:
                cart.promo_code_id = promo.id
                await _bump(session, cart)
            return await self._after(session, cart)

    async def remove_promo(self, customer_id: int) -> CartView:
        """Take the promo code off the cart."""
        async with self._sessions.begin() as session:
            cart = await _cart(session, customer_id, lock=True)
            if cart is None:
                return _empty(self._currency)
            if cart.promo_code_id is not None:
                cart.promo_code_id = None
                await _bump(session, cart)
            return await self._after(session, cart)
