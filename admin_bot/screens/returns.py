"""Returns as staff see them: the alert, the card with the next step, and the list."""

from __future__ import annotations

from admin_bot.context import Staff
from admin_bot.screens.common import A, clip, status_label, when
from bot.flows.screens import Button, Row, Screen, Text, bold, italic
from shop.auth import Permission
from shop.customers.types import CustomerInfo
from shop.orders.types import ReturnView

STATUSES = ("requested", "approved", "received")


def return_actions(staff: Staff, ret: ReturnView) -> list[Row]:
    t, rid = staff.t, ret.id
    if not staff.may(Permission.RETURNS):
        return []
    if ret.status == "requested":
        return [(Button(t("✅ Approve"), A("r.ok", rid)), Button(t("✋ Reject…"), A("r.no", rid)))]
    if ret.status == "approved":
        return [(Button(t("📦 Mark received (restock)"), A("r.recv", rid)),)]
    if ret.status == "received":
        return [(Button(t("💸 Refund {amount}", amount=t.money(ret.value)),
                        A("r.ref", rid, "full")),),
                (Button(t("💸 Refund another amount…"), A("r.ref", rid, "part")),)]
    return []


def _body(staff: Staff, ret: ReturnView, customer: CustomerInfo, heading: str) -> Text:
    t = staff.t
    lines = [f"{line.quantity} × {line.title}" + (f" ({line.options})" if line.options else "")
             + f" — {t.money(line.unit_price.times(line.quantity))}" for line in ret.lines]
    parts: list[Text | str] = [
        Text.of(bold(heading), " · ", italic(status_label(t, ret.status))),
        t("Customer: {who}", who=f"{customer.name or t('(no name)')} · {customer.channel}"),
        t("Requested {at}", at=when(ret.created_at)), "", *lines,
        t("Value: {amount}", amount=t.money(ret.value)),
        t("Reason: {reason}", reason=clip(ret.reason, 1500))]
    if ret.photo_ids:
        parts.append(t("{count} photos from the customer.", count=len(ret.photo_ids)))
    if ret.staff_note:
        parts.append(t("Our note: {note}", note=ret.staff_note))
    if ret.refund_amount.minor:
        parts.append(t("Refunded: {amount}", amount=t.money(ret.refund_amount)))
    return Text.lines(*parts)


def return_alert(staff: Staff, ret: ReturnView, customer: CustomerInfo) -> Screen:
    heading = staff.t("↩️ Return requested for order #{number}", number=ret.order_number)
    buttons = [*return_actions(staff, ret),
               (Button(staff.t("📋 Order"), A("o.view", ret.order_id)),
                Button(staff.t("💬 Message customer"), A("o.msg", ret.order_id)))]
    return Screen(_body(staff, ret, customer, heading), tuple(buttons), new_message=True)


def return_card(staff: Staff, ret: ReturnView, customer: CustomerInfo, note: str = ""
                ) -> Screen:
    t = staff.t
    heading = t("Return {id} for order #{number}", id=ret.id, number=ret.order_number)
    body = _body(staff, ret, customer, heading)
    if note:
        body = Text.lines(Text.of(bold(note)), "", body)
    buttons = [*return_actions(staff, ret),
               (Button(t("📋 Order"), A("o.view", ret.order_id)),
                Button(t("« Returns"), A("r.list", "requested")))]
    return Screen(body, tuple(buttons), toast=note or None)


def returns_list(staff: Staff, status: str, returns: list[ReturnView]) -> Screen:
    t = staff.t
    tabs = tuple(Button(("• " if s == status else "") + status_label(t, s), A("r.list", s))
                 for s in STATUSES)
    heading = (t("Returns: {status}", status=status_label(t, status)) if returns
               else t("No returns are {status}.", status=status_label(t, status)))
    items: list[Row] = [(Button(
        f"#{r.order_number} · {t.money(r.value)} · {clip(r.reason, 30)}", A("r.view", r.id)),)
        for r in returns]
    return Screen(Text.of(bold(heading)), (tabs, *items))
