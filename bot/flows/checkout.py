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
    progress(convo)["draft"] = {}
    return await _ask_field(deps, convo, 0)


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
    typed = [draft[f] for f in FIELDS[:index] if draft.get(f)]
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
    if index + 1 < len(FIELDS):
        return await _ask_field(deps, convo, index + 1)
    try:
        address = await deps.shop.customers.add_address(convo.customer_id, AddressInput(
            **{f: draft.get(f, "") for f in FIELDS}))
    except InvalidInput as bad:  # a field lost on the way, or too many saved addresses
        return await _ask_field(deps, convo, 0, error_text(convo.t, bad))
    convo.expect(None)
    co.pop("draft", None)
    return await shipping(deps, convo, address)


@on_location_step(STEP)
async def located(deps: Deps, convo: Conversation, _: Location) -> Reply:
    # We do not geocode: a shared place cannot fill in the address.
    index = progress(convo).get("field")
    return await _ask_field(deps, convo, index if isinstance(index, int)
                            and 0 <= index < len(FIELDS) else 0,
                            note=convo.t("Thanks for the location! We cannot read an address "
                                         "from it, so please type the address."))


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
