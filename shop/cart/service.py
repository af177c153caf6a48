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
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.cart.models import Cart, CartItem, PromoCode
from shop.cart.promo import evaluate, find_promo, promo_info
from shop.cart.types import MAX_LINE_QUANTITY, CartLine, CartView
from shop.catalog.models import Product, Variant
from shop.catalog.queries import first_images, variant_info
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


def _issue(product: Product, variant: Variant, quantity: int, currency: str,
           available: int) -> str | None:
    if not product.active:
        return "no longer available"
    if variant.currency != currency:
        return f"priced in {variant.currency}"
    if available <= 0:
        return "sold out"
    if available < quantity:
        return f"only {available} left"
    return None


_ORDERS = Order.__table__
_ORDER_LINES = OrderLine.__table__
# Built once: this runs on every cart change and view.
_HELD_BY_CART = (
    select(_ORDER_LINES.c.variant_id, func.sum(_ORDER_LINES.c.quantity))
    .join_from(_ORDER_LINES, _ORDERS, _ORDERS.c.id == _ORDER_LINES.c.order_id)
    # The customer filter lets the database use its index on orders' customer.
    .where(_ORDERS.c.customer_id == bindparam("customer_id"),
           _ORDERS.c.checkout_key.like(bindparam("checkout_keys")),
           _ORDERS.c.status == "awaiting_payment", _ORDER_LINES.c.variant_id.is_not(None))
    .group_by(_ORDER_LINES.c.variant_id)
)


async def _held_by_cart(session: AsyncSession, cart: Cart) -> dict[int, int]:
    """Units per variant reserved by this cart's own unpaid orders."""
    rows = await session.execute(_HELD_BY_CART, {"customer_id": cart.customer_id,
                                                 "checkout_keys": f"cart:{cart.id}:%"})
    return {int(v): int(q) for v, q in rows.tuples().all() if v is not None}


def _line(item: CartItem, variant: Variant, product: Product, image: str | None,
          currency: str, held: int) -> CartLine:
    available = variant.stock + held if product.active else 0
    info = variant_info(variant, (product.option1_name, product.option2_name,
                                  product.option3_name))
    return CartLine(
        variant_id=variant.id,
        product_id=product.id,
        sku=variant.sku,
        title=product.title,
        options=" / ".join(value for _, value in info.options),
        unit_price=info.price,
        quantity=item.quantity,
        line_total=info.price.times(item.quantity),
        weight_grams=variant.weight_grams,
        digital=variant.digital,
        available=available,
        issue=_issue(product, variant, item.quantity, currency, available),
        image_url=variant.image_url or image,
    )


async def _view(session: AsyncSession, cart: Cart, *, now: datetime, currency: str,
                held: dict[int, int] | None = None) -> CartView:
    """`held`: `_held_by_cart` when the caller has just read it in this transaction."""
    rows = (
        await session.execute(
            select(CartItem, Variant, Product)
            .join(Variant, Variant.id == CartItem.variant_id)
            .join(Product, Product.id == Variant.product_id)
            .where(CartItem.cart_id == cart.id)
            .order_by(CartItem.added_at, CartItem.id)
        )
    ).tuples().all()
    images = await first_images(session, {product.id for _, _, product in rows}) if rows else {}
    if held is None:
        held = await _held_by_cart(session, cart) if rows else {}
    lines = tuple(_line(item, variant, product, images.get(product.id), currency,
                        held.get(variant.id, 0))
                  for item, variant, product in rows)
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


async def _cart(session: AsyncSession, customer_id: int, *, lock: bool) -> Cart | None:
    query = select(Cart).where(Cart.customer_id == customer_id)
    if lock:
        # Row lock on PostgreSQL so concurrent changes to one cart queue up;
        # SQLite's BEGIN IMMEDIATE already serializes writers.
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def _cart_for_change(session: AsyncSession, customer_id: int) -> Cart:
    cart = await _cart(session, customer_id, lock=True)
    if cart is not None:
        return cart
    if await session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} does not exist", what="customer",
                       ref=customer_id)
    try:
        async with session.begin_nested():
            cart = Cart(customer_id=customer_id, version=0, updated_at=utcnow())
            session.add(cart)
    except IntegrityError:
        # A concurrent first change created it; use that one.
        cart = await _cart(session, customer_id, lock=True)
        if cart is None:
            raise
    return cart


def _bump(cart: Cart) -> None:
    cart.version += 1
    cart.updated_at = utcnow()


async def _item(session: AsyncSession, cart_id: int, variant_id: int) -> CartItem | None:
    return (
        await session.execute(
            select(CartItem).where(CartItem.cart_id == cart_id, CartItem.variant_id == variant_id)
        )
    ).scalar_one_or_none()


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
                         currency: str, cart: Cart) -> dict[int, int]:
    """Check the variant can be sold in this quantity; return what the cart's own unpaid
    orders hold (see `_held_by_cart`)."""
    row = (
        await session.execute(
            select(Variant, Product).join(Product, Product.id == Variant.product_id)
            .where(Variant.id == variant_id)
        )
    ).tuples().one_or_none()
    if row is None:
        raise NotFound(f"variant {variant_id} does not exist", what="variant", ref=variant_id)
    variant, product = row
    if not product.active:
        raise NotFound(what="product", ref=product.id, title=product.title)
    if variant.currency != currency:
        raise InvalidInput(
            f"{product.title} is priced in {variant.currency}; this shop sells in {currency}",
            field="currency", reason=InputReason.CURRENCY, title=product.title,
            currency=variant.currency, shop_currency=currency)
    held = await _held_by_cart(session, cart)
    available = variant.stock + held.get(variant_id, 0)
    if wanted > available:
        raise OutOfStock(title=product.title, available=max(available, 0), requested=wanted,
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
        _bump(cart)
    await session.flush()


class CartService:
    """Cart use cases, each one transaction; returns the cart as it is afterwards."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, currency: str = "EUR",
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._currency = currency
        self._clock = clock

    async def _after(self, session: AsyncSession, cart: Cart,
                     held: dict[int, int] | None = None) -> CartView:
        await session.flush()
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
            in_cart = item.quantity if item else 0
            if in_cart + quantity > MAX_LINE_QUANTITY:
                raise InvalidInput(f"at most {MAX_LINE_QUANTITY} of one item per order "
                                   f"(you already have {in_cart} in your cart)",
                                   field="quantity", reason=InputReason.TOO_MANY,
                                   limit=MAX_LINE_QUANTITY, in_cart=in_cart)
            held = await _check_variant(session, variant_id, in_cart + quantity, in_cart,
                                        self._currency, cart)
            if item is None:
                session.add(CartItem(cart_id=cart.id, variant_id=variant_id, quantity=quantity,
                                     added_at=utcnow()))
            else:
                item.quantity = in_cart + quantity
            _bump(cart)
            record_step(session, FunnelStep.CART, customer_id, self._clock())
            return await self._after(session, cart, held)

    async def set_quantity(self, customer_id: int, variant_id: int, quantity: int) -> CartView:
        """Set a line's quantity (0 removes it); same checks as `add`."""
        if quantity == 0 and not isinstance(quantity, bool):
            return await self.remove(customer_id, variant_id)
        _check_quantity(quantity)
        async with self._sessions.begin() as session:
            cart = await _cart_for_change(session, customer_id)
            item = await _item(session, cart.id, variant_id)
            if item is not None and item.quantity == quantity:
                return await self._after(session, cart)
            held = await _check_variant(session, variant_id, quantity, 0, self._currency,
                                        cart)
            if item is None:
                session.add(CartItem(cart_id=cart.id, variant_id=variant_id, quantity=quantity,
                                     added_at=utcnow()))
            else:
                item.quantity = quantity
            _bump(cart)
            return await self._after(session, cart, held)

    async def remove(self, customer_id: int, variant_id: int) -> CartView:
        """Take a variant out of the cart; removing what is not there changes nothing."""
        async with self._sessions.begin() as session:
            cart = await _cart(session, customer_id, lock=True)
            if cart is None:
                return _empty(self._currency)
            item = await _item(session, cart.id, variant_id)
            if item is not None:
                await session.delete(item)
                _bump(cart)
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
                _bump(cart)
            return await self._after(session, cart)

    async def remove_promo(self, customer_id: int) -> CartView:
        """Take the promo code off the cart."""
        async with self._sessions.begin() as session:
            cart = await _cart(session, customer_id, lock=True)
            if cart is None:
                return _empty(self._currency)
            if cart.promo_code_id is not None:
                cart.promo_code_id = None
                _bump(cart)
            return await self._after(session, cart)
