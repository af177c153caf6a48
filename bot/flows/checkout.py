"""Checkout: how the order reaches the customer, then the summary and Pay.

Physical goods go to an address (saved, or typed step by step) by a delivery method, or are
collected with a pickup method, which needs no address: the first checkout screen offers
pickup next to the addresses, and the delivery methods after an address leave pickup out.

The conversation keeps its progress in `state["co"]`: the chosen address (none for pickup)
and method and, once placed, the order. The summary and Pay are in `checkout_summary`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.flows.actions import Action
from bot.flows.cart import cart_screen
from bot.flows.checkout_place import place_fields, place_text
from bot.flows.context import Conversation, Deps
from bot.flows.countries import country_code
from bot.flows.error_texts import error_text
from bot.flows.inputs import Location
from bot.flows.payment import receipt_screen as receipt_screen
from bot.flows.router import menu_button, on_action, on_location_step, on_step
from bot.flows.screens import Button, Reply, Row, Screen, Text, bold, italic, rows
from shop.cart.types import CartView
from shop.customers.service import validate_address
from shop.customers.types import AddressInfo, AddressInput
from shop.errors import InvalidInput
from shop.shipping.types import ShippingQuote

A = Action.make
STEP = "coaddr"
FIELDS = ("name", "street", "city", "postcode", "country")
SAVED_SHOWN = 5
# Valid stand-ins for the fields not typed yet, so the core's rules judge one field at a time.
_PLACEHOLDER = AddressInput(name="x", street="x", city="x", postcode="00000", country="FR")


def progress(convo: Conversation) -> dict[str, Any]:
    state = convo.state.get("co")
    if not isinstance(state, dict):
        state = convo.state["co"] = {}
    return state


def to_cart(convo: Conversation, text: str) -> Reply:
    t = convo.t
    return Reply.of(Screen(Text.of(text), rows(
        (Button(t("🛒 Back to cart"), A("cart")), menu_button(convo))), toast=text))


def refusal(convo: Conversation, cart: CartView) -> Reply | None:
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


async def _pickups(deps: Deps, cart: CartView) -> list[ShippingQuote]:
    """The methods that need no address (pickup) for this cart; none for digital goods."""
    if cart.digital_only or cart.is_empty:
        return []
    return await quotes_for(deps, cart, None)


async def _summary(deps: Deps, convo: Conversation, cart: CartView) -> Reply:
    # The summary comes after these steps and goes back to them: imported when needed.
    from bot.flows.checkout_summary import summary

    return await summary(deps, convo, cart)


def _pickup_buttons(convo: Conversation, pickups: Sequence[ShippingQuote]) -> list[Row]:
    return [(Button(f"🏬 {q.name} — {quote_price(convo, q)}", A("copick", q.method_id)),)
            for q in pickups]


@on_action("co")
async def start(deps: Deps, convo: Conversation, _: Action) -> Reply:
    """From the cart: pickup, or a saved address (most recent first) or a new one; digital
    goods skip it."""
    t = convo.t
    convo.expect(None)
    cart = await deps.shop.carts.view(convo.customer_id)
    refused = refusal(convo, cart)
    if refused is not None:
        return refused
    convo.state["co"] = {}
    if cart.digital_only:
        return await _summary(deps, convo, cart)
    saved = (await deps.shop.customers.addresses(convo.customer_id))[:SAVED_SHOWN]
    if not saved:
        return await _ask_field(deps, convo, 0)
    pickups = await _pickups(deps, cart)
    buttons = [(Button(f"📍 {a.one_line}"[:60], A("coaddr", a.id)),) for a in saved]
    lines: list[Text | str] = [Text.of(bold(t("Checkout"))), t("Where should we deliver?")]
    if pickups:
        lines.append(t("Or collect the order yourself: no address needed."))
    return Reply.of(Screen(Text.lines(*lines), (
        *buttons, (Button(t("➕ New address"), A("conew")),), *_pickup_buttons(convo, pickups),
        (Button(t("🛒 Back to cart"), A("cart")), menu_button(convo)))))


@on_action("conew")
async def new_address(deps: Deps, convo: Conversation, _: Action) -> Reply:
    co = progress(convo)
    co["draft"] = {}
    co.pop("place", None)
    return await _ask_field(deps, convo, 0)


def _hinted(co: dict[str, Any]) -> list[str]:
    """The fields a shared place filled in (see checkout_place)."""
    place = co.get("place")
    hinted = place.get("fields") if isinstance(place, dict) else None
    return [f for f in hinted if f in FIELDS] if isinstance(hinted, list) else []


def _next_field(co: dict[str, Any], index: int) -> int:
    """The first field from `index` on still to type: those a place filled are skipped."""
    hinted, draft = _hinted(co), co.get("draft") or {}
    while index < len(FIELDS) and FIELDS[index] in hinted and draft.get(FIELDS[index]):
        index += 1
    return index


async def _ask_field(deps: Deps, convo: Conversation, index: int, problem: str | None = None,
                     note: str | None = None) -> Reply:
    t = convo.t
    co = progress(convo)
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
    hinted = _hinted(co)
    typed = [draft[f] for i, f in enumerate(FIELDS)
             if draft.get(f) and (i < index or (f in hinted and i != index))]
    if typed:
        lines.append(Text.of(italic(", ".join(typed))))
    if problem:
        lines += ["", Text.of(bold(t("That does not work: {reason}", reason=problem)))]
    if note:
        lines += ["", Text.of(bold(note))]
    lines += ["", prompt]
    pickups: list[ShippingQuote] = []
    if index == 0:  # before typing an address, a customer may still choose to collect it
        pickups = await _pickups(deps, await deps.shop.carts.view(convo.customer_id))
    if pickups:
        lines += ["", Text.of(italic(t("Or collect the order yourself: no address needed.")))]
    return Reply.of(Screen(Text.lines(*lines), (*_pickup_buttons(convo, pickups), (
        Button(t("« Back"), A("coback")), Button(t("Cancel"), A("cart"))))))


@on_action("coback")
async def back(deps: Deps, convo: Conversation, _: Action) -> Reply:
    index = progress(convo).get("field")
    if convo.state.get("expect") != STEP or not isinstance(index, int):
        return await start(deps, convo, A("co"))
    if index > 0:
        return await _ask_field(deps, convo, index - 1)
    if await deps.shop.customers.addresses(convo.customer_id):
        return await start(deps, convo, A("co"))  # back to the saved addresses
    convo.expect(None)
    return Reply.of(cart_screen(convo, await deps.shop.carts.view(convo.customer_id)))


@on_step(STEP)
async def typed_field(deps: Deps, convo: Conversation, text: str) -> Reply:
    co = progress(convo)
    index = co.get("field")
    if not isinstance(index, int) or not 0 <= index < len(FIELDS):
        return await start(deps, convo, A("co"))
    field = FIELDS[index]
    value = country_code(text) if field == "country" else text
    try:
        clean = validate_address(AddressInput(**{
            **{f: getattr(_PLACEHOLDER, f) for f in FIELDS}, field: value}))
    except InvalidInput as bad:
        return await _ask_field(deps, convo, index, error_text(convo.t, bad))
    draft: dict[str, str] = co.setdefault("draft", {})
    draft[field] = getattr(clean, field)
    following = _next_field(co, index + 1)
    if following < len(FIELDS):
        return await _ask_field(deps, convo, following)
    return await _save_draft(deps, convo)


async def _save_draft(deps: Deps, convo: Conversation) -> Reply:
    co = progress(convo)
    draft: dict[str, str] = co.setdefault("draft", {})
    place = co.get("place") if isinstance(co.get("place"), dict) else {}
    pin = place.get("pin") if isinstance(place, dict) else None
    latitude, longitude = pin if isinstance(pin, list) and len(pin) == 2 else (None, None)
    try:
        address = await deps.shop.customers.add_address(convo.customer_id, AddressInput(
            **{f: draft.get(f, "") for f in FIELDS}, latitude=latitude, longitude=longitude))
    except InvalidInput as bad:  # a field lost on the way, or too many saved addresses
        return await _ask_field(deps, convo, 0, error_text(convo.t, bad))
    convo.expect(None)
    co.pop("draft", None)
    co.pop("place", None)
    return await shipping(deps, convo, address)


@on_location_step(STEP)
async def located(deps: Deps, convo: Conversation, place: Location) -> Reply:
    """A place shared while typing the address: what its text clearly says fills the fields
    not typed yet, its coordinates are kept for the courier, and only what is missing is
    asked (see checkout_place)."""
    t = convo.t
    co = progress(convo)
    current = co.get("field")
    index = current if isinstance(current, int) and 0 <= current < len(FIELDS) else 0
    draft: dict[str, str] = co.setdefault("draft", {})
    found = place_fields(place.address)
    # Fields before the current step were typed by the customer: the place does not
    # overwrite them; the recipient's name never comes from a place.
    filled = [f for i, f in enumerate(FIELDS) if i >= index and f != "name" and f in found]
    for field in filled:
        draft[field] = found[field]
    co["place"] = {"pin": [place.latitude, place.longitude], "fields": filled}
    if not filled:
        return await _ask_field(deps, convo, index, note=t(
            "Thanks for the location! We keep it for the courier, but we cannot read an "
            "address from it, so please type the address."))
    following = _next_field(co, index)
    if following >= len(FIELDS):
        return await _save_draft(deps, convo)
    shown = place_text(place.name, place.address)
    return await _ask_field(deps, convo, following, note=t(
        "Thanks! From your location: {place}. Type only what is missing.", place=shown))


@on_action("coaddr")
async def saved_address(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`coaddr:<address_id>`: deliver there (NotAllowed for another customer's address)."""
    address = await deps.shop.customers.address(convo.customer_id, action.int(0))
    convo.expect(None)
    return await shipping(deps, convo, address)


async def quotes_for(deps: Deps, cart: CartView, country: str | None) -> list[ShippingQuote]:
    """Delivery methods to the country, or with None the pickup methods."""
    quotes = await deps.shop.shipping.quotes(country=country, weight_grams=cart.weight_grams,
                                             goods_total=cart.total)
    return [q for q in quotes if q.needs_address == (country is not None)]


def quote_price(convo: Conversation, quote: ShippingQuote) -> str:
    return convo.t("free") if quote.free else convo.t.money(quote.price)


async def shipping(deps: Deps, convo: Conversation, address: AddressInfo,
                   note: str | None = None) -> Reply:
    t = convo.t
    cart = await deps.shop.carts.view(convo.customer_id)
    refused = refusal(convo, cart)
    if refused is not None:
        return refused
    if cart.digital_only:  # an old address button after the cart changed
        return await _summary(deps, convo, cart)
    co = progress(convo)
    co["addr"] = address.id
    co.pop("ship", None)
    co.pop("pickup", None)
    quotes = await quotes_for(deps, cart, address.country)
    lines: list[Text | str] = [Text.of(bold(t("Delivery to:"))), address.one_line]
    if note:
        lines += ["", Text.of(bold(note))]
    back_row: Row = (Button(t("« Other address"), A("co")), Button(t("Cancel"), A("cart")))
    if not quotes:
        lines += ["", t("Sorry, we cannot deliver this parcel to {country}. Choose another "
                        "address, or write to support.", country=address.country)]
        if await _pickups(deps, cart):
            lines.append(t("You can also go back and collect the order yourself."))
        return Reply.of(Screen(Text.lines(*lines), rows(back_row)))
    lines += ["", t("Choose a shipping method:")]
    buttons = [(Button(f"{q.name} — {quote_price(convo, q)}", A("coship", q.method_id)),)
               for q in quotes]
    return Reply.of(Screen(Text.lines(*lines), (*buttons, back_row)))
