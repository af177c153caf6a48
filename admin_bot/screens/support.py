"""Support as staff see it: the alert for a customer's message, threads and their messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from admin_bot.context import Staff
from admin_bot.screens.common import A, clip, status_label, when
from bot.flows.screens import Button, Row, Screen, Text, bold, italic
from shop.support.types import MessageAuthor, ThreadSummary, ThreadView

SHOWN_MESSAGES = 15


def _subject(staff: Staff, order_number: object) -> str:
    if order_number:
        return staff.t("about order #{number}", number=order_number)
    return staff.t("general question")


def support_alert(staff: Staff, payload: Mapping[str, Any]) -> Screen:
    t = staff.t
    thread_id = int(payload["thread_id"])
    name = str(payload.get("customer_name") or t("(no name)"))
    heading = t("💬 {name} writes ({subject}):", name=name,
                subject=_subject(staff, payload.get("order_number")))
    parts: list[Text | str] = [Text.of(bold(heading)), clip(str(payload.get("text") or ""))]
    photos = payload.get("photo_ids") or []
    if photos:
        parts.append(Text.of(italic(t("{count} photos attached.", count=len(photos)))))
    parts.append(Text.of(italic(t("Reply to this message to answer."))))
    buttons: list[Row] = [(Button(t("↩️ Answer"), A("t.ans", thread_id)),
                           Button(t("📜 Thread"), A("t.view", thread_id)))]
    if payload.get("order_id"):
        buttons.append((Button(t("📋 Order"), A("o.view", int(payload["order_id"]))),))
    return Screen(Text.lines(*parts), tuple(buttons), new_message=True)


def thread_screen(staff: Staff, thread: ThreadView, note: str = "") -> Screen:
    t, s = staff.t, thread.summary
    parts: list[Text | str] = []
    if note:
        parts += [Text.of(bold(note)), ""]
    parts.append(Text.of(bold(t("Conversation {id} with {name}", id=s.id,
                                name=s.customer_name or t("(no name)"))), " · ",
                         italic(status_label(t, s.status))))
    parts.append(_subject(staff, s.order_number))
    shown = thread.messages[-SHOWN_MESSAGES:]
    if len(thread.messages) > len(shown):
        parts.append(Text.of(italic(t("… {count} earlier messages",
                                      count=len(thread.messages) - len(shown)))))
    for message in shown:
        who = (t("Customer") if message.author == MessageAuthor.CUSTOMER
               else t("Staff"))
        extra = f" [📷 {len(message.photo_ids)}]" if message.photo_ids else ""
        parts.append(Text.of(bold(f"{when(message.created_at)} {who}:"), " ",
                             clip(message.text, 600) + extra))
    buttons: list[Row] = [(Button(t("↩️ Answer"), A("t.ans", s.id)),)]
    if s.status == "open":
        buttons[0] += (Button(t("✔️ Close"), A("t.close", s.id)),)
    if s.order_id:
        buttons.append((Button(t("📋 Order"), A("o.view", s.order_id)),))
    buttons.append((Button(t("« Conversations"), A("t.list", s.status)),))
    text = Text.lines(*parts)
    if len(text.plain) > 3900:
        text = Text.of(clip(text.plain, 3900))
    return Screen(text, tuple(buttons), toast=note or None)


def threads_list(staff: Staff, status: str, threads: list[ThreadSummary]) -> Screen:
    t = staff.t
    tabs = tuple(Button(("• " if s == status else "") + status_label(t, s), A("t.list", s))
                 for s in ("open", "closed"))
    heading = (t("Conversations ({status}):", status=status_label(t, status)) if threads
               else t("No {status} conversations.", status=status_label(t, status)))
    items: list[Row] = [(Button(clip(
        f"{s.customer_name or '?'} · {_subject(staff, s.order_number)} · {s.last_message}", 60),
        A("t.view", s.id)),) for s in threads]
    return Screen(Text.of(bold(heading)), (tabs, *items))
