"""Checkout: delivery address (saved, or typed step by step), shipping method, summary, Pay.

The conversation keeps its progress in `state["co"]`: the chosen address and method and,
once placed, the order, so a second tap on Pay finds the same order (or its receipt).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from bot.flows.actions import Action
from bot.flows.cart import cart_screen
from bot.flows.context import Conversation, Deps
from bot.flows.inputs import Location
from bot.flows.payment import payment_step, settled_screen
from bot.flows.payment import receipt_screen as receipt_screen
from bot.flows.router import menu_button, on_action, on_location_step, on_step
from bot.flows.screens import Button, Reply, Row, Screen, Text, bold, italic, rows
from shop.cart.types import CartView
from shop.customers.service import validate_address
from shop.customers.types import AddressInfo, AddressInput
from shop.errors import CartEmpty, InvalidInput, OutOfStock, ShippingUnavailable
from shop.orders.checkout import CheckoutRequest
from shop.orders.states import OrderStatus
from shop.shipping.types import ShippingQuote

A = Action.make
STEP = "coaddr"
FIELDS = ("name", "street", "city", "postcode", "country")
SAVED_SHOWN = 5
# Valid stand-ins for the fields not typed yet, so the core's rules judge one field at a time.
_PLACEHOLDER = AddressInput(name="x", street="x", city="x", postcode="00000", country="FR")
_COUNTRIES = {  # common names in English, French and Polish, without accents
    "AT": "austria|autriche", "BE": "belgium|belgique|belgia",
    "BG": "bulgaria|bulgarie", "HR": "croatia|croatie|chorwacja", "CY": "cyprus|chypre|cypr",
    "CZ": "czechia|czech republic|republique tcheque|tchequie|czechy|cesko",
    "DK": "denmark|danemark|dania", "EE": "estonia|estonie", "FI": "finland|finlande|finlandia",
    "FR": "france|francja", "DE": "germany|allemagne|niemcy|deutschland",
    "GR": "greece|grece|grecja", "HU": "hungary|hongrie|wegry", "IE": "ireland|irlande|irlandia",
    "IT": "italy|italie|wlochy|italia", "LV": "latvia|lettonie|lotwa",
    "LT": "lithuania|lituanie|litwa", "LU": "luxembourg|luksemburg", "MT": "malta|malte",
    "NL": "netherlands|the netherlands|holland|pays-bas|pays bas|holandia|niderlandy",
    "PL": "poland|pologne|polska", "PT": "portugal|portugalia",
    "RO": "romania|roumanie|rumunia", "SK": "slovakia|slovaquie|slowacja",
    "SI": "slovenia|slovenie|slowenia", "ES": "spain|espagne|hiszpania|espana",
    "SE": "sweden|suede|szwecja",
    "GB": "united kingdom|uk|great britain|britain|england|scotland|wales|royaume-uni|"
          "royaume uni|angleterre|wielka brytania|anglia",
    "CH": "switzerland|suisse|szwajcaria", "NO": "norway|norvege|norwegia",
    "IS": "iceland|islande|islandia", "MC": "monaco", "CA": "canada|kanada",
    "US": "united states|usa|united states of america|etats-unis|etats unis|"
          "stany zjednoczone",
    "UA": "ukraine|ukraina", "AU": "australia|australie", "JP": "japan|japon|japonia",
    "MA": "morocco|maroc|maroko",
}
COUNTRY_NAMES = {name: code for code, names in _COUNTRIES.items() for name in names.split("|")}


def country_code(typed: str) -> str:
    """A country name in en/fr/pl mapped to its ISO code; anything else is returned as typed."""
    key = unicodedata.normalize("NFKD", typed.strip().lower().replace("ł", "l"))
    key = " ".join("".join(c for c in key if not unicodedata.combining(c)).split())
    return COUNTRY_NAMES.get(key) or COUNTRY_NAMES.get(key.removeprefix("the "), typed)


def _co(convo: Conversation) -> dict[str, Any]:
    state = convo.state.get("co")
    if not isinstance(state, dict):
        state = convo.state["co"] = {}
    return state


def _to_cart(convo: Conversation, text: str) -> Reply:
    t = convo.t
    return Reply.of(Screen(Text.of(text), rows(
        (Button(t("🛒 Back to cart"), A("cart")), menu_button(convo))), toast=text))


def _refusal(convo: Conversation, cart: CartView) -> Reply | None:
    t = convo.t
    if cart.is_empty:
        return Reply.of(cart_screen(convo, cart, note=t("There is nothing to check out.")))
    problems = [line for line in cart.lines if not line.ok]
    if not problems:
        return None
    lines: list[Text | str] = [Text.of(bold(t("Some items cannot be bought as they are:")))]
    lines += [f"• {line.title} — {_issue(convo, line.issue or '')}" for line in problems]
    lines += ["", t("Please change them in your cart, then check out again.")]
    return Reply.of(Screen(Text.lines(*lines), rows(
        (Button(t("🛒 Back to cart"), A("cart")), menu_button(convo))),
        toast=t("Please fix your cart first.")))


def _issue(convo: Conversation, issue: str) -> str:
    t = convo.t
    if issue == "sold out":
        return t("sold out")
    count = issue.removeprefix("only ").removesuffix(" left")
    if issue.startswith("only ") and count.isdigit():
        return t("only {count} left", count=count)
    if issue == "no longer available":
        return t("no longer available")
    return issue


@on_action("co")
async def start(deps: Deps, convo: Conversation, _: Action) -> Reply:
    """From the cart: saved addresses (most recent first) or a new one; digital goods skip it."""
    t = convo.t
    convo.expect(None)
    cart = await deps.shop.carts.view(convo.customer_id)
    refused = _refusal(convo, cart)
    if refused is not None:
        return refused
    convo.state["co"] = {}
    if cart.digital_only:
        return await summary(deps, convo, cart)
    saved = (await deps.shop.customers.addresses(convo.customer_id))[:SAVED_SHOWN]
    if not saved:
        return _ask_field(convo, 0)
    buttons = [(Button(f"📍 {a.one_line}"[:60], A("coaddr", a.id)),) for a in saved]
    return Reply.of(Screen(
        Text.lines(Text.of(bold(t("Checkout"))), t("Where should we deliver?")),
        (*buttons, (Button(t("➕ New address"), A("conew")),),
         (Button(t("🛒 Back to cart"), A("cart")), menu_button(convo)))))


@on_action("conew")
async def new_address(deps: Deps, convo: Conversation, _: Action) -> Reply:
    _co(convo)["draft"] = {}
    return _ask_field(convo, 0)


def _ask_field(convo: Conversation, index: int, problem: str | None = None,
               note: str | None = None) -> Reply:
    t = convo.t
    co = _co(convo)
    co["field"] = index
    draft: dict[str, str] = co.setdefault("draft", {})
    convo.expect(STEP, field=FIELDS[index])
    prompt = {
        "name": t("Who receives the parcel? Type the full name."),
        "street": t("Type the street and house number."),
        "city": t("Type the city."),
        "postcode": t("Type the postcode."),
        "country": t("Type the country: its two-letter code (FR, DE, PL …) or its name."),
    }[FIELDS[index]]
    lines: list[Text | str] = [Text.of(bold(t("New address · step {step} of {steps}",
                                              step=index + 1, steps=len(FIELDS))))]
    typed = [draft[f] for f in FIELDS[:index] if draft.get(f)]
    if typed:
        lines.append(Text.of(italic(", ".join(typed))))
    if problem:
        lines += ["", Text.of(bold(t("That does not work: {reason}", reason=problem)))]
    if note:
        lines += ["", Text.of(bold(note))]
    lines += ["", prompt]
    return Reply.of(Screen(Text.lines(*lines), rows(
        (Button(t("« Back"), A("coback")), Button(t("Cancel"), A("cart"))))))


@on_action("coback")
async def back(deps: Deps, convo: Conversation, _: Action) -> Reply:
    index = _co(convo).get("field")
    if convo.state.get("expect") != STEP or not isinstance(index, int):
        return await start(deps, convo, A("co"))
    if index > 0:
        return _ask_field(convo, index - 1)
    if await deps.shop.customers.addresses(convo.customer_id):
        return await start(deps, convo, A("co"))  # back to the saved addresses
    convo.expect(None)
    return Reply.of(cart_screen(convo, await deps.shop.carts.view(convo.customer_id)))


@on_step(STEP)
async def typed_field(deps: Deps, convo: Conversation, text: str) -> Reply:
    co = _co(convo)
    index = co.get("field")
    if not isinstance(index, int) or not 0 <= index < len(FIELDS):
        return await start(deps, convo, A("co"))
    field = FIELDS[index]
    value = country_code(text) if field == "country" else text
    try:
        clean = validate_address(AddressInput(**{
            **{f: getattr(_PLACEHOLDER, f) for f in FIELDS}, field: value}))
    except InvalidInput as bad:
        return _ask_field(convo, index, bad.message)
    draft: dict[str, str] = co.setdefault("draft", {})
    draft[field] = getattr(clean, field)
    if index + 1 < len(FIELDS):
        return _ask_field(convo, index + 1)
    try:
        address = await deps.shop.customers.add_address(convo.customer_id, AddressInput(
            **{f: draft.get(f, "") for f in FIELDS}))
    except InvalidInput as bad:  # a field lost on the way, or too many saved addresses
        return _ask_field(convo, 0, bad.message)
    convo.expect(None)
    co.pop("draft", None)
    return await shipping(deps, convo, address)


@on_location_step(STEP)
async def located(deps: Deps, convo: Conversation, _: Location) -> Reply:
    # We do not geocode: a shared place cannot fill in the address.
    index = _co(convo).get("field")
    return _ask_field(convo, index if isinstance(index, int) and 0 <= index < len(FIELDS)
                      else 0, note=convo.t("Thanks for the location! We cannot read an address "
                                           "from it, so please type the address."))


@on_action("coaddr")
async def saved_address(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`coaddr:<address_id>`: deliver there (NotAllowed for another customer's address)."""
    address = await deps.shop.customers.address(convo.customer_id, action.int(0))
    convo.expect(None)
    return await shipping(deps, convo, address)


async def _quotes(deps: Deps, cart: CartView, country: str) -> list[ShippingQuote]:
    return await deps.shop.shipping.quotes(country=country, weight_grams=cart.weight_grams,
                                           goods_total=cart.total)


def _price(convo: Conversation, quote: ShippingQuote) -> str:
    return convo.t("free") if quote.free else convo.t.money(quote.price)


async def shipping(deps: Deps, convo: Conversation, address: AddressInfo,
                   note: str | None = None) -> Reply:
    t = convo.t
    cart = await deps.shop.carts.view(convo.customer_id)
    refused = _refusal(convo, cart)
    if refused is not None:
        return refused
    if cart.digital_only:  # an old address button after the cart changed
        return await summary(deps, convo, cart)
    co = _co(convo)
    co["addr"] = address.id
    co.pop("ship", None)
    quotes = await _quotes(deps, cart, address.country)
    lines: list[Text | str] = [Text.of(bold(t("Delivery to:"))), address.one_line]
    if note:
        lines += ["", Text.of(bold(note))]
    back_row: Row = (Button(t("« Other address"), A("co")), Button(t("Cancel"), A("cart")))
    if not quotes:
        lines += ["", t("Sorry, we cannot deliver this parcel to {country}. Choose another "
                        "address, or write to support.", country=address.country)]
        return Reply.of(Screen(Text.lines(*lines), rows(back_row)))
    lines += ["", t("Choose a shipping method:")]
    buttons = [(Button(f"{q.name} — {_price(convo, q)}", A("coship", q.method_id)),)
               for q in quotes]
    return Reply.of(Screen(Text.lines(*lines), (*buttons, back_row)))


@on_action("coship")
async def choose_shipping(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`coship:<method_id>`: then the summary."""
    method_id = action.int(0)
    address_id = _co(convo).get("addr")
    if not isinstance(address_id, int):
        return await start(deps, convo, A("co"))
    _co(convo)["ship"] = method_id
    return await summary(deps, convo)


async def summary(deps: Deps, convo: Conversation, cart: CartView | None = None) -> Reply:
    t = convo.t
    cart = cart or await deps.shop.carts.view(convo.customer_id)
    refused = _refusal(convo, cart)
    if refused is not None:
        return refused
    co = _co(convo)
    lines: list[Text | str] = [Text.of(bold(t("Summary"))), ""]
    for line in cart.lines:
        name = line.title + (f" ({line.options})" if line.options else "")
        lines.append(Text.of(f"• {name} × {line.quantity} — ", t.money(line.line_total)))
    lines += ["", t("Subtotal: {amount}", amount=t.money(cart.subtotal))]
    if cart.discount.minor:
        lines.append(t("Discount ({code}): −{amount}", code=cart.promo_code or "",
                       amount=t.money(cart.discount)))
    total = cart.total
    back = A("cart")
    delivery: list[Text | str] = [t("Delivery: digital, here in the chat")]
    if not cart.digital_only:
        address_id, method_id = co.get("addr"), co.get("ship")
        if not isinstance(address_id, int) or not isinstance(method_id, int):
            return await start(deps, convo, A("co"))
        address = await deps.shop.customers.address(convo.customer_id, address_id)
        quote = next((q for q in await _quotes(deps, cart, address.country)
                      if q.method_id == method_id), None)
        if quote is None:
            return await shipping(deps, convo, address, t(
                "That shipping method is not available for this parcel; choose another."))
        total = total + quote.price
        back = A("coaddr", address.id)
        lines.append(t("Shipping ({method}): {amount}", method=quote.name,
                       amount=_price(convo, quote)))
        delivery = [Text.of(t("Deliver to: "), address.one_line),
                    t("Shipping method: {method}", method=quote.name)]
    lines += [Text.of(bold(t("Total: {amount}", amount=t.money(total)))), "", *delivery]
    return Reply.of(Screen(Text.lines(*lines), rows(
        Button(t("💳 Pay {total}", total=t.money(total)),
               A("copay", cart.version, 0 if cart.digital_only else co["ship"])),
        (Button(t("« Back"), back), Button(t("Cancel"), A("cart"))))))


@on_action("copay")
async def pay(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`copay:<cart version>:<method id, 0 for digital>`: place the order (the same one on a
    double tap) and ask to pay."""
    t = convo.t
    version, method_id = action.int(0), action.int(1)
    co = _co(convo)
    cart = await deps.shop.carts.view(convo.customer_id)
    placed = co.get("order")
    if cart.is_empty and isinstance(placed, int):
        order = await deps.shop.orders.order(convo.actor, placed)
        if order.status == OrderStatus.AWAITING_PAYMENT:
            return await payment_step(deps, convo, order, fresh=False)
        return await settled_screen(deps, convo, order)
    if cart.is_empty:
        return _to_cart(convo, t("This checkout is finished; your cart is empty now."))
    if cart.version != version:
        note = t("Your cart changed since this summary. Please check it again.")
        reply = await summary(deps, convo, cart)
        first = reply.screens[0]
        return Reply.of(Screen(Text.lines(Text.of(bold(note)), "", first.text), first.buttons,
                               toast=note))
    address_id = co.get("addr")
    if not cart.digital_only and not isinstance(address_id, int):
        return await start(deps, convo, A("co"))
    request = CheckoutRequest(convo.customer_id,
                              None if cart.digital_only else address_id,
                              None if cart.digital_only else method_id, language=convo.language)
    try:
        order = await deps.shop.orders.checkout(request)
    except OutOfStock as gone:
        cart = await deps.shop.carts.view(convo.customer_id)
        note = t("Sorry, someone was faster: {reason}. Nothing was reserved or charged.",
                 reason=gone.message)
        return Reply.of(cart_screen(convo, cart, note=note, toast=t("Sorry, out of stock.")))
    except CartEmpty:
        return _to_cart(convo, t("Your cart is empty."))
    except ShippingUnavailable as unavailable:
        address = await deps.shop.customers.address(convo.customer_id, int(address_id or 0))
        return await shipping(deps, convo, address, unavailable.message)
    co["order"] = order.id
    convo.expect(None)
    if order.status != OrderStatus.AWAITING_PAYMENT:
        return await settled_screen(deps, convo, order)
    return await payment_step(deps, convo, order, fresh=True)
