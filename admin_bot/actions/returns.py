"""Staff use cases on returns: approve, reject with a reason, receive (restock), refund."""

from __future__ import annotations

from admin_bot.context import AdminDeps, Staff
from admin_bot.router import Outcome, Prompt, action, answer, command
from admin_bot.screens.common import parse_amount
from admin_bot.screens.returns import STATUSES, return_card, returns_list
from bot.flows.actions import Action, Arg
from bot.flows.screens import Screen
from shop.errors import InvalidInput

LIST_SIZE = 10


async def _card(deps: AdminDeps, staff: Staff, return_id: int, note: str = "") -> Screen:
    ret = await deps.shop.returns.get(staff.actor, return_id)
    customer = await deps.shop.customers.get(ret.customer_id)
    return return_card(staff, ret, customer, note)


async def _list(deps: AdminDeps, staff: Staff, status: str) -> Screen:
    status = status if status in STATUSES else "requested"
    found = await deps.shop.returns.list(staff.actor, status=status, limit=LIST_SIZE)
    return returns_list(staff, status, found)


@command("returns")
async def returns_command(deps: AdminDeps, staff: Staff, args: str) -> Outcome:
    return await _list(deps, staff, args.strip().lower() or "requested")


@action("r.list")
async def list_action(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    return await _list(deps, staff, str(act.args[0]) if act.args else "requested")


@action("r.view")
async def view(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    return await _card(deps, staff, act.int(0))


@action("r.ok")
async def approve(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    ret = await deps.shop.returns.approve(staff.actor, act.int(0))
    return await _card(deps, staff, ret.id, staff.t(
        "Return approved; the customer was told to send the items back."))


@action("r.no")
async def reject(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    ret = await deps.shop.returns.get(staff.actor, act.int(0))
    return Prompt("return_reject", (ret.id,), staff.t(
        "Why is the return for order #{number} rejected? The customer will read this.",
        number=ret.order_number), staff.t("Reason"))


@answer("return_reject")
async def reject_reason(deps: AdminDeps, staff: Staff, args: tuple[Arg, ...], text: str
                        ) -> Outcome:
    ret = await deps.shop.returns.reject(staff.actor, int(args[0]), text.strip()[:500])
    return await _card(deps, staff, ret.id, staff.t("Return rejected; the customer has "
                                                    "your reason."))


@action("r.recv")
async def receive(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    ret = await deps.shop.returns.receive(staff.actor, act.int(0))
    return await _card(deps, staff, ret.id, staff.t("Items received and back in stock."))


@action("r.ref")
async def refund(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    how = str(act.args[1]) if len(act.args) > 1 else ""
    if how == "part":
        ret = await deps.shop.returns.get(staff.actor, act.int(0))
        return Prompt("return_amount", (ret.id,), staff.t(
            "How much to refund for this return? The items are worth {value}; e.g. 12.50",
            value=staff.t.money(ret.value)), staff.t("Amount"))
    if how != "full":
        raise InvalidInput("unknown refund choice")
    return await _refund(deps, staff, act.int(0), None)


@answer("return_amount")
async def refund_amount(deps: AdminDeps, staff: Staff, args: tuple[Arg, ...], text: str
                        ) -> Outcome:
    ret = await deps.shop.returns.get(staff.actor, int(args[0]))
    amount = parse_amount(text, ret.value.currency)
    if amount <= 0:
        raise InvalidInput(staff.t("The amount must be more than 0."))
    return await _refund(deps, staff, ret.id, amount)


async def _refund(deps: AdminDeps, staff: Staff, return_id: int, amount: int | None
                  ) -> Outcome:
    ret, result = await deps.shop.returns.refund(staff.actor, return_id, amount)
    t = staff.t
    if result.ok:
        note = t("Refunded {amount}.", amount=t.money(result.refunded))
    else:
        note = t("The refund failed: {error}. It stays pending.", error="; ".join(result.failed))
    return await _card(deps, staff, ret.id, note)
