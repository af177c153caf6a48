"""A chat in the terminal on the same flows as Telegram: numbered buttons, free text, commands.

Typing a number presses that button of the latest screen, `/start` and friends are
commands, anything else is a message (a search outside other steps). Lines starting
with `:` are for the terminal itself: `:photo NAME`, `:location LAT LON`, `:say TEXT`
(send a number as text), `:help`, `:quit`. The conversation lives in memory for the
session; the customer is the `terminal` channel's `customer_external_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from dataclasses import dataclass, field
from typing import TextIO

from bot.channels.terminal_render import render_screen
from bot.flows import respond
from bot.flows.context import Capabilities, Conversation, Deps
from bot.flows.inputs import Command, Input, Location, Message, Photo, Press
from bot.flows.screens import Button, Reply
from bot.i18n import pick_language

log = logging.getLogger(__name__)
# No native payment sheet here: the checkout flow offers the built-in test provider.
TERMINAL = Capabilities(invoices=False, inline_photos=True, max_buttons=100)
COMMAND_ARG_MAX = 64
ECHO_MAX = 80
BUTTON_DIGITS = 6


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: not a terminal
        return False


async def _read_line(stream: TextIO) -> str:
    """The next line ("" at end of input) without blocking the event loop.

    One daemon thread per line, started only when a line is wanted: nothing is read
    ahead of what the chat asks for, and Ctrl+C never waits for a pending read.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def deliver(line: str | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(line or "")

    def work() -> None:
        try:
            line, error = stream.readline(), None
        except BaseException as problem:  # handed to the awaiting coroutine
            line, error = None, problem
        # RuntimeError: the loop is gone, so nobody waits for this line any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, line, error)

    threading.Thread(target=work, name="terminal-input", daemon=True).start()
    return await future


@dataclass
class TerminalChat:
    """One customer's session: turns lines into flow inputs and screens into lines."""

    deps: Deps
    convo: Conversation
    out: TextIO
    ansi: bool = False
    keyboard: list[Button] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def hint(self) -> None:
        self.say(self.convo.t("(type a number to press a button, or just type what you are "
                              "looking for; :quit to leave)"))

    async def handle(self, line: str) -> bool:
        """Answer one line; False when the customer leaves."""
        text = line.strip()
        if not text:
            self.hint()
            return True
        if text.startswith(":"):
            return await self._terminal_command(text)
        if text.startswith("/"):
            head, _, arg = text.partition(" ")
            name = head[1:].split("@", 1)[0].lower()
            await self.send(Command(name, arg.strip()[:COMMAND_ARG_MAX]))
            return True
        if text.isascii() and text.isdigit() and len(text) <= BUTTON_DIGITS:
            await self._press(int(text), text)
            return True
        await self.send(Message(text))
        return True

    async def _press(self, number: int, text: str) -> None:
        t = self.convo.t
        if 1 <= number <= len(self.keyboard):
            button = self.keyboard[number - 1]
            if button.url is not None:
                self.say(t("Open this link in your browser: {url}", url=button.url))
            else:
                await self.send(Press(button.action))
            return
        if self.convo.state.get("expect"):
            # A step waits for text (a postcode, a quantity…): a number that is no
            # button is what the customer typed.
            await self.send(Message(text))
        elif self.keyboard:
            self.say(t("There is no button {number}. Choose a number from the list "
                       "(1–{count}).", number=number, count=len(self.keyboard)))
        else:
            self.say(t("There are no buttons to press here. Type /start for the menu."))

    async def _terminal_command(self, text: str) -> bool:
        t = self.convo.t
        name, _, rest = text[1:].partition(" ")
        rest = rest.strip()
        match name.lower():
            case "quit" | "q" | "exit":
                return False
            case "photo" if rest:
                await self.send(Photo(rest[:COMMAND_ARG_MAX]))
            case "location":
                try:
                    latitude, longitude = (float(part) for part in rest.replace(",", " ").split())
                except ValueError:
                    self.say(t("Usage: :location LATITUDE LONGITUDE, e.g. :location 48.85 2.35"))
                else:
                    await self.send(Location(latitude, longitude))
            case "say" if rest:
                await self.send(Message(rest))
            case "help":
                self.say(t("Type a number to press a button of the latest screen, /start for "
                           "the menu, or any text to search or answer a question.") + "\n" +
                         t(":photo NAME sends a photo, :location LAT LON sends a place, "
                           ":say TEXT sends a number as text, :quit leaves."))
            case _:
                self.say(t("Unknown terminal command. Type :help to see them."))
        return True

    async def send(self, received: Input) -> None:
        """One input through the flows; any failure is answered and logged, never fatal."""
        try:
            reply = await respond(self.deps, self.convo, received)
        except Exception:
            # ChatshopError is answered by the router: anything reaching here is a bug.
            # The input's kind only: its text may be an address or a phone number.
            log.exception("terminal chat: a %s failed", type(received).__name__)
            self.say(self.convo.t("Sorry, something went wrong. Please try again."))
            return
        self.show(reply)

    def show(self, reply: Reply) -> None:
        buttons: list[Button] = []
        for screen in reply.screens:
            rendered = render_screen(screen, self.convo.t, ansi=self.ansi,
                                     first=len(buttons) + 1)
            buttons += rendered.buttons
            self.say("")
            self.say(rendered.text)
        # A reply without buttons leaves the earlier ones pressable, as in Telegram.
        if buttons:
            self.keyboard = buttons


async def run_terminal_chat(deps: Deps, *, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
                            language: str = "en", customer_external_id: str = "terminal-1",
                            name: str = "") -> None:
    """Chat with the customer flows until `:quit` or the end of input."""
    customer = await deps.shop.customers.get_or_create(
        "terminal", customer_external_id, name=name, language=pick_language(language))
    convo = Conversation(customer.id, pick_language(customer.language, language), "terminal",
                         capabilities=TERMINAL, name=name or customer.name)
    interactive = _isatty(stdin)
    chat = TerminalChat(deps, convo, stdout, ansi=_isatty(stdout))
    await chat.send(Command("start"))
    chat.say("")
    chat.hint()
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = await _read_line(stdin)
        if not line:
            break
        if not interactive:  # a script: show what was typed so the transcript reads well
            shown = line.rstrip("\r\n")
            chat.say("> " + (shown if len(shown) <= ECHO_MAX else shown[:ECHO_MAX] + "…"))
        if not await chat.handle(line):
            break
    chat.say(convo.t("Bye! Your cart is kept for next time."))
