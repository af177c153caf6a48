from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from shop.cart.models import Cart
from shop.cart.promo import PromoRefused, create_promo, set_promo_active
from shop.cart.service import CartService, clear_cart, load_cart
from shop.cart.types import PromoReason
from shop.catalog.models import Product, Variant
from shop.catalog.stock import set_stock
from shop.customers.service import CustomerService
from shop.errors import InvalidInput, NotFound, OutOfStock, PromoInvalid
from shop.money import Money
from tests.conftest import Database
from tests.support.catalog import ProductSpec, VariantSpec, add_products

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


async def _setup(db: Database) -> tuple[CartService, int, dict[str, int]]:
    await add_products(
        db.sessions,
        ProductSpec("tee", "Tee", option_names=("Size", "Color"),
                    images=("https://img.example/tee.png",), variants=[
                        VariantSpec("TEE-S", price=1500, stock=5, options=("S", "Black"),
                                    weight=200),
                        VariantSpec("TEE-M", price=1500, stock=2, options=("M", "Black"),
                                    weight=220)]),
        ProductSpec("mug", "Mug", variants=[VariantSpec("MUG", price=999, stock=10, weight=350)]),
        ProductSpec("ebook", "E-book", variants=[
            VariantSpec("EBOOK", price=500, stock=100, digital=True, weight=0)]),
        ProductSpec("gone", "Gone", active=False, variants=[VariantSpec("GONE", stock=5)]),
        ProductSpec("usd", "Import", variants=[VariantSpec("USD-1", currency="USD")]),
        ProductSpec("none", "Nothing left", variants=[VariantSpec("ZERO", stock=0)]),
        ProductSpec("bulk", "Bulk", variants=[VariantSpec("BULK", price=1, stock=500)]),
    )
    async with db.sessions() as session:
        ids = dict((await session.execute(select(Variant.sku, Variant.id))).tuples().all())
    customer = await CustomerService(db.sessions).get_or_create("telegram", "1")
    return CartService(db.sessions, clock=lambda: NOW), customer.id, ids


async def test_add_merge_set_remove_clear_bump_versions(database: Database) -> None:
    cart, me, v = await _setup(database)
    empty = await cart.view(me)
    assert empty.cart_id is None and empty.is_empty and empty.total == Money("EUR", 0)

    view = await cart.add(me, v["TEE-S"])
    assert view.cart_id is not None and view.version == 1
    view = await cart.add(me, v["TEE-S"], 2)
    assert view.version == 2 and [(ln.sku, ln.quantity) for ln in view.lines] == [("TEE-S", 3)]
    view = await cart.add(me, v["MUG"], 1)
    assert view.version == 3 and [ln.sku for ln in view.lines] == ["TEE-S", "MUG"]
    view = await cart.set_quantity(me, v["MUG"], 4)
    assert view.version == 4 and view.line(v["MUG"]) is not None
    assert view.line(v["MUG"]).quantity == 4  # type: ignore[union-attr]
    same = await cart.set_quantity(me, v["MUG"], 4)
    assert same.version == 4  # nothing changed, no new version
    view = await cart.set_quantity(me, v["MUG"], 0)
    assert view.version == 5 and [ln.sku for ln in view.lines] == ["TEE-S"]
    view = await cart.remove(me, v["MUG"])  # not there any more: no change
    assert view.version == 5
    view = await cart.remove(me, v["TEE-S"])
    assert view.version == 6 and view.is_empty and view.cart_id is not None
    await cart.add(me, v["EBOOK"], 2)
    view = await cart.clear(me)
    assert view.is_empty and view.version == 8
    assert (await cart.clear(me)).version == 8


async def test_line_details_and_exact_totals(database: Database) -> None:
    cart, me, v = await _setup(database)
    await cart.add(me, v["TEE-S"], 2)
    view = await cart.add(me, v["MUG"], 3)
    tee = view.line(v["TEE-S"])
    assert tee is not None
    assert (tee.title, tee.options, tee.unit_price, tee.line_total, tee.weight_grams,
            tee.available, tee.issue, tee.image_url, tee.digital) == (
        "Tee", "S / Black", Money("EUR", 1500), Money("EUR", 3000), 200, 5, None,
        "https://img.example/tee.png", False)
    mug = view.line(v["MUG"])
    assert mug is not None and mug.options == "" and mug.image_url is None
    assert view.subtotal == Money("EUR", 3000 + 2997)
    assert view.discount == Money("EUR", 0) and view.total == Money("EUR", 5997)
    assert view.weight_grams == 2 * 200 + 3 * 350 and view.item_count == 5
    assert not view.digital_only and not view.has_issues

    await cart.clear(me)
    digital = await cart.add(me, v["EBOOK"], 3)
    assert digital.digital_only and digital.weight_grams == 0
    assert digital.total == Money("EUR", 1500)


async def test_quantity_rules_and_stock(database: Database) -> None:
    cart, me, v = await _setup(database)
    for bad in [0, -1, True, 100]:
        with pytest.raises(InvalidInput):
            await cart.add(me, v["MUG"], bad)
    with pytest.raises(InvalidInput):
        await cart.set_quantity(me, v["MUG"], -2)
    with pytest.raises(OutOfStock, match="only 2 left"):
        await cart.add(me, v["TEE-M"], 3)
    await cart.add(me, v["TEE-M"], 2)
    with pytest.raises(OutOfStock, match=r"only 2 left.*already have 2"):
        await cart.add(me, v["TEE-M"])
    with pytest.raises(OutOfStock, match="only 2 left"):
        await cart.set_quantity(me, v["TEE-M"], 3)
    with pytest.raises(OutOfStock, match="sold out"):
        await cart.add(me, v["ZERO"])
    await cart.add(me, v["BULK"], 99)
    with pytest.raises(InvalidInput, match="at most 99"):
        await cart.add(me, v["BULK"])
    view = await cart.view(me)
    assert [(ln.sku, ln.quantity) for ln in view.lines] == [("TEE-M", 2), ("BULK", 99)]
    assert view.version == 2  # refused changes leave no trace


async def test_missing_inactive_and_foreign_currency(database: Database) -> None:
    cart, me, v = await _setup(database)
    with pytest.raises(NotFound, match="does not exist"):
        await cart.add(me, 999_999)
    with pytest.raises(NotFound, match="no longer available"):
        await cart.add(me, v["GONE"])
    with pytest.raises(InvalidInput, match="priced in USD"):
        await cart.add(me, v["USD-1"])
    with pytest.raises(NotFound):
        await cart.add(999_999, v["MUG"])
    assert (await cart.view(me)).cart_id is None  # nothing was created


async def test_view_flags_lines_whose_stock_or_product_changed(database: Database) -> None:
    cart, me, v = await _setup(database)
    await cart.add(me, v["TEE-S"], 4)
    await cart.add(me, v["MUG"], 2)
    await cart.add(me, v["EBOOK"], 1)
    async with database.sessions.begin() as session:
        await set_stock(session, v["TEE-S"], 2, actor="test", reason="count")
        await set_stock(session, v["MUG"], 0, actor="test", reason="count")
        await session.execute(update(Product).where(Product.handle == "ebook")
                              .values(active=False))
    view = await cart.view(me)
    issues = {ln.sku: (ln.available, ln.issue) for ln in view.lines}
    assert issues == {"TEE-S": (2, "only 2 left"), "MUG": (0, "sold out"),
                      "EBOOK": (0, "no longer available")}
    assert view.has_issues and view.subtotal == Money("EUR", 4 * 1500 + 2 * 999 + 500)
    fixed = await cart.set_quantity(me, v["TEE-S"], 2)
    assert fixed.line(v["TEE-S"]).ok  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await cart.set_quantity(me, v["EBOOK"], 2)
    await cart.remove(me, v["EBOOK"])
    await cart.remove(me, v["MUG"])
    assert not (await cart.view(me)).has_issues


async def test_cart_persists_across_service_objects(database: Database) -> None:
    cart, me, v = await _setup(database)
    added = await cart.add(me, v["MUG"], 2)
    other = CartService(database.sessions)
    again = await other.view(me)
    assert (again.cart_id, again.version, again.lines) == (added.cart_id, added.version,
                                                           added.lines)
    async with database.sessions() as session:
        loaded = await load_cart(session, me, now=NOW)
    assert loaded == again
    async with database.sessions.begin() as session:
        await clear_cart(session, me)
    assert (await cart.view(me)).is_empty


async def test_concurrent_adds_to_a_new_cart(database: Database) -> None:
    cart, me, v = await _setup(database)
    await asyncio.gather(*(cart.add(me, v["BULK"]) for _ in range(10)))
    view = await cart.view(me)
    assert [(ln.sku, ln.quantity) for ln in view.lines] == [("BULK", 10)]
    assert view.version == 10
    async with database.sessions() as session:
        carts = (await session.execute(select(Cart).where(Cart.customer_id == me))).all()
    assert len(carts) == 1


async def test_promo_applied_removed_and_refused(database: Database) -> None:
    cart, me, v = await _setup(database)
    async with database.sessions.begin() as session:
        await create_promo(session, code="TEN", kind="percent", value=10)
        await create_promo(session, code="BIG", kind="fixed", value=500, currency="EUR",
                           min_total=3000)
        await create_promo(session, code="OFF", kind="percent", value=5)
        await set_promo_active(session, "OFF", False)
    await cart.add(me, v["MUG"], 3)  # 29.97
    view = await cart.apply_promo(me, "  ten ")
    assert view.promo_code == "TEN" and view.promo_problem is None
    assert view.discount == Money("EUR", 300)  # 299.7 rounds half up to 300
    assert view.total == Money("EUR", 2697) and view.version == 2

    with pytest.raises(PromoRefused, match="does not exist") as unknown:
        await cart.apply_promo(me, "NOPE")
    assert unknown.value.reason is PromoReason.UNKNOWN
    with pytest.raises(PromoInvalid, match=r"spend at least 30\.00 EUR"):
        await cart.apply_promo(me, "BIG")
    with pytest.raises(PromoInvalid, match="no longer active"):
        await cart.apply_promo(me, "OFF")
    kept = await cart.view(me)
    assert kept.promo_code == "TEN" and kept.version == 2  # a refused code changes nothing

    await cart.add(me, v["MUG"])  # 39.96
    view = await cart.apply_promo(me, "big")
    assert view.promo_code == "BIG" and view.discount == Money("EUR", 500)
    assert view.total == Money("EUR", 3496)

    view = await cart.set_quantity(me, v["MUG"], 1)  # 9.99: under the minimum now
    assert view.promo_code == "BIG" and view.discount == Money("EUR", 0)
    assert view.promo_problem == "spend at least 30.00 EUR to use promo code BIG"
    assert view.total == view.subtotal == Money("EUR", 999)
    view = await cart.set_quantity(me, v["MUG"], 4)
    assert view.promo_problem is None and view.discount == Money("EUR", 500)

    version = view.version
    view = await cart.remove_promo(me)
    assert view.promo_code is None and view.discount == Money("EUR", 0)
    assert view.version == version + 1
    assert (await cart.remove_promo(me)).version == version + 1


async def test_fixed_promo_never_takes_total_below_zero(database: Database) -> None:
    cart, me, v = await _setup(database)
    async with database.sessions.begin() as session:
        await create_promo(session, code="GIFT", kind="fixed", value=5000, currency="EUR")
    await cart.add(me, v["MUG"], 2)
    view = await cart.apply_promo(me, "GIFT")
    assert view.discount == Money("EUR", 1998) and view.total == Money("EUR", 0)
    cleared = await cart.clear(me)
    assert cleared.promo_code is None
