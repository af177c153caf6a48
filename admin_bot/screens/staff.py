"""The staff list, one member's card, and the audit log, for owners."""

from __future__ import annotations

from admin_bot.context import Staff
from admin_bot.screens.common import A, clip
from bot.flows.screens import Button, Row, Screen, Text, bold, italic
from shop.settings import StaffRole
from shop.staff.service import AuditView, StaffInfo


def role_label(staff: Staff, role: str) -> str:
    t = staff.t
    return {"owner": t("owner"), "manager": t("manager"), "support": t("support")}.get(role,
                                                                                       role)


def staff_list(staff: Staff, members: list[StaffInfo], note: str = "") -> Screen:
    t = staff.t
    parts: list[Text | str] = []
    if note:
        parts += [Text.of(bold(note)), ""]
    parts.append(Text.of(bold(t("Staff ({count}):", count=len(members)))))
    for m in members:
        origin = italic(t(" (from STAFF_IDS)")) if m.from_settings else ""
        parts.append(Text.of(f"{m.telegram_id} {m.name} — {role_label(staff, m.role)}", origin))
    buttons: list[Row] = [(Button(clip(f"✏️ {m.telegram_id} {m.name}", 40),
                                  A("st.v", m.telegram_id)),)
                          for m in members if not m.from_settings]
    buttons.append((Button(t("➕ Add staff…"), A("st.add")),
                    Button(t("📜 Audit log"), A("st.log"))))
    return Screen(Text.lines(*parts), tuple(buttons), toast=note or None)


def member_card(staff: Staff, member: StaffInfo) -> Screen:
    t = staff.t
    text = Text.lines(Text.of(bold(f"{member.telegram_id} {member.name}")),
                      t("Role: {role}", role=role_label(staff, member.role)))
    roles = tuple(Button(("• " if r == member.role else "") + role_label(staff, r),
                         A("st.role", member.telegram_id, r.value)) for r in StaffRole)
    return Screen(text, (roles, (Button(t("🗑 Remove"), A("st.rm", member.telegram_id)),),
                         (Button(t("« Staff"), A("st.list")),)))


def role_choice(staff: Staff, telegram_id: int) -> Screen:
    t = staff.t
    roles = tuple(Button(role_label(staff, r), A("st.new", telegram_id, r.value))
                  for r in StaffRole)
    return Screen(Text.of(t("Which role for {id}?", id=telegram_id)),
                  (roles, (Button(t("« Staff"), A("st.list")),)))


def audit_log(staff: Staff, entries: list[AuditView]) -> Screen:
    t = staff.t
    parts: list[Text | str] = [Text.of(bold(t("Latest staff actions:")))]
    for e in entries:
        change = ""
        if e.before is not None or e.after is not None:
            change = f" {e.before or {}} → {e.after or {}}"
        parts.append(clip(f"{e.at[:16].replace('T', ' ')} {e.actor} {e.action} {e.target}"
                          f"{change}", 200))
    if len(entries) == 0:
        parts.append(t("Nothing yet."))
    text = Text.lines(*parts)
    if len(text.plain) > 3900:
        text = Text.of(clip(text.plain, 3900))
    return Screen(text, ((Button(t("« Staff"), A("st.list")),),))
