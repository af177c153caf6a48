"""Search: any free text outside another step; results with filters, "did you mean", and
help when nothing matches. Also the results for Telegram's inline mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.flows.actions import Action
from bot.flows.catalog import price_label, product_button
from bot.flows.context import Conversation, Deps
from bot.flows.router import menu_button, on_action, on_step
from bot.flows.screens import Button, Reply, Row, Screen, Text, bold, grid, rows
from shop.catalog.search import SearchFilters
from shop.errors import InvalidQuery
from shop.money import Money, exponent

A = Action.make
PAGE_SIZE = 8
# Price filter bands in whole units of the shop currency: (low, high), None = open.
PRICE_BANDS: tuple[tuple[int | None, int | None], ...] = (
    (None, 20), (20, 50), (50, 100), (100, None))


def _filters(state: dict[str, Any], currency: str) -> SearchFilters:
    unit = 10 ** exponent(currency)
    band = state.get("band")
    low, high = PRICE_BANDS[band] if isinstance(band, int) and 0 <= band < len(
        PRICE_BANDS) else (None, None)
    return SearchFilters(
        category_path=state.get("cat") or None,
        min_price=low * unit if low is not None else None,
        max_price=high * unit - 1 if high is not None else None,
        in_stock_only=bool(state.get("stock")),
    )


@on_step("search")
async def search_text(deps: Deps, convo: Conversation, text: str) -> Reply:
    convo.state["search"] = {"q": text, "cat": None, "band": None, "stock": False}
    deps.shop.reports.searched(convo.customer_id)  # noted, written in a batch later
    return await results(deps, convo, 1)


async def results(deps: Deps, convo: Conversation, page: int) -> Reply:
    t = convo.t
    state: dict[str, Any] = convo.state.get("search") or {}
    query = str(state.get("q") or "")
    try:
        found = await deps.shop.catalog.search(
            query, _filters(state, deps.shop.settings.shop_currency), page=page,
            page_size=PAGE_SIZE)
    except InvalidQuery:
        return Reply.of(Screen(Text.of(t("Type a word or two to search, e.g. “mug”.")),
                               rows(menu_button(convo))))
    if not found.products and page > 1:
        return await results(deps, convo, 1)
    lines: list[Text | str] = [Text.of(t("Results for "), bold(f"“{found.query}”"))]
    buttons: list[Row] = []
    if found.did_you_mean:
        convo.state["search"]["dym"] = found.did_you_mean
        buttons.append((Button(t("Did you mean “{words}”?", words=found.did_you_mean),
                               A("dym")),))
    if not found.products:
        lines.append(t("Nothing found. Try other words, browse the catalog, or ask us."))
        buttons += rows((Button(t("🛍 Catalog"), A("cats")), Button(t("💬 Ask support"),
                                                                  A("sup"))))
        if any(state.get(k) for k in ("cat", "band", "stock")):
            buttons.append((Button(t("Clear filters"), A("sfx")),))
        return Reply.of(Screen(Text.lines(*lines), tuple(buttons) + rows(menu_button(convo))))
    pages = max(1, -(-found.total // PAGE_SIZE))
    lines.append(t("{count} found · page {page} of {pages}", count=found.total, page=page,
                   pages=pages))
    buttons += [(product_button(convo, p),) for p in found.products]
    nav = []
    if page > 1:
        nav.append(Button(t("‹ Previous"), A("srch", page - 1)))
    if found.has_next:
        nav.append(Button(t("Next ›"), A("srch", page + 1)))
    if nav:
        buttons.append(tuple(nav))
    stock_label = t("✓ In stock only") if state.get("stock") else t("In stock only")
    buttons.append((Button(stock_label, A("sfs")), Button(t("Price…"), A("sfp")),
                    Button(t("Category…"), A("sfc"))))
    if found.truncated:
        lines.append(t("(Your text was long; I searched its beginning.)"))
    return Reply.of(Screen(Text.lines(*lines), tuple(buttons) + rows(menu_button(convo))))


def _search_state(convo: Conversation) -> dict[str, Any]:
    state = convo.state.get("search")
    if not isinstance(state, dict) or not state.get("q"):
        raise ValueError("no search to refine")
    return state


@on_action("srch")
async def search_page(deps: Deps, convo: Conversation, action: Action) -> Reply:
    _search_state(convo)
    return await results(deps, convo, max(1, action.int(0)))


@on_action("dym")
async def did_you_mean(deps: Deps, convo: Conversation, _: Action) -> Reply:
    state = _search_state(convo)
    suggestion = state.get("dym")
    if not suggestion:
        raise ValueError("no suggestion")
    return await search_text(deps, convo, str(suggestion))


@on_action("sfs")
async def toggle_stock(deps: Deps, convo: Conversation, _: Action) -> Reply:
    state = _search_state(convo)
    state["stock"] = not state.get("stock")
    return await results(deps, convo, 1)


@on_action("sfx")
async def clear_filters(deps: Deps, convo: Conversation, _: Action) -> Reply:
    state = _search_state(convo)
    state.update(cat=None, band=None, stock=False)
    return await results(deps, convo, 1)


@on_action("sfp")
async def price_filter(deps: Deps, convo: Conversation, action: Action) -> Reply:
    state = _search_state(convo)
    t = convo.t
    if action.args:
        band = action.int(0)
        state["band"] = band if 0 <= band < len(PRICE_BANDS) else None
        return await results(deps, convo, 1)
    currency = deps.shop.settings.shop_currency
    unit = 10 ** exponent(currency)
    def money(major: int) -> str:
        return t.money(Money(currency, major * unit))

    labels = []
    for i, (low, high) in enumerate(PRICE_BANDS):
        if low is None and high is not None:
            label = t("under {price}", price=money(high))
        elif high is None and low is not None:
            label = t("over {price}", price=money(low))
        else:
            label = f"{money(low or 0)} – {money(high or 0)}"
        labels.append(Button(("✓ " if state.get("band") == i else "") + label, A("sfp", i)))
    labels.append(Button(t("Any price"), A("sfp", -1)))
    return Reply.of(Screen(Text.of(t("Filter by price:")), grid(labels, 2)))


@on_action("sfc")
async def category_filter(deps: Deps, convo: Conversation, action: Action) -> Reply:
    state = _search_state(convo)
    t = convo.t
    top = [c for c in await deps.shop.catalog.categories() if c.depth == 0 and c.product_count]
    if action.args:
        chosen = next((c for c in top if c.id == action.int(0)), None)
        state["cat"] = chosen.path if chosen else None
        return await results(deps, convo, 1)
    buttons = [Button(("✓ " if state.get("cat") == c.path else "") + c.name, A("sfc", c.id))
               for c in top]
    buttons.append(Button(t("All categories"), A("sfc", 0)))
    return Reply.of(Screen(Text.of(t("Filter by category:")), grid(buttons, 2)))


@dataclass(frozen=True, slots=True)
class InlineItem:
    """One result of `@bot query` in any chat."""

    product_id: int
    handle: str
    title: str
    description: str
    photo: str | None


async def inline_results(deps: Deps, language: str, query: str, limit: int = 20
                         ) -> list[InlineItem]:
    """Products for an inline query; an empty or unusable query lists nothing."""
    try:
        found = await deps.shop.catalog.search(query, page=1, page_size=limit)
    except InvalidQuery:
        return []
    convo = Conversation(customer_id=0, language=language, channel="inline")
    return [InlineItem(p.id, p.handle, p.title,
                       f"{price_label(convo, p)} · {p.category_path.replace('/', ' › ')}",
                       p.image_url) for p in found.products]
