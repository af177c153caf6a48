"""The staff bot's use cases by name: commands, button actions and answers to prompts.

Each returns what to show: a screen, or a prompt (a question answered by the staff member's
next message, sent with ForceReply). Handlers only look names up here and render.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from admin_bot.context import AdminDeps, Staff
from bot.flows.actions import Action, Arg
from bot.flows.screens import Screen


@dataclass(frozen=True, slots=True)
class Prompt:
    """Ask for text; the answer goes to the prompt handler `kind` with `args`."""

    kind: str
    args: tuple[Arg, ...]
    question: str
    placeholder: str = ""


@dataclass(frozen=True, slots=True)
class WithImage:
    """A screen followed by a generated image (a report's chart)."""

    screen: Screen
    png: bytes
    caption: str = ""


Outcome = Screen | Prompt | WithImage
CommandFn = Callable[[AdminDeps, Staff, str], Awaitable[Outcome]]
ActionFn = Callable[[AdminDeps, Staff, Action], Awaitable[Outcome]]
AnswerFn = Callable[[AdminDeps, Staff, tuple[Arg, ...], str], Awaitable[Outcome]]
F = TypeVar("F")

COMMANDS: dict[str, CommandFn] = {}
ACTIONS: dict[str, ActionFn] = {}
ANSWERS: dict[str, AnswerFn] = {}


def _registrar(table: dict[str, F], name: str) -> Callable[[F], F]:
    def register(fn: F) -> F:
        if name in table:
            raise ValueError(f"{name!r} is registered twice")
        table[name] = fn
        return fn
    return register


def command(name: str) -> Callable[[CommandFn], CommandFn]:
    return _registrar(COMMANDS, name)


def action(name: str) -> Callable[[ActionFn], ActionFn]:
    return _registrar(ACTIONS, name)


def answer(kind: str) -> Callable[[AnswerFn], AnswerFn]:
    return _registrar(ANSWERS, kind)
