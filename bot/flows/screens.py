"""What a flow answers with: screens any channel can render.

A screen is text in a small markup subset (plain, bold, italic, links), rows of
buttons (each an action or a URL), an optional photo, an optional invoice.
Channels decide how: Telegram edits the message a button was pressed on,
WhatsApp uses reply buttons or lists, the terminal numbers the choices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.flows.actions import Action
from shop.payments.telegram_invoice import TelegramInvoice

Style = Literal["plain", "bold", "italic"]


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    style: Style = "plain"
    url: str | None = None


def bold(text: str) -> Span:
    return Span(text, "bold")


def italic(text: str) -> Span:
    return Span(text, "italic")


def link(text: str, url: str) -> Span:
    return Span(text, "plain", url)


@dataclass(frozen=True, slots=True)
class Text:
    """Marked-up text; build with `Text.of("Total: ", bold("12 €"))` and join with `+`."""

    spans: tuple[Span, ...] = ()

    @classmethod
    def of(cls, *parts: Span | str) -> Text:
        return cls(tuple(Span(p) if isinstance(p, str) else p for p in parts if p != ""))

    @classmethod
    def lines(cls, *lines: Text | Span | str) -> Text:
        """Lines joined by newlines (empty strings make blank lines)."""
        spans: list[Span] = []
        for i, line in enumerate(lines):
            if i:
                spans.append(Span("\n"))
            part = line if isinstance(line, Text) else Text.of(line)
            spans.extend(part.spans)
        return cls(tuple(spans))

    def __add__(self, other: Text | Span | str) -> Text:
        more = other if isinstance(other, Text) else Text.of(other)
        return Text(self.spans + more.spans)

    @property
    def plain(self) -> str:
        """The words without markup (for tests, logs and plain channels)."""
        return "".join(span.text for span in self.spans)


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: Action | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.action is None) == (self.url is None):
            raise ValueError("a button has exactly one of an action or a URL")


Row = tuple[Button, ...]


def rows(*items: Iterable[Button] | Button) -> tuple[Row, ...]:
    """Rows of buttons from buttons (one per row) or iterables (one row each)."""
    return tuple((item,) if isinstance(item, Button) else tuple(item) for item in items)


def grid(buttons: Sequence[Button], per_row: int) -> tuple[Row, ...]:
    return tuple(tuple(buttons[i:i + per_row]) for i in range(0, len(buttons), per_row))


@dataclass(frozen=True, slots=True)
class Screen:
    text: Text
    buttons: tuple[Row, ...] = ()
    photo: str | None = None  # an image URL or `demo:<file>` (see shop.media)
    invoice: TelegramInvoice | None = None
    # Never replace the message the customer pressed a button on (receipts, invoices).
    new_message: bool = False
    # A short note for the pressed button itself (Telegram shows it as a toast).
    toast: str | None = None
    alert: bool = False  # show the toast as a dialog the customer must dismiss

    def labels(self) -> list[str]:
        return [button.label for row in self.buttons for button in row]


@dataclass(frozen=True, slots=True)
class Reply:
    """Everything one input produced, in order."""

    screens: tuple[Screen, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, *screens: Screen) -> Reply:
        return cls(tuple(screens))
