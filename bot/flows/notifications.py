"""What the shop tells a customer unprompted, from its events: order confirmed, shipped (with
tracking), delivered, cancelled, refunds, return decisions, and support answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.flows.actions import Action
from bot.flows.context import Conversation, Deps
from bot.flows.payment import receipt_screen
from bot.flows.screens import Button, Screen, Text, bold, rows
from shop.auth import SystemActor
from shop.money import Money

A = Action.make
TOPICS = ("order.paid", "order.status_changed", "refund.issued", "return.status_changed",
          "support.reply")
# Payments made on a web page, not in the chat: the chat has not shown a receipt yet.
OFF_CHAT_PROVIDERS = frozenset({"stripe"})
SYSTEM = SystemActor("notifications")


def _order_button(convo: Conversation, order_id: int) -> Button:
    return Button(convo.t("📦 View order"), A("order", order_id))


async def notification(deps: Deps, convo: Conversation, topic: str,
                       payload: Mapping[str, Any]) -> Screen | None:
    """The message for this event, in the customer's language; None when there is none."""
    t = convo.t
    if topic == "support.reply":
        # Reply on the same subject, so the answer joins the same conversation.
        about = payload.get("order_id")
        reply = A("sup", int(about)) if isinstance(about, int) else A("sup")
        return Screen(Text.lines(Text.of(bold(t("Support answered:"))), str(payload["text"])),
                      rows(Button(t("💬 Reply"), reply), Button(t("« Menu"), A("menu"))),
                      new_message=True)
    order_id = int(payload["order_id"])
    number = payload.get("number")
    if topic == "order.paid":
        if payload.get("provider") not in OFF_CHAT_PROVIDERS:
            return None  # paid in the chat (invoice, test button): the receipt is there
        return receipt_screen(convo, await deps.shop.orders.order(SYSTEM, order_id))
    if topic == "refund.issued":
        amount = Money(str(payload["currency"]), int(payload["amount"]))
        return Screen(Text.of(t("We refunded {amount} for order #{number}.",
                                amount=t.money(amount), number=number)),
                      rows(_order_button(convo, order_id)), new_message=True)
    if topic == "return.status_changed":
        text = {
            "approved": t("Your return for order #{number} is approved. Please send the items "
                          "back.", number=number),
            "rejected": t("Your return for order #{number} was not accepted.", number=number),
            "received": t("We received the items you returned from order #{number}.",
                          number=number),
            "refunded": t("Your return for order #{number} is refunded.", number=number),
        }.get(str(payload.get("to")))
        if text is None:
            return None
        # Staff write a note when they decide; on "refunded" the core's note is the amount.
        note = str(payload.get("note") or "") if payload.get("to") in ("approved",
                                                                        "rejected") else ""
        parts: list[Text | str] = [text]
        if note:
            parts.append(t("Note from the shop: {note}", note=note))
        return Screen(Text.lines(*parts), rows(_order_button(convo, order_id)),
                      new_message=True)
    if topic == "order.status_changed":
        to = str(payload.get("to"))
        if to == "shipped":
            order = await deps.shop.orders.order(SYSTEM, order_id)
            lines: list[Text | str] = [
                     Text.of(bold(t("Your order #{number} is on its way!", number=number))),
                     Text.of(t("Carrier: {carrier}", carrier=order.carrier or "")),
                     Text.of(t("Tracking number: {code}", code=order.tracking_number or ""))]
            buttons = [_order_button(convo, order_id)]
            if order.tracking_url:
                buttons.insert(0, Button(t("🚚 Track the parcel"), url=order.tracking_url))
            return Screen(Text.lines(*lines), rows(buttons), new_message=True)
        text = {
            "confirmed": t("Good news: order #{number} is confirmed and being prepared.",
                           number=number),
            "delivered": t("Order #{number} was delivered. Enjoy! If something is wrong, you "
                           "can ask for a return from the order.", number=number),
            "cancelled": t("Order #{number} was cancelled.", number=number),
            "refunded": None,  # the refund.issued event says it with the amount
        }.get(to)
        if to == "cancelled" and payload.get("action") == "expire":
            text = t("Order #{number} was not paid in time, so we released the items. Your "
                     "cart is still there if you want to try again.", number=number)
        elif to == "cancelled" and str(payload.get("actor", "")).startswith("customer:"):
            return None  # the customer did it and saw the answer already
        if text is None:
            return None
        return Screen(Text.of(text), rows(_order_button(convo, order_id)), new_message=True)
    return None
