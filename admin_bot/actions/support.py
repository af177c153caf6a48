"""Staff use cases on support: answer (by button or by replying to the alert), read and close
conversations."""

from __future__ import annotations

from admin_bot.context import AdminDeps, Staff
from admin_bot.router import Outcome, Prompt, action, answer, command
from admin_bot.screens.support import thread_screen, threads_list
from bot.flows.actions import Action, Arg
from bot.flows.screens import Screen
from shop.support.types import ThreadStatus

LIST_SIZE = 15


async def _thread(deps: AdminDeps, staff: Staff, thread_id: int, note: str = "") -> Screen:
    return thread_screen(staff, await deps.shop.support.thread(staff.actor, thread_id), note)


async def _list(deps: AdminDeps, staff: Staff, status: str) -> Screen:
    status = status if status in ("open", "closed") else "open"
    found = await deps.shop.support.threads(staff.actor, status=ThreadStatus(status),
                                            limit=LIST_SIZE)
    return threads_list(staff, status, found)


@command("support")
async def support_command(deps: AdminDeps, staff: Staff, args: str) -> Outcome:
    return await _list(deps, staff, args.strip().lower() or "open")


@action("t.list")
async def list_action(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    return await _list(deps, staff, str(act.args[0]) if act.args else "open")


@action("t.view")
async def view(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    return await _thread(deps, staff, act.int(0))


@action("t.ans")
async def answer_prompt(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    thread = await deps.shop.support.thread(staff.actor, act.int(0))
    return Prompt("thread_answer", (thread.id,), staff.t(
        "Your answer to {name}:", name=thread.summary.customer_name or staff.t("(no name)")),
        staff.t("Answer"))


@answer("thread_answer")
async def send_answer(deps: AdminDeps, staff: Staff, args: tuple[Arg, ...], text: str
                      ) -> Outcome:
    return await reply_to_thread(deps, staff, int(args[0]), text)


async def reply_to_thread(deps: AdminDeps, staff: Staff, thread_id: int, text: str) -> Screen:
    await deps.shop.support.staff_reply(staff.actor, thread_id, text)
    return await _thread(deps, staff, thread_id, staff.t("Sent to the customer."))


@action("t.close")
async def close(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    await deps.shop.support.close(staff.actor, act.int(0))
    return await _thread(deps, staff, act.int(0), staff.t("Conversation closed."))
