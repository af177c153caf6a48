"""Returns: from a delivered order choose lines and quantities, give a reason (a button or
typed), optionally send photos, then ask; the core decides what may be returned.

Progress is kept in `state["ret"]`: the order, the chosen quantities, the reason, photos.
"""

from __future__ import annotations

from typing import Any

from bot.flows.actions import Action
from bot.flows.context import Conversation, Deps
from bot.flows.error_texts import error_text
from bot.flows.inputs import Photo
from bot.flows.orders import order_returns, returnable
from bot.flows.router import menu_button, on_action, on_photo_step, on_step
from bot.flows.screens import Button, Reply, Row, Screen, Text, bold, italic, rows
from shop.errors import InvalidInput
from shop.orders.returns import MAX_PHOTOS, MAX_REASON, ReturnItem
from shop.orders.types import OrderView

A = Action.make
REASON_STEP = "ret_reason"
PHOTO_STEP = "ret_photos"
# Reasons from buttons are stored in English for the staff; the customer sees them translated.
_REASON_TEXT = {"size": "Wrong size", "damaged": "Damaged",
                "described": "Not as described", "mind": "Changed my mind"}
REASONS = tuple(_REASON_TEXT)


def _reason_label(convo: Conversation, code: str) -> str:
    t = convo.t
    return {"size": t("Wrong size"), "damaged": t("Damaged"),
            "described": t("Not as described"), "mind": t("Changed my mind")}[code]


def _back_to_order(convo: Conversation, order_id: int, text: str) -> Reply:
    t = convo.t
    return Reply.of(Screen(Text.of(text), rows(
        (Button(t("📦 View order"), A("order", order_id)), menu_button(convo))), toast=text))


def _lost(convo: Conversation) -> Reply:
    convo.expect(None)
    t = convo.t
    text = t("This return is no longer in progress. Start it again from the order.")
    return Reply.of(Screen(Text.of(text), rows(
        (Button(t("📦 My orders"), A("orders")), menu_button(convo))), toast=text))


def _step_state(convo: Conversation) -> tuple[int, dict[str, Any]] | None:
    """The order and progress of the return the current step belongs to."""
    data = convo.state.get("expect_data")
    order_id = data.get("order") if isinstance(data, dict) else None
    if not isinstance(order_id, int):
        return None
    state = _state(convo, order_id)
    return None if state is None else (order_id, state)


def _state(convo: Conversation, order_id: int) -> dict[str, Any] | None:
    state = convo.state.get("ret")
    if isinstance(state, dict) and state.get("order") == order_id:
        return state
    return None


async def _remaining(deps: Deps, convo: Conversation, order: OrderView) -> dict[int, int]:
    """Per order line, the units not already in a return (rejected ones do not count)."""
    taken: dict[int, int] = {}
    for ret in await order_returns(deps, convo, order.id):
        if ret.status != "rejected":
            for line in ret.lines:
                taken[line.order_line_id] = taken.get(line.order_line_id, 0) + line.quantity
    return {line.id: max(0, line.quantity - taken.get(line.id, 0)) for line in order.lines}


async def _open(deps: Deps, convo: Conversation, order_id: int
                ) -> tuple[OrderView, dict[int, int]] | Reply:
    order = await deps.shop.orders.order(convo.actor, order_id)  # NotYourOrder if forged
    if not returnable(deps, order):
        return _back_to_order(convo, order.id, convo.t(
            "Order #{number} cannot be returned now.", number=order.number))
    remaining = await _remaining(deps, convo, order)
    if not any(remaining.values()):
        return _back_to_order(convo, order.id, convo.t(
            "Everything from this order is already being returned."))
    return order, remaining


def _chosen(state: dict[str, Any]) -> dict[int, int]:
    raw = state.get("qty")
    if not isinstance(raw, dict):
        return {}
    return {int(k): int(v) for k, v in raw.items() if str(k).isdigit() and int(v) > 0}


def _pick_screen(convo: Conversation, order: OrderView, remaining: dict[int, int],
                 chosen: dict[int, int], note: str | None = None) -> Reply:
    t = convo.t
    lines: list[Text | str] = [
        Text.of(bold(t("Return from order #{number}", number=order.number))),
        t("Choose what to send back with − and +, then continue.")]
    if note:
        lines += ["", Text.of(bold(note))]
    buttons: list[Row] = []
    for line in order.lines:
        most = remaining.get(line.id, 0)
        name = line.title + (f" ({line.options})" if line.options else "")
        if most <= 0:
            lines.append(Text.of(italic(t("{item}: already being returned", item=name))))
            continue
        qty = min(chosen.get(line.id, 0), most)
        buttons.append((Button("−", A("retq", order.id, line.id, max(0, qty - 1))),
                        Button(f"{qty}/{most} · {name}"[:40], A("retq", order.id, line.id, qty)),
                        Button("+", A("retq", order.id, line.id, min(most, qty + 1)))))
    buttons.append((Button(t("Continue »"), A("retr", order.id)),))
    buttons.append((Button(t("Cancel"), A("order", order.id)),))
    return Reply.of(Screen(Text.lines(*lines), tuple(buttons)))


@on_action("ret")
async def start(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`ret:<order_id>`: choose the lines and quantities to return."""
    opened = await _open(deps, convo, action.int(0))
    if isinstance(opened, Reply):
        return opened
    order, remaining = opened
    convo.expect(None)
    convo.state["ret"] = {"order": order.id, "qty": {}, "reason": None, "photos": []}
    return _pick_screen(convo, order, remaining, {})


@on_action("retp")
async def pick_again(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`retp:<order_id>`: back to the items, keeping what was chosen."""
    order_id = action.int(0)
    opened = await _open(deps, convo, order_id)
    if isinstance(opened, Reply):
        return opened
    order, remaining = opened
    state = _state(convo, order_id)
    convo.expect(None)
    return _pick_screen(convo, order, remaining, _chosen(state) if state else {})


@on_action("retq")
async def set_quantity(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`retq:<order_id>:<order_line_id>:<quantity>`."""
    order_id, line_id, quantity = action.int(0), action.int(1), action.int(2)
    opened = await _open(deps, convo, order_id)
    if isinstance(opened, Reply):
        return opened
    order, remaining = opened
    state = _state(convo, order_id)
    if state is None:  # an old screen: start over for this order
        state = convo.state["ret"] = {"order": order_id, "qty": {}, "reason": None,
                                      "photos": []}
    convo.expect(None)
    if line_id not in remaining or not 0 <= quantity <= remaining[line_id]:
        return _pick_screen(convo, order, remaining, _chosen(state), convo.t(
            "That quantity cannot be returned."))
    state["qty"] = {**state.get("qty", {}), str(line_id): quantity}
    return _pick_screen(convo, order, remaining, _chosen(state))


def _reason_screen(convo: Conversation, order_id: int, note: str | None = None) -> Reply:
    t = convo.t
    convo.expect(REASON_STEP, order=order_id)
    lines: list[Text | str] = [Text.of(bold(t("Why are you returning it?"))),
                               t("Choose a reason, or type it in your own words.")]
    if note:
        lines += ["", Text.of(bold(note))]
    buttons = [(Button(_reason_label(convo, code), A("retw", order_id, code)),)
               for code in REASONS]
    return Reply.of(Screen(Text.lines(*lines), (
        *buttons, (Button(t("Other — type it"), A("retw", order_id, "other")),),
        (Button(t("« Back"), A("retp", order_id)), Button(t("Cancel"), A("order", order_id))))))


@on_action("retr")
async def ask_reason(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`retr:<order_id>`: the chosen items are set; now the reason."""
    order_id = action.int(0)
    state = _state(convo, order_id)
    if state is None or not _chosen(state):
        opened = await _open(deps, convo, order_id)
        if isinstance(opened, Reply):
            return opened
        order, remaining = opened
        return _pick_screen(convo, order, remaining, _chosen(state or {}), convo.t(
            "Choose at least one item to return."))
    return _reason_screen(convo, order_id)


@on_action("retw")
async def reason_button(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`retw:<order_id>:<reason code>` (`other`: the customer types it)."""
    order_id, code = action.int(0), str(action.args[1])
    state = _state(convo, order_id)
    if state is None or not _chosen(state):
        return _lost(convo)
    if code == "other":
        convo.expect(REASON_STEP, order=order_id)
        return Reply.of(Screen(Text.of(convo.t("Type the reason in a few words:")), rows(
            (Button(convo.t("« Back"), A("retr", order_id)),
             Button(convo.t("Cancel"), A("order", order_id))))))
    if code not in _REASON_TEXT:
        raise ValueError(code)
    state["reason"] = _REASON_TEXT[code]
    return _photo_screen(convo, order_id, state)


@on_step(REASON_STEP)
async def typed_reason(deps: Deps, convo: Conversation, text: str) -> Reply:
    found = _step_state(convo)
    if found is None:
        return _lost(convo)
    order_id, state = found
    if not text or len(text) > MAX_REASON:
        return _reason_screen(convo, order_id, convo.t(
            "Please type a reason of at most {count} characters.", count=MAX_REASON))
    state["reason"] = text
    return _photo_screen(convo, order_id, state)


def _photo_screen(convo: Conversation, order_id: int, state: dict[str, Any],
                  note: str | None = None) -> Reply:
    t = convo.t
    convo.expect(PHOTO_STEP, order=order_id)
    photos = state.get("photos") or []
    lines: list[Text | str] = [
        Text.of(bold(t("Photos (optional)"))),
        t("Send photos of the items if you like (up to {count}), then press Done.",
          count=MAX_PHOTOS)]
    if photos:
        lines.append(Text.of(italic(t("Photos received: {count}", count=len(photos)))))
    if note:
        lines += ["", Text.of(bold(note))]
    submit = (Button(t("✅ Done — send the request"), A("rets", order_id)) if photos
              else Button(t("Skip photos"), A("rets", order_id)))
    return Reply.of(Screen(Text.lines(*lines), rows(
        submit, (Button(t("« Back"), A("retr", order_id)),
                 Button(t("Cancel"), A("order", order_id))))))


@on_photo_step(PHOTO_STEP)
async def photo(deps: Deps, convo: Conversation, received: Photo) -> Reply:
    found = _step_state(convo)
    if found is None:
        return _lost(convo)
    order_id, state = found
    photos: list[str] = list(state.get("photos") or [])
    if len(photos) >= MAX_PHOTOS:
        return _photo_screen(convo, order_id, state, convo.t(
            "That is enough photos ({count}). Press Done to send the request.",
            count=MAX_PHOTOS))
    if received.file_id not in photos:
        photos.append(received.file_id[:255])
    state["photos"] = photos
    return _photo_screen(convo, order_id, state)


@on_step(PHOTO_STEP)
async def photo_text(deps: Deps, convo: Conversation, text: str) -> Reply:
    found = _step_state(convo)
    if found is None:
        return _lost(convo)
    order_id, state = found
    return _photo_screen(convo, order_id, state, convo.t(
        "Please send a photo, or press the button below."))


@on_action("rets")
async def submit(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`rets:<order_id>`: ask for the return."""
    t = convo.t
    order_id = action.int(0)
    state = _state(convo, order_id)
    chosen = _chosen(state) if state else {}
    if state is None or not chosen or not state.get("reason"):
        return _lost(convo)
    items = [ReturnItem(line_id, quantity) for line_id, quantity in chosen.items()]
    try:
        ret = await deps.shop.returns.request(
            convo.actor, order_id, items, str(state["reason"]),
            tuple(state.get("photos") or ()))
    except InvalidInput as refused:
        opened = await _open(deps, convo, order_id)
        if isinstance(opened, Reply):
            return opened
        order, remaining = opened
        state["qty"] = {}
        return _pick_screen(convo, order, remaining, {}, error_text(t, refused))
    convo.expect(None)
    convo.state.pop("ret", None)
    lines: list[Text | str] = [
        Text.of(bold(t("Return requested for order #{number}.", number=ret.order_number))), "",
        *[f"• {line.title}" + (f" ({line.options})" if line.options else "")
          + f" × {line.quantity}" for line in ret.lines],
        "", t("Reason: {reason}", reason=ret.reason)]
    if ret.photo_ids:
        lines.append(t("Photos: {count}", count=len(ret.photo_ids)))
    lines += ["", t("We will review it and tell you here what happens next.")]
    return Reply.of(Screen(Text.lines(*lines), rows(
        (Button(t("📦 View order"), A("order", order_id)), menu_button(convo))),
        toast=t("Return requested")))
