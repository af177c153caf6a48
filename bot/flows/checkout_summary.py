"""Checkout's end: the summary of what will be bought and how it comes, and Pay.

The Pay button carries a token of the cart version, address and method its summary showed.
The order is made from the conversation's choices (`state["co"]`), never from the button,
so a stale or forged Pay button is answered "out of date" with the current summary instead
of paying for other choices; a second tap on the same button finds the same order.
"""

from __future__ import annotations

import hashlib
from typing import Any

from bot.flows.actions import Action
from bot.flows.cart import cart_screen
from bot.flows.checkout import progress, quote_price, quotes_for, refusal, shipping, start, to_cart
from bot.flows.context import Conversation, Deps
from bot.flows.error_texts import error_text
from bot.flows.payment import payment_step, settled_screen
from bot.flows.router import on_action, stale
from bot.flows.screens import Button, Reply, Screen, Text, bold, rows
from shop.cart.types import CartView
from shop.errors import CartEmpty, OutOfStock, ShippingUnavailable
from shop.orders.checkout import CheckoutRequest
from shop.orders.states import OrderStatus
from shop.shipping.types import ShippingQuote

A = Action.make


@on_action("coship")
async def choose_shipping(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`coship:<method_id>`: then the summary."""
    method_id = action.int(0)
    address_id = progress(convo).get("addr")
    if not isinstance(address_id, int):
        return await start(deps, convo, A("co"))
    progress(convo)["ship"] = method_id
    progress(convo).pop("pickup", None)
    return await summary(deps, convo)


@on_action("copick")
async def choose_pickup(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`copick:<method_id>`: collect the order (no address), then the summary."""
    convo.expect(None)
    co = progress(convo)
    co.pop("addr", None)
    co.pop("draft", None)
    co["ship"], co["pickup"] = action.int(0), True
    return await summary(deps, convo)


def _choices(co: dict[str, Any]) -> tuple[int | None, int | None]:
    """The chosen (address id, method id): no address for pickup, None for what is missing."""
    address_id, method_id = co.get("addr"), co.get("ship")
    return (address_id if isinstance(address_id, int) and not co.get("pickup") else None,
            method_id if isinstance(method_id, int) else None)


def checkout_token(version: int, address_id: int | None, method_id: int | None) -> str:
    """What a Pay button must carry: the cart version, address and method of its summary."""
    digest = hashlib.blake2s(f"{version}:{address_id or 0}:{method_id or 0}".encode(),
                             digest_size=5).hexdigest()
    return f"k{digest}"  # never all digits, so it stays a string in the action


async def _delivery(deps: Deps, convo: Conversation, cart: CartView
                    ) -> tuple[ShippingQuote, list[Text | str], Action] | Reply:
    """The chosen method's quote, the summary's delivery lines and its Back action; or the
    screen to choose again when the choice is missing or no longer possible."""
    t = convo.t
    address_id, method_id = _choices(progress(convo))
    if method_id is None or (address_id is None and not progress(convo).get("pickup")):
        return await start(deps, convo, A("co"))
    if address_id is None:
        quote = next((q for q in await quotes_for(deps, cart, None) if q.method_id == method_id),
                     None)
        if quote is None:
            return await start(deps, convo, A("co"))
        return quote, [Text.of(t("Pickup: "), bold(quote.name)),
                       t("No address needed: we tell you here when your order is ready to "
                         "collect.")], A("co")
    address = await deps.shop.customers.address(convo.customer_id, address_id)
    quote = next((q for q in await quotes_for(deps, cart, address.country)
                  if q.method_id == method_id), None)
    if quote is None:
        return await shipping(deps, convo, address, t(
            "That shipping method is not available for this parcel; choose another."))
    return quote, [Text.of(t("Deliver to: "), address.one_line),
                   t("Shipping method: {method}", method=quote.name)], A("coaddr", address.id)


async def summary(deps: Deps, convo: Conversation, cart: CartView | None = None) -> Reply:
    t = convo.t
    cart = cart or await deps.shop.carts.view(convo.customer_id)
    refused = refusal(convo, cart)
    if refused is not None:
        return refused
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
    address_id = method_id = None
    if not cart.digital_only:
        chosen = await _delivery(deps, convo, cart)
        if isinstance(chosen, Reply):
            return chosen
        quote, delivery, back = chosen
        address_id, method_id = _choices(progress(convo))
        total = total + quote.price
        lines.append(t("Shipping ({method}): {amount}", method=quote.name,
                       amount=quote_price(convo, quote)))
    lines += [Text.of(bold(t("Total: {amount}", amount=t.money(total)))), "", *delivery]
    token = checkout_token(cart.version, address_id, method_id)
    return Reply.of(Screen(Text.lines(*lines), rows(
        Button(t("💳 Pay {total}", total=t.money(total)), A("copay", cart.version, token)),
        (Button(t("« Back"), back), Button(t("Cancel"), A("cart"))))))


async def _out_of_date(deps: Deps, convo: Conversation, cart: CartView, note: str) -> Reply:
    """The current summary under a note saying why the pressed Pay button was not used."""
    reply = await summary(deps, convo, cart)
    first = reply.screens[0]
    return Reply.of(Screen(Text.lines(Text.of(bold(note)), "", first.text), first.buttons,
                           photo=first.photo, toast=note))


@on_action("copay")
async def pay(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`copay:<cart version>:<checkout token>`: place the order for the choices the summary
    showed (the same order on a double tap) and ask to pay."""
    t = convo.t
    version, token = action.int(0), action.args[1] if len(action.args) == 2 else None
    if not isinstance(token, str):  # an older or forged button: nothing it says is used
        return stale(convo)
    co = progress(convo)
    cart = await deps.shop.carts.view(convo.customer_id)
    placed = co.get("order")
    if cart.is_empty and isinstance(placed, int):
        order = await deps.shop.orders.order(convo.actor, placed)
        if order.status == OrderStatus.AWAITING_PAYMENT:
            return await payment_step(deps, convo, order, fresh=False)
        return await settled_screen(deps, convo, order)
    if cart.is_empty:
        return to_cart(convo, t("This checkout is finished; your cart is empty now."))
    if cart.version != version:
        return await _out_of_date(deps, convo, cart, t(
            "Your cart changed since this summary. Please check it again."))
    address_id, method_id = (None, None) if cart.digital_only else _choices(co)
    if token != checkout_token(cart.version, address_id, method_id):
        return await _out_of_date(deps, convo, cart, t(
            "This button is out of date: the delivery changed since. Here is the summary as "
            "it is now."))
    request = CheckoutRequest(convo.customer_id, address_id, method_id,
                              language=convo.language)
    try:
        order = await deps.shop.orders.checkout(request)
    except OutOfStock as gone:
        cart = await deps.shop.carts.view(convo.customer_id)
        note = t("Sorry, someone was faster. {reason} Nothing was reserved or charged.",
                 reason=error_text(t, gone))
        return Reply.of(cart_screen(convo, cart, note=note, toast=t("Sorry, out of stock.")))
    except CartEmpty:
        return to_cart(convo, t("Your cart is empty."))
    except ShippingUnavailable as unavailable:
        if address_id is None:
            return await start(deps, convo, A("co"))
        address = await deps.shop.customers.address(convo.customer_id, address_id)
        return await shipping(deps, convo, address, error_text(t, unavailable))
    co["order"] = order.id
    convo.expect(None)
    if order.status != OrderStatus.AWAITING_PAYMENT:
        return await settled_screen(deps, convo, order)
    return await payment_step(deps, convo, order, fresh=True)
