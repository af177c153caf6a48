"""Browsing: categories, a category's products page by page, and the product card with its
variant picker (one option at a time), quantity and Add to cart.

Photos on category pages: where a pressed button's message is edited in place (Telegram),
a page is one message whose photo is the first product on it that has one (named under the
list), so paging replaces that photo instead of adding messages. "🖼 Photos" walks through
the category's products one photo at a time, in that same message on Telegram. A media group
per page would be several messages that cannot be edited: every page would add more.
Channels that cannot edit get the list without a photo (each page would be a new image).
"""

from __future__ import annotations

from bot.flows.actions import Action
from bot.flows.context import Conversation, Deps
from bot.flows.router import menu_button, on_action, on_command
from bot.flows.screens import Button, Reply, Row, Screen, Text, bold, grid, italic, rows
from shop.catalog.types import ProductDetail, ProductSummary, VariantInfo
from shop.errors import NotFound

A = Action.make
PAGE_SIZE = 8
MAX_QUANTITY = 99
DESCRIPTION_MAX = 600


def price_label(convo: Conversation, product: ProductSummary) -> str:
    t = convo.t
    if product.min_price == product.max_price:
        return t.money(product.min_price)
    return t("from {price}", price=t.money(product.min_price))


def stock_badge(convo: Conversation, stock: int, low: bool = False) -> str:
    t = convo.t
    if stock <= 0:
        return t("sold out")
    return t("only {count} left", count=stock) if low else t("in stock")


def product_button(convo: Conversation, product: ProductSummary) -> Button:
    mark = "" if product.in_stock else "✗ "
    return Button(f"{mark}{product.title} · {price_label(convo, product)}",
                  A("prod", product.id))


@on_action("cats")
async def categories(deps: Deps, convo: Conversation, _: Action) -> Reply:
    t = convo.t
    top = [c for c in await deps.shop.catalog.categories() if c.depth == 0 and c.product_count]
    if not top:
        return Reply.of(Screen(Text.of(t("The catalog is empty for now.")),
                               rows(menu_button(convo))))
    buttons = [Button(f"{c.name} ({c.product_count})", A("cat", c.id, 1)) for c in top]
    return Reply.of(Screen(Text.of(bold(t("Catalog")), "\n", t("Choose a category:")),
                           grid(buttons, 2) + rows(menu_button(convo))))


@on_action("cat")
async def category(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """A category's subcategories and its products (including subcategories'), paged."""
    t = convo.t
    category_id, page = action.int(0), max(1, action.int(1))
    everything = await deps.shop.catalog.categories()
    current = next((c for c in everything if c.id == category_id), None)
    if current is None:
        raise NotFound(f"category {category_id} does not exist", what="category",
                       ref=category_id)
    children = [c for c in everything if c.parent_id == current.id and c.product_count]
    listing = await deps.shop.catalog.products(current.path, page=page, page_size=PAGE_SIZE)
    if page > listing.pages:
        listing = await deps.shop.catalog.products(current.path, page=1, page_size=PAGE_SIZE)
    sub: tuple[Row, ...] = grid(
        [Button(f"› {c.name} ({c.product_count})", A("cat", c.id, 1)) for c in children], 2)
    products = tuple((product_button(convo, p),) for p in listing.items)
    nav: list[Button] = []
    if listing.has_previous:
        nav.append(Button(t("‹ Previous"), A("cat", category_id, listing.page - 1)))
    if listing.has_next:
        nav.append(Button(t("Next ›"), A("cat", category_id, listing.page + 1)))
    back = A("cat", current.parent_id, 1) if current.parent_id else A("cats")
    lines: list[Text | str] = [
        Text.of(bold(current.path.replace("/", " › "))),
        t("{count} products · page {page} of {pages}", count=listing.total,
          page=listing.page, pages=listing.pages)]
    can = convo.capabilities
    pictured = next((p for p in listing.items if p.image_url), None)
    if not (can.inline_photos and can.edits_in_place):
        pictured = None
    photos: tuple[Row, ...] = ()
    if can.inline_photos and listing.total:
        first = (listing.page - 1) * PAGE_SIZE + 1
        photos = rows(Button(t("🖼 Photos"), A("catg", category_id, first)))
    if pictured is not None:
        lines.append(Text.of(italic(t("Pictured: {title}", title=pictured.title))))
    return Reply.of(Screen(Text.lines(*lines), sub + products + ((tuple(nav),) if nav else ())
                           + photos + rows((Button(t("« Back"), back),
                                            Button(t("🛒 Cart"), A("cart")))),
                           photo=pictured.image_url if pictured else None))


@on_action("catg")
async def gallery(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`catg:<category_id>:<n>`: the category's n-th product (1-based) with its photo, and
    ‹ › to the others; the same message shows each in turn."""
    t = convo.t
    category_id, wanted = action.int(0), max(1, action.int(1))
    current = next((c for c in await deps.shop.catalog.categories() if c.id == category_id),
                   None)
    if current is None:
        raise NotFound(f"category {category_id} does not exist", what="category",
                       ref=category_id)
    listing = await deps.shop.catalog.products(current.path, page=wanted, page_size=1)
    if not listing.items:  # fewer products than before: the last one
        listing = await deps.shop.catalog.products(current.path, page=max(1, listing.total),
                                                   page_size=1)
    if not listing.items:
        return await category(deps, convo, A("cat", category_id, 1))
    product, n = listing.items[0], listing.page
    stock = stock_badge(convo, product.stock)
    text = Text.lines(Text.of(bold(current.path.replace("/", " › ")), f" · {n}/{listing.total}"),
                      Text.of(bold(product.title)), Text.of(price_label(convo, product), " · ",
                                                             stock))
    nav: list[Button] = []
    if n > 1:
        nav.append(Button("‹", A("catg", category_id, n - 1)))
    nav.append(Button(t("Open"), A("prod", product.id)))
    if n < listing.total:
        nav.append(Button("›", A("catg", category_id, n + 1)))
    page = (n - 1) // PAGE_SIZE + 1
    return Reply.of(Screen(text, rows(nav, (Button(t("« List"), A("cat", category_id, page)),
                                            Button(t("🛒 Cart"), A("cart")))),
                           photo=product.image_url))


async def product_by_handle(deps: Deps, convo: Conversation, handle: str) -> Reply:
    detail = await deps.shop.catalog.product(handle=handle)
    return Reply.of(product_card(convo, detail, (), 1))


@on_action("prod")
async def product(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`prod:<id>[:<choice 1>:<choice 2>:<choice 3>:<qty>]` (choices are 1-based, 0 = open)."""
    detail = await deps.shop.catalog.product(product_id=action.int(0))
    choices = tuple(action.int(i) for i in range(1, min(len(action.args), 4)))
    quantity = action.int(4) if len(action.args) > 4 else 1
    return Reply.of(product_card(convo, detail, choices, quantity))


def option_values(detail: ProductDetail) -> list[list[str]]:
    """Each option's values in the order the variants first use them."""
    values: list[list[str]] = [[] for _ in detail.option_names]
    for variant in detail.variants:
        for i, (_, value) in enumerate(variant.options[: len(values)]):
            if value not in values[i]:
                values[i].append(value)
    return values


def matching(detail: ProductDetail, chosen: list[str | None]) -> list[VariantInfo]:
    return [v for v in detail.variants
            if all(want is None or (i < len(v.options) and v.options[i][1] == want)
                   for i, want in enumerate(chosen))]


def product_card(convo: Conversation, detail: ProductDetail, choices: tuple[int, ...],
                 quantity: int, note: str | None = None) -> Screen:
    t = convo.t
    if not detail.active or not detail.variants:
        raise NotFound(what="product", ref=detail.id, title=detail.title)
    values = option_values(detail)
    picked: list[int] = [c if 0 < c <= len(values[i]) else 0
                         for i, c in enumerate((*choices, 0, 0, 0)[: len(values)])]
    chosen: list[str | None] = [values[i][c - 1] if c else None for i, c in enumerate(picked)]
    candidates = matching(detail, chosen)
    prices = sorted({v.price for v in candidates or detail.variants})
    price = t.money(prices[0]) if len(prices) == 1 else t("from {price}",
                                                          price=t.money(prices[0]))
    stock = sum(v.stock for v in candidates)
    description = detail.description
    if len(description) > DESCRIPTION_MAX:
        description = description[: DESCRIPTION_MAX - 1].rsplit(" ", 1)[0] + "…"
    lines: list[Text | str] = [Text.of(bold(detail.title)), Text.of(bold(price), " · ",
                               stock_badge(convo, stock))]
    if description:
        lines += ["", description]
    selection = [f"{name}: {value}" for name, value in zip(detail.option_names, chosen,
                                                           strict=True) if value]
    if selection:
        lines += ["", Text.of(italic(", ".join(selection)))]
    if note:
        lines += ["", Text.of(bold(note))]
    buttons: list[Row] = []
    open_option = next((i for i, c in enumerate(picked) if c == 0), None)
    if open_option is not None:
        lines += ["", t("Choose {option}:", option=detail.option_names[open_option])]
        choice_buttons = []
        for index, value in enumerate(values[open_option], start=1):
            trial = list(chosen)
            trial[open_option] = value
            options = matching(detail, trial)
            if not options:
                continue
            mark = "" if any(v.stock > 0 for v in options) else "✗ "
            args = list(picked)
            args[open_option] = index
            choice_buttons.append(Button(mark + value, _prod(detail.id, args, 1)))
        buttons += grid(choice_buttons, 3)
    else:
        variant = candidates[0]
        quantity = max(1, min(quantity, MAX_QUANTITY, max(variant.stock, 1)))
        if variant.stock > 0:
            buttons.append((
                Button("−", _prod(detail.id, picked, max(1, quantity - 1))),
                Button(t("{count} pcs", count=quantity), _prod(detail.id, picked, quantity)),
                Button("+", _prod(detail.id, picked, min(variant.stock, quantity + 1))),
            ))
            buttons.append((Button(t("➕ Add to cart"), A("add", variant.id, quantity)),))
        else:
            lines += ["", t("This one is sold out. Try another option.")]
    if any(picked):
        buttons.append((Button(t("↺ Change options"), A("prod", detail.id)),))
    buttons.append((Button(t("🛒 Cart"), A("cart")), Button(t("« Catalog"), A("cats"))))
    photo = next((v.image_url for v in candidates if v.image_url), None)
    return Screen(Text.lines(*lines), tuple(buttons),
                  photo=photo or (detail.images[0] if detail.images else None))


def _prod(product_id: int, picked: list[int], quantity: int) -> Action:
    args = (*picked, 0, 0, 0)[:3]
    return A("prod", product_id, *args, quantity)


@on_action("add")
async def add_to_cart(deps: Deps, convo: Conversation, action: Action) -> Reply:
    variant_id, quantity = action.int(0), action.int(1)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValueError("quantity")
    # The cart's add checks the variant (NotFound, inactive, stock) and its line names the
    # product: one lookup fewer than reading the variant first.
    cart = await deps.shop.carts.add(convo.customer_id, variant_id, quantity)
    line = next((line for line in cart.lines if line.variant_id == variant_id), None)
    product_id = (line.product_id if line is not None
                  else (await deps.shop.catalog.variant(variant_id=variant_id)).product_id)
    detail = await deps.shop.catalog.product(product_id=product_id)
    variant = detail.variant(variant_id) or await deps.shop.catalog.variant(variant_id=variant_id)
    values = option_values(detail)
    picked = [values[i].index(value) + 1 for i, (_, value) in enumerate(variant.options)
              if i < len(values)]
    t = convo.t
    note = t("Added to your cart: {count} × {title}. Cart: {items} items, {total}.",
             count=quantity, title=detail.title, items=cart.item_count,
             total=t.money(cart.total))
    card = product_card(convo, detail, tuple(picked), 1, note)
    return Reply.of(Screen(card.text, ((Button(t("🛒 Go to cart"), A("cart")),), *card.buttons),
                           photo=card.photo, toast=t("Added to cart")))


@on_command("catalog")
async def catalog_command(deps: Deps, convo: Conversation, _: str) -> Reply:
    return await categories(deps, convo, A("cats"))
