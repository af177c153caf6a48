"""Which flow answers an input: commands by name, buttons by action, free text by the step
the conversation is in (a search when it is in none). Business errors become clear
messages in the customer's language; a stale or forged button gets a polite answer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.flows.actions import Action
from bot.flows.context import Conversation, Deps
from bot.flows.error_texts import explain
from bot.flows.inputs import Command, Input, Location, Message, Photo, Press
from bot.flows.screens import Button, Reply, Screen, Text, rows
from shop.errors import ChatshopError, InvalidInput

log = logging.getLogger(__name__)

ActionHandler = Callable[[Deps, Conversation, Action], Awaitable[Reply]]
TextHandler = Callable[[Deps, Conversation, str], Awaitable[Reply]]
PhotoHandler = Callable[[Deps, Conversation, Photo], Awaitable[Reply]]
LocationHandler = Callable[[Deps, Conversation, Location], Awaitable[Reply]]

ACTIONS: dict[str, ActionHandler] = {}
COMMANDS: dict[str, TextHandler] = {}
STEPS: dict[str, TextHandler] = {}
PHOTO_STEPS: dict[str, PhotoHandler] = {}
LOCATION_STEPS: dict[str, LocationHandler] = {}
MAX_TEXT = 4000


H = TypeVar("H")


def _registrar(table: dict[str, H], *names: str) -> Callable[[H], H]:
    """A decorator putting a handler in `table` under each name, once."""
    def register(handler: H) -> H:
        for name in names:
            assert name not in table, f"{name} registered twice"
            table[name] = handler
        return handler
    return register


def on_action(name: str) -> Callable[[ActionHandler], ActionHandler]:
    return _registrar(ACTIONS, name)


def on_command(*names: str) -> Callable[[TextHandler], TextHandler]:
    return _registrar(COMMANDS, *names)


def on_step(name: str) -> Callable[[TextHandler], TextHandler]:
    return _registrar(STEPS, name)


def on_photo_step(name: str) -> Callable[[PhotoHandler], PhotoHandler]:
    return _registrar(PHOTO_STEPS, name)


def on_location_step(name: str) -> Callable[[LocationHandler], LocationHandler]:
    return _registrar(LOCATION_STEPS, name)


def menu_button(convo: Conversation) -> Button:
    return Button(convo.t("« Menu"), Action.make("menu"))


def notice(convo: Conversation, message: str, *, toast: bool = True) -> Reply:
    """A short answer that keeps the customer where they were, with a way back."""
    return Reply.of(Screen(Text.of(message), rows(menu_button(convo)), new_message=True,
                           toast=message if toast else None))


async def respond(deps: Deps, convo: Conversation, received: Input) -> Reply:
    """The screens answering one input from one customer."""
    try:
        return await _dispatch(deps, convo, received)
    except ChatshopError as error:
        if isinstance(error, InvalidInput):  # its message may repeat a phone, an address …
            log.info("customer %s: %s %s (%s)", convo.customer_id, error.code,
                     error.params.get("field", ""), error.reason)
        else:
            log.info("customer %s: %s (%s)", convo.customer_id, error.code, error.message)
        return error_reply(convo, error)


def error_reply(convo: Conversation, error: ChatshopError) -> Reply:
    """The refusal in the customer's language: a heading for the error's code and a sentence
    from its reason and params (the English `error.message` is for logs only)."""
    explained = explain(convo.t, error)
    lines = [explained.heading] + ([explained.detail] if explained.detail else [])
    return Reply.of(Screen(Text.lines(*lines), rows(menu_button(convo)),
                           new_message=True, toast=explained.heading))


async def _dispatch(deps: Deps, convo: Conversation, received: Input) -> Reply:
    t = convo.t
    match received:
        case Command(name=name, arg=arg):
            handler = COMMANDS.get(name.lower())
            if handler is None:
                return notice(convo, t("I don't know that command. Try /start or /help."))
            convo.expect(None)
            return await handler(deps, convo, arg)
        case Press(action=None):
            return stale(convo)
        case Press(action=Action() as action):
            press = ACTIONS.get(action.name)
            if press is None:
                return stale(convo)
            try:
                return await press(deps, convo, action)
            except (ValueError, IndexError):
                return stale(convo)
        case Message(text=text):
            text = text.strip()[:MAX_TEXT]
            step = convo.state.get("expect")
            if step in STEPS:
                return await STEPS[step](deps, convo, text)
            return await STEPS["search"](deps, convo, text)
        case Photo():
            step = convo.state.get("expect")
            if step in PHOTO_STEPS:
                return await PHOTO_STEPS[step](deps, convo, received)
            return notice(convo, t("Thanks for the photo! To show it to us, write to support "
                                   "from the menu."), toast=False)
        case Location():
            step = convo.state.get("expect")
            if step in LOCATION_STEPS:
                return await LOCATION_STEPS[step](deps, convo, received)
            return notice(convo, t("Thanks! A location helps only while you enter an "
                                   "address at checkout."), toast=False)
    return notice(convo, t("Sorry, I can't read that."))


def stale(convo: Conversation) -> Reply:
    return notice(convo, convo.t("This button is no longer valid. Here is the menu again."))
