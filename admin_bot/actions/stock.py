"""Staff use cases on stock: find variants, restock, set a count, change the threshold."""

from __future__ import annotations

from admin_bot.context import AdminDeps, Staff
from admin_bot.router import Outcome, Prompt, action, answer, command
from admin_bot.screens.common import parse_count
from admin_bot.screens.stock import low_stock_list, stock_results, variant_card
from bot.flows.actions import Action, Arg
from bot.flows.screens import Screen
from shop.catalog.types import ProductDetail, VariantInfo
from shop.errors import InvalidInput, NotFound

MAX_VARIANTS = 20
SEARCH_PRODUCTS = 8


async def _card(deps: AdminDeps, staff: Staff, variant_id: int, note: str = "") -> Screen:
    variant = await deps.shop.catalog.variant(variant_id=variant_id)
    product = await deps.shop.catalog.product(product_id=variant.product_id)
    return variant_card(staff, product, variant, note)


async def find_variants(deps: AdminDeps, query: str
                        ) -> tuple[list[tuple[ProductDetail, VariantInfo]], bool]:
    """Variants matching a SKU exactly, else those of the products the search finds."""
    catalog = deps.shop.catalog
    try:
        variant = await catalog.variant(sku=query)
    except NotFound:
        pass
    else:
        return [(await catalog.product(product_id=variant.product_id), variant)], False
    page = await catalog.search(query, page_size=SEARCH_PRODUCTS)
    found: list[tuple[ProductDetail, VariantInfo]] = []
    for summary in page.products:
        product = await catalog.product(product_id=summary.id)
        found += [(product, v) for v in product.variants]
    return found[:MAX_VARIANTS], len(found) > MAX_VARIANTS or page.has_next


@command("stock")
async def stock_command(deps: AdminDeps, staff: Staff, args: str) -> Outcome:
    query = " ".join(args.split())[:100]
    if not query:
        return Prompt("stock_query", (), staff.t("Which product? Type a name or a SKU."),
                      staff.t("Name or SKU"))
    found, more = await find_variants(deps, query)
    return stock_results(staff, query, found, more)


@answer("stock_query")
async def stock_query(deps: AdminDeps, staff: Staff, args: tuple[Arg, ...], text: str
                      ) -> Outcome:
    return await stock_command(deps, staff, text)


@command("lowstock")
async def low_stock_command(deps: AdminDeps, staff: Staff, args: str) -> Outcome:
    return await _low(deps, staff)


async def _low(deps: AdminDeps, staff: Staff) -> Screen:
    low = await deps.shop.catalog.low_stock(limit=MAX_VARIANTS)
    products: dict[int, ProductDetail] = {}
    for v in low.variants:
        if v.product_id not in products:
            products[v.product_id] = await deps.shop.catalog.product(product_id=v.product_id)
    return low_stock_list(staff, [(products[v.product_id], v) for v in low.variants],
                          low.total)


@action("s.low")
async def low_action(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    return await _low(deps, staff)


@action("s.v")
async def view(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    return await _card(deps, staff, act.int(0))


@action("s.add")
async def quick_restock(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    units = act.int(1)
    if not 0 < units <= 1000:
        raise InvalidInput("restock between 1 and 1000 units at a time")
    change = await deps.shop.catalog.adjust_stock(act.int(0), units, actor=staff.actor,
                                                  reason="restock from the staff bot")
    return await _card(deps, staff, change.variant_id, staff.t(
        "+{units}: now {count} in stock.", units=units, count=change.stock_after))


def _prompt(staff: Staff, kind: str, variant_id: int, question: str) -> Prompt:
    return Prompt(kind, (variant_id,), question, staff.t("A whole number"))


@action("s.addn")
async def restock_prompt(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    variant = await deps.shop.catalog.variant(variant_id=act.int(0))
    return _prompt(staff, "stock_add", variant.id, staff.t(
        "How many units of {sku} arrived? (now {count})", sku=variant.sku, count=variant.stock))


@action("s.set")
async def set_prompt(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    variant = await deps.shop.catalog.variant(variant_id=act.int(0))
    return _prompt(staff, "stock_set", variant.id, staff.t(
        "How many units of {sku} are in stock? (counted now; the shop says {count})",
        sku=variant.sku, count=variant.stock))


@action("s.thr")
async def threshold_prompt(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    variant = await deps.shop.catalog.variant(variant_id=act.int(0))
    return _prompt(staff, "stock_threshold", variant.id, staff.t(
        "Alert when {sku} has how many units or fewer? (now {count})", sku=variant.sku,
        count=variant.low_stock_threshold))


@answer("stock_add")
async def restock(deps: AdminDeps, staff: Staff, args: tuple[Arg, ...], text: str) -> Outcome:
    units = parse_count(text, allow_zero=False, signed=True)
    change = await deps.shop.catalog.adjust_stock(int(args[0]), units, actor=staff.actor,
                                                  reason="restock from the staff bot")
    return await _card(deps, staff, change.variant_id, staff.t(
        "{units:+d}: now {count} in stock.", units=units, count=change.stock_after))


@answer("stock_set")
async def set_stock(deps: AdminDeps, staff: Staff, args: tuple[Arg, ...], text: str
                    ) -> Outcome:
    count = parse_count(text)
    change = await deps.shop.catalog.set_stock(int(args[0]), count, actor=staff.actor,
                                               reason="stock count from the staff bot")
    note = (staff.t("Stock set to {count}.", count=count) if change is not None
            else staff.t("Stock was already {count}.", count=count))
    return await _card(deps, staff, int(args[0]), note)


@answer("stock_threshold")
async def set_threshold(deps: AdminDeps, staff: Staff, args: tuple[Arg, ...], text: str
                        ) -> Outcome:
    value = parse_count(text)
    await deps.shop.catalog.set_low_stock_threshold(int(args[0]), value, actor=staff.actor)
    return await _card(deps, staff, int(args[0]), staff.t(
        "Low-stock threshold set to {count}.", count=value))
