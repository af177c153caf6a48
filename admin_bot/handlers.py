"""The staff bot's updates: commands, button presses, typed answers to prompts and replies to
support alerts. Thin: look the use case up, run it, render what it returns."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, ForceReply, Message

from admin_bot.actions.support import reply_to_thread
from admin_bot.context import AdminDeps, Staff
from admin_bot.router import ACTIONS, ANSWERS, COMMANDS, Outcome, Prompt, WithImage
from admin_bot.screens.menu import menu
from admin_bot.screens.staff import role_label
from bot.flows.actions import decode
from bot.flows.screens import Screen, Text
from bot.handlers.render import Renderer
from shop.errors import ChatshopError, InvalidInput

log = logging.getLogger(__name__)
PROMPT_KEY = "prompt"
TOAST_MAX = 200
SLOW_ACTIONS = frozenset({"rep"})


def support_ref(chat_id: int, message_id: int) -> str:
    """How a support alert's Telegram message is remembered, to route replies to it."""
    return f"telegram:{chat_id}:{message_id}"


def error_text(staff: Staff, error: ChatshopError) -> str:
    t = staff.t
    if error.code in ("not_allowed", "not_your_order"):
        return t("Your role ({role}) may not do this.", role=role_label(staff,
                                                                        staff.actor.role))
    if error.code == "not_found":
        return t("Not found: {detail}", detail=error.message)
    if error.code == "illegal_transition":
        return t("That cannot happen now: {detail}", detail=error.message)
    return t("Not done: {detail}", detail=error.message)


def _thread_of(message: Message) -> int | None:
    """The support thread a message of ours is about, read from its own Answer button (Telegram
    sends the replied-to message with its keyboard, so this needs no lookup and cannot race
    the alert's delivery)."""
    markup = message.reply_markup
    for row in markup.inline_keyboard if markup is not None else ():
        for button in row:
            act = decode(button.callback_data)
            if act is not None and act.name == "t.ans" and act.args:
                with contextlib.suppress(ValueError):
                    return act.int(0)
    return None


def stale(staff: Staff) -> str:
    return staff.t("This button is out of date. Use /start for the menu.")


class StaffScreens:
    """Renders outcomes for one chat: screens, prompts (ForceReply) and errors."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    async def ask(self, staff: Staff, state: FSMContext, prompt: Prompt,
                  error: str | None = None) -> None:
        question = f"{error}\n{prompt.question}" if error else prompt.question
        sent = await self.renderer.bot.send_message(
            staff.chat_id, question + "\n" + staff.t("(/cancel to stop)"),
            reply_markup=ForceReply(input_field_placeholder=prompt.placeholder[:64] or None),
            parse_mode=None)
        await state.update_data({PROMPT_KEY: {
            "kind": prompt.kind, "args": list(prompt.args), "question": prompt.question,
            "placeholder": prompt.placeholder, "message_id": sent.message_id}})

    async def show(self, staff: Staff, state: FSMContext, outcome: Outcome,
                   pressed: Message | None = None) -> None:
        if isinstance(outcome, Prompt):
            await self.ask(staff, state, outcome)
            return
        if isinstance(outcome, WithImage):
            await self.renderer.show(staff.chat_id, (outcome.screen,), pressed=pressed)
            await self.renderer.bot.send_photo(
                staff.chat_id, BufferedInputFile(outcome.png, "chart.png"),
                caption=outcome.caption[:1024] or None, parse_mode=None)
            return
        await self.renderer.show(staff.chat_id, (outcome,), pressed=pressed)

    async def say(self, staff: Staff, text: str) -> None:
        await self.renderer.send(staff.chat_id, Screen(Text.of(text)))


async def _clear_prompt(state: FSMContext) -> dict[str, Any] | None:
    data = await state.get_data()
    prompt = data.get(PROMPT_KEY)
    if prompt is not None:
        await state.update_data({PROMPT_KEY: None})
    return prompt if isinstance(prompt, dict) else None


def staff_router(renderer: Renderer) -> Router:
    router = Router(name="staff")
    screens = StaffScreens(renderer)

    async def run(staff: Staff, work: Callable[[], Awaitable[Outcome]]
                  ) -> tuple[Outcome | None, str | None]:
        try:
            return await work(), None
        except ChatshopError as error:
            log.info("staff %s: %s (%s)", staff.actor.telegram_id, error.message, error.code)
            return None, error_text(staff, error)

    @router.message(F.text.startswith("/"))
    async def on_command(message: Message, staff: Staff, deps: AdminDeps,
                         state: FSMContext) -> None:
        head, _, args = (message.text or "").partition(" ")
        name = head[1:].split("@", 1)[0].lower()
        if name == "cancel":
            had = await _clear_prompt(state)
            await screens.say(staff, staff.t("Cancelled.") if had else staff.t(
                "Nothing to cancel."))
            return
        await _clear_prompt(state)
        if name in ("start", "help", "menu"):
            await screens.show(staff, state, menu(staff, deps.shop.settings.shop_name))
            return
        use_case = COMMANDS.get(name)
        if use_case is None:
            await screens.say(staff, staff.t("Unknown command. /help lists what I can do."))
            return
        outcome, error = await run(staff, lambda: use_case(deps, staff, args[:200]))
        if error is not None:
            await screens.say(staff, error)
        elif outcome is not None:
            await screens.show(staff, state, outcome)

    @router.message(F.text)
    async def on_text(message: Message, staff: Staff, deps: AdminDeps,
                      state: FSMContext) -> None:
        text = message.text or ""
        replied = message.reply_to_message
        prompt = (await state.get_data()).get(PROMPT_KEY)
        if replied is not None and not (prompt and prompt.get("message_id") ==
                                        replied.message_id):
            thread_id = _thread_of(replied) or await deps.shop.support.thread_for_ref(
                support_ref(message.chat.id, replied.message_id))
            if thread_id is not None:
                outcome, error = await run(
                    staff, lambda: reply_to_thread(deps, staff, thread_id, text))
                if outcome is not None:
                    await screens.show(staff, state, outcome)
                else:
                    await screens.say(staff, error or "")
                return
        if not prompt:
            await screens.say(staff, staff.t(
                "I did not ask for anything. /help lists what I can do; to answer a customer, "
                "reply to their message."))
            return
        await _clear_prompt(state)
        use_case = ANSWERS.get(str(prompt.get("kind")))
        if use_case is None:
            await screens.say(staff, stale(staff))
            return
        args = tuple(prompt.get("args") or ())
        try:
            outcome = await use_case(deps, staff, args, text)
        except InvalidInput as error:
            # Ask again with the reason; the staff member fixes the typo or sends /cancel.
            again = Prompt(str(prompt["kind"]), args, str(prompt.get("question") or ""),
                           str(prompt.get("placeholder") or ""))
            await screens.ask(staff, state, again, error_text(staff, error))
            return
        except ChatshopError as error:
            await screens.say(staff, error_text(staff, error))
            return
        await screens.show(staff, state, outcome)

    @router.message()
    async def on_other(message: Message, staff: Staff) -> None:
        # Stickers, voice, photos, locations…: nothing staff can send here needs them.
        await screens.say(staff, staff.t("I only understand commands, text answers and "
                                         "buttons here. /help lists what I can do."))

    @router.callback_query()
    async def on_press(callback: CallbackQuery, staff: Staff, deps: AdminDeps,
                       state: FSMContext) -> None:
        act = decode(callback.data)
        use_case = ACTIONS.get(act.name) if act is not None else None
        pressed = callback.message if isinstance(callback.message, Message) else None
        if act is None or use_case is None:
            await callback.answer(stale(staff), show_alert=True)
            return
        slow = act.name in SLOW_ACTIONS
        if slow:  # answer the press at once; the chart takes a moment
            await callback.answer()
        try:
            outcome, error = await run(staff, lambda: use_case(deps, staff, act))
        except (ValueError, IndexError):  # arguments of the wrong shape: forged or stale
            log.info("staff %s pressed malformed %r", staff.actor.telegram_id, callback.data)
            outcome, error = None, stale(staff)
        if error is not None:
            if slow:
                await screens.say(staff, error)
            else:
                await callback.answer(error[:TOAST_MAX], show_alert=True)
            return
        assert outcome is not None
        if not slow and isinstance(outcome, Screen) and outcome.toast:
            await callback.answer(outcome.toast[:TOAST_MAX])
        elif not slow:
            await callback.answer()
        await _clear_prompt(state)
        await screens.show(staff, state, outcome, pressed)

    return router
