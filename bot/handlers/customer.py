"""The customer bot's updates: commands, text, button presses, photos, places, and the rest."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import CommandObject, CommandStart
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import CallbackQuery, Message

from bot.flows import respond
from bot.flows.actions import decode
from bot.flows.context import Conversation, Deps
from bot.flows.inputs import Command, Input, Location, Photo, Press
from bot.flows.inputs import Message as TextInput
from bot.handlers.filters import Magic
from bot.handlers.render import Renderer

TOAST_MAX = 200


def customer_router(renderer: Renderer) -> Router:
    router = Router(name="customer")
    router.message.filter(Magic(F.chat.type == ChatType.PRIVATE))
    router.callback_query.filter(Magic(F.message.chat.type == ChatType.PRIVATE))

    async def answer(message: Message, convo: Conversation, deps: Deps,
                     received: Input) -> None:
        reply = await respond(deps, convo, received)
        await renderer.show(message.chat.id, reply.screens)

    @router.message(CommandStart(deep_link=True))
    async def start_link(message: Message, command: CommandObject, convo: Conversation,
                         deps: Deps) -> None:
        await answer(message, convo, deps, Command("start", (command.args or "")[:64]))

    @router.message(Magic(F.text.startswith("/")))
    async def command(message: Message, convo: Conversation, deps: Deps) -> None:
        head, _, arg = (message.text or "").partition(" ")
        name = head[1:].split("@", 1)[0].lower()
        await answer(message, convo, deps, Command(name, arg.strip()[:64]))

    @router.message(Magic(F.text))
    async def text(message: Message, convo: Conversation, deps: Deps) -> None:
        await answer(message, convo, deps, TextInput(message.text or ""))

    @router.message(Magic(F.photo))
    async def photo(message: Message, convo: Conversation, deps: Deps) -> None:
        largest = message.photo[-1] if message.photo else None
        if largest is not None:
            await answer(message, convo, deps, Photo(largest.file_id, message.caption or ""))

    @router.message(Magic(F.location))
    async def location(message: Message, convo: Conversation, deps: Deps) -> None:
        if message.location is not None:
            await answer(message, convo, deps, Location(message.location.latitude,
                                                        message.location.longitude))

    @router.message(Magic(F.successful_payment.is_(None)))
    async def anything_else(message: Message, convo: Conversation) -> None:
        # Stickers, voice, video, files, contacts, polls…: say what works instead.
        await message.answer(convo.t("I can read text, button presses and photos. Type what "
                                     "you are looking for, or send /start for the menu."))

    @router.callback_query()
    async def press(query: CallbackQuery, convo: Conversation, deps: Deps
                    ) -> AnswerCallbackQuery:
        message = query.message if isinstance(query.message, Message) else None
        reply = await respond(deps, convo, Press(decode(query.data)))
        chat_id = message.chat.id if message else query.from_user.id
        await renderer.show(chat_id, reply.screens, pressed=message)
        # Returned, not called: a webhook sends it back in its response (no request of its
        # own); polling calls it. Either way it stops the button's spinner once the new
        # screen is there.
        toast = next((s.toast for s in reply.screens if s.toast), None)
        alert = any(s.alert for s in reply.screens)
        return query.answer((toast or "")[:TOAST_MAX] or None, show_alert=alert)

    return router
