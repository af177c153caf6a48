"""The cart: lines with − / + / remove, totals, promo code, clear, and the way to checkout."""

from __future__ import annotations

from bot.flows.actions import Action
from bot.flows.context import Conversation, Deps
from bot.flows.error_texts import error_text
from bot.flows.router import menu_button, on_action, on_command, on_step
from bot.flows.screens import Button, Reply, Row, Screen, Text, bold, italic, rows
from shop.cart.types import CartView
from shop.errors import OutOfStock, PromoInvalid

A = Action.make
MAX_CODE = 40


def cart_screen(convo: Conversation, cart: CartView, note: str | None = None,
                toast: str | None = None) -> Screen:
    t = convo.t
    if cart.is_empty:
        text = Text.lines(Text.of(bold(t("Your cart is empty."))),
                          t("Browse the catalog or type what you are looking for."))
        if note:
            text = Text.lines(Text.of(bold(note)), text)
        return Screen(text, rows((Button(t("🛍 Catalog"), A("cats")), menu_button(convo))),
                      toast=toast)
    lines: list[Text | str] = [Text.of(bold(t("Your cart")))]
    buttons: list[Row] = []
    for line in cart.lines:
        name = line.title + (f" ({line.options})" if line.options else "")
        entry = Text.of(f"• {name} × {line.quantity} — ", bold(t.money(line.line_total)))
        if line.issue:
            entry = entry + Text.of(" ", italic(f"⚠ {_issue(convo, line.issue)}"))
        lines.append(entry)
        buttons.append((
            Button("−", A("cdec", line.variant_id)),
            Button(f"{line.quantity} × {line.title}"[:40], A("prod", line.product_id)),
            Button("+", A("cinc", line.variant_id)),
            Button("🗑", A("crm", line.variant_id)),
        ))
    lines += ["", t("Subtotal: {amount}", amount=t.money(cart.subtotal))]
    if cart.promo_code:
        if cart.discount.minor:
            lines.append(t("Promo {code}: −{amount}", code=cart.promo_code,
                           amount=t.money(cart.discount)))
        else:
            why = (error_text(t, cart.promo_error) if cart.promo_error is not None
                   else cart.promo_problem or "")
            lines.append(Text.of(italic(t("Promo {code} does not apply now: {why}",
                                          code=cart.promo_code, why=why))))
    lines.append(Text.of(bold(t("Total: {amount}", amount=t.money(cart.total)))))
    if not cart.digital_only:
        lines.append(t("Delivery is chosen at checkout."))
    if note:
        lines += ["", Text.of(bold(note))]
    promo = (Button(t("✕ Remove promo code"), A("unpromo")) if cart.promo_code
             else Button(t("🏷 Promo code"), A("promo")))
    buttons.append((promo, Button(t("🗑 Empty cart"), A("cclr"))))
    buttons.append((Button(t("✅ Checkout"), A("co")),))
    buttons.append((Button(t("🛍 Continue shopping"), A("cats")), menu_button(convo)))
    return Screen(Text.lines(*lines), tuple(buttons), toast=toast)


def _issue(convo: Conversation, issue: str) -> str:
    t = convo.t
    if issue == "sold out":
        return t("sold out")
    if issue.startswith("only "):
        return t("only {count} left", count=issue.split()[1])
    if issue == "no longer available":
        return t("no longer available")
    return issue


@on_action("cart")
async def view(deps: Deps, convo: Conversation, _: Action) -> Reply:
    convo.expect(None)
    return Reply.of(cart_screen(convo, await deps.shop.carts.view(convo.customer_id)))


@on_command("cart")
async def cart_command(deps: Deps, convo: Conversation, _: str) -> Reply:
    return await view(deps, convo, A("cart"))


async def _change(deps: Deps, convo: Conversation, variant_id: int, delta: int) -> Reply:
    carts = deps.shop.carts
    cart = await carts.view(convo.customer_id)
    line = cart.line(variant_id)
    if line is None:  # an old cart message: show the cart as it is now
        return Reply.of(cart_screen(convo, cart, toast=convo.t("That item is no longer in "
                                                               "your cart.")))
    try:
        cart = await carts.set_quantity(convo.customer_id, variant_id, line.quantity + delta)
    except OutOfStock as short:
        return Reply.of(cart_screen(convo, cart, toast=convo.t("Sorry, no more in stock."),
                                    note=error_text(convo.t, short)))
    return Reply.of(cart_screen(convo, cart))


@on_action("cinc")
async def increase(deps: Deps, convo: Conversation, action: Action) -> Reply:
    return await _change(deps, convo, action.int(0), +1)


@on_action("cdec")
async def decrease(deps: Deps, convo: Conversation, action: Action) -> Reply:
    return await _change(deps, convo, action.int(0), -1)


@on_action("crm")
async def remove(deps: Deps, convo: Conversation, action: Action) -> Reply:
    cart = await deps.shop.carts.remove(convo.customer_id, action.int(0))
    return Reply.of(cart_screen(convo, cart, toast=convo.t("Removed")))


@on_action("cclr")
async def clear(deps: Deps, convo: Conversation, _: Action) -> Reply:
    cart = await deps.shop.carts.clear(convo.customer_id)
    return Reply.of(cart_screen(convo, cart, toast=convo.t("Cart emptied")))


@on_action("promo")
async def ask_promo(deps: Deps, convo: Conversation, _: Action) -> Reply:
    convo.expect("promo")
    return Reply.of(Screen(Text.of(convo.t("Type your promo code:")),
                           rows(Button(convo.t("Cancel"), A("cart")))))


@on_step("promo")
async def enter_promo(deps: Deps, convo: Conversation, text: str) -> Reply:
    t = convo.t
    code = text.strip()
    if not code or len(code) > MAX_CODE:
        return Reply.of(Screen(Text.of(t("That does not look like a promo code. Type it again, "
                                         "or cancel.")), rows(Button(t("Cancel"), A("cart")))))
    try:
        cart = await deps.shop.carts.apply_promo(convo.customer_id, code)
    except PromoInvalid as refused:
        return Reply.of(Screen(Text.lines(Text.of(bold(t("This promo code does not apply."))),
                                          error_text(t, refused),
                                          t("Type another code, or cancel.")),
                               rows(Button(t("Cancel"), A("cart")))))
    convo.expect(None)
    return Reply.of(cart_screen(convo, cart, note=t("Promo code {code} applied.",
                                                    code=cart.promo_code)))


@on_action("unpromo")
async def remove_promo(deps: Deps, convo: Conversation, _: Action) -> Reply:
    cart = await deps.shop.carts.remove_promo(convo.customer_id)
    return Reply.of(cart_screen(convo, cart, toast=convo.t("Promo code removed")))
