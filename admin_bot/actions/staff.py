"""Owners manage the staff from the bot: list, add with a role, change roles, remove, and
read the audit log. The core refuses anyone else, whatever buttons they found."""

from __future__ import annotations

from admin_bot.context import AdminDeps, Staff
from admin_bot.router import Outcome, Prompt, action, answer, command
from admin_bot.screens.staff import (
    audit_log,
    member_card,
    role_choice,
    role_label,
    staff_list,
)
from bot.flows.actions import Action, Arg
from shop.auth import Permission, require
from shop.errors import InvalidInput, NotFound
from shop.settings import StaffRole

AUDIT_SHOWN = 25


def _role(raw: object) -> StaffRole:
    try:
        return StaffRole(str(raw))
    except ValueError:
        raise InvalidInput(f"{raw!r} is not a role (owner, manager, support)") from None


@command("staff")
async def staff_command(deps: AdminDeps, staff: Staff, args: str) -> Outcome:
    return staff_list(staff, await deps.shop.staff.members(staff.actor))


@action("st.list")
async def list_action(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    return staff_list(staff, await deps.shop.staff.members(staff.actor))


@action("st.v")
async def view(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    members = await deps.shop.staff.members(staff.actor)
    member = next((m for m in members if m.telegram_id == act.int(0)), None)
    if member is None:
        raise NotFound(f"{act.int(0)} is not on the staff")
    return member_card(staff, member)


@action("st.add")
async def add_prompt(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    require(staff.actor, Permission.STAFF)
    return Prompt("staff_add", (), staff.t(
        "The new staff member's Telegram user id (a number; they can get it from "
        "@userinfobot):"), "123456789")


@answer("staff_add")
async def add_id(deps: AdminDeps, staff: Staff, args: tuple[Arg, ...], text: str) -> Outcome:
    require(staff.actor, Permission.STAFF)
    word = text.strip()
    if not word.isdigit() or len(word) > 15 or int(word) == 0:
        raise InvalidInput(staff.t("A Telegram user id is a number such as 123456789."))
    return role_choice(staff, int(word))


@action("st.new")
async def add_with_role(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    member = await deps.shop.staff.add(staff.actor, act.int(0), _role(act.args[1]))
    return staff_list(staff, await deps.shop.staff.members(staff.actor), staff.t(
        "{id} added as {role}. They can open this bot now.", id=member.telegram_id,
        role=role_label(staff, member.role)))


@action("st.role")
async def set_role(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    member = await deps.shop.staff.set_role(staff.actor, act.int(0), _role(act.args[1]))
    return staff_list(staff, await deps.shop.staff.members(staff.actor), staff.t(
        "{id} is now {role}.", id=member.telegram_id, role=role_label(staff, member.role)))


@action("st.rm")
async def remove(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    if act.int(0) == staff.actor.telegram_id:
        raise InvalidInput(staff.t("You cannot remove yourself."))
    await deps.shop.staff.remove(staff.actor, act.int(0))
    return staff_list(staff, await deps.shop.staff.members(staff.actor), staff.t(
        "{id} removed from the staff.", id=act.int(0)))


@command("audit")
async def audit_command(deps: AdminDeps, staff: Staff, args: str) -> Outcome:
    return audit_log(staff, await deps.shop.staff.audit_log(staff.actor, limit=AUDIT_SHOWN))


@action("st.log")
async def audit_action(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    return audit_log(staff, await deps.shop.staff.audit_log(staff.actor, limit=AUDIT_SHOWN))
