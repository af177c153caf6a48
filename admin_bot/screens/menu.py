"""The staff bot's start screen and help: what this staff member's role lets them do."""

from __future__ import annotations

from admin_bot.context import Staff
from admin_bot.screens.common import A
from admin_bot.screens.staff import role_label
from bot.flows.screens import Button, Row, Screen, Text, bold
from shop.auth import Permission


def menu(staff: Staff, shop_name: str) -> Screen:
    t = staff.t
    lines: list[Text | str] = [
        Text.of(bold(t("{shop} — staff", shop=shop_name))),
        t("You are signed in as {role}.", role=role_label(staff, staff.actor.role)), ""]
    buttons: list[Row] = []
    if staff.may(Permission.ORDERS):
        lines += [t("/orders — orders to confirm, to ship, recent; /order 1042 — one order")]
        buttons.append((Button(t("✅ To confirm"), A("o.list", "confirm", 1)),
                        Button(t("🚚 To ship"), A("o.list", "ship", 1))))
    lines += [t("/returns — returns to decide, receive and refund"),
              t("/support — conversations with customers")]
    buttons.append((Button(t("↩️ Returns"), A("r.list", "requested")),
                    Button(t("💬 Support"), A("t.list", "open"))))
    if staff.may(Permission.STOCK):
        lines += [t("/stock name or SKU — find a variant and change its stock"),
                  t("/lowstock — what is under its threshold")]
    if staff.may(Permission.REPORTS):
        lines += [t("/report today|week|month — sales, funnel, returns, with a chart")]
    row: list[Button] = []
    if staff.may(Permission.STOCK):
        row.append(Button(t("⚠️ Low stock"), A("s.low")))
    if staff.may(Permission.REPORTS):
        row.append(Button(t("📊 Today"), A("rep", "today")))
    if row:
        buttons.append(tuple(row))
    if staff.may(Permission.STAFF):
        lines += [t("/staff — add and remove staff, roles; /audit — who did what")]
        buttons.append((Button(t("👥 Staff"), A("st.list")),))
    lines += ["", t("/cancel — stop what you were typing")]
    return Screen(Text.lines(*lines), tuple(buttons))
