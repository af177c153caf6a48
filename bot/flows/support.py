"""The support chat: the customer writes to the shop (about an order or in general); while
the chat is open every message and photo goes to staff. Answers arrive as notifications."""

from __future__ import annotations

from bot.flows.actions import Action
from bot.flows.context import Conversation, Deps
from bot.flows.error_texts import error_text
from bot.flows.inputs import Photo
from bot.flows.router import menu_button, on_action, on_command, on_photo_step, on_step
from bot.flows.screens import Button, Reply, Screen, Text, bold, rows
from shop.errors import InvalidInput

A = Action.make
STEP = "support"


def _order_id(convo: Conversation) -> int | None:
    data = convo.state.get("expect_data") or {}
    value = data.get("order_id")
    return value if isinstance(value, int) else None


def _writing(convo: Conversation, lines: list[Text | str]) -> Reply:
    t = convo.t
    return Reply.of(Screen(Text.lines(*lines), rows(
        (Button(t("✓ Done"), A("supdone")), menu_button(convo)))))


@on_action("sup")
async def open_chat(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`sup` for a general question, `sup:<order id>` about one of the customer's orders."""
    t = convo.t
    order_id = action.int(0) if action.args else None
    heading = t("Write to us")
    if order_id is not None:
        order = await deps.shop.orders.order(convo.actor, order_id)  # NotYourOrder if not
        heading = t("Write to us about order #{number}", number=order.number)
    convo.expect(STEP, order_id=order_id)
    return _writing(convo, [Text.of(bold(heading)),
                            t("Type your message (you can add photos). We answer here, "
                              "usually within a few hours.")])


@on_command("support")
async def support_command(deps: Deps, convo: Conversation, _: str) -> Reply:
    return await open_chat(deps, convo, A("sup"))


@on_step(STEP)
async def message(deps: Deps, convo: Conversation, text: str) -> Reply:
    t = convo.t
    if not text:
        return _writing(convo, [t("Please type your message.")])
    try:
        await deps.shop.support.customer_message(convo.customer_id, text,
                                                 order_id=_order_id(convo))
    except InvalidInput as refused:
        return _writing(convo, [error_text(t, refused)])
    return _writing(convo, [t("✉️ Sent. We will answer here. You can write more, or press "
                              "Done.")])


@on_photo_step(STEP)
async def photo(deps: Deps, convo: Conversation, sent: Photo) -> Reply:
    t = convo.t
    await deps.shop.support.customer_message(convo.customer_id, sent.caption,
                                             order_id=_order_id(convo),
                                             photo_ids=[sent.file_id])
    return _writing(convo, [t("📷 Photo sent to our team.")])


@on_action("supdone")
async def done(deps: Deps, convo: Conversation, _: Action) -> Reply:
    convo.expect(None)
    t = convo.t
    return Reply.of(Screen(Text.of(t("Thank you! We will answer here.")),
                           rows(menu_button(convo)), toast=t("Thank you!")))
