"""What a WhatsApp customer did, as flow inputs (and the few things only this adapter handles:
a typed choice number, "More" on a paged list, a catalog order)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pywa.types.callback import CallbackButton, CallbackSelection
from pywa.types.message import Message as WaMessage

from bot.channels.whatsapp.render import MORE
from bot.flows.actions import decode
from bot.flows.inputs import Command, Input, Location, Message, Photo, Press

COMMAND_ARG_MAX = 64
NUMBER_DIGITS = 4
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:\s+(.*))?$", re.DOTALL)
# Words that open the menu when no step is waiting for text (a first "Hi" included).
GREETINGS = frozenset({
    "hi", "hello", "hey", "start", "menu", "bonjour", "salut", "coucou", "cześć", "czesc",
    "hej", "witam", "dzień dobry", "dzien dobry", "menú"})


@dataclass(frozen=True, slots=True)
class Number:
    """Digits typed alone: the choice with that number, or the text itself in a step."""

    value: int
    text: str


@dataclass(frozen=True, slots=True)
class More:
    page: int


@dataclass(frozen=True, slots=True)
class OrderItem:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class CatalogOrder:
    items: tuple[OrderItem, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Unsupported:
    kind: str


Received = Input | Number | More | CatalogOrder | Unsupported


def from_text(text: str) -> Received:
    stripped = text.strip()
    command = _COMMAND.match(stripped)
    if command:
        return Command(command[1].lower(), (command[2] or "").strip()[:COMMAND_ARG_MAX])
    if stripped.isascii() and stripped.isdigit() and len(stripped) <= NUMBER_DIGITS:
        return Number(int(stripped), stripped)
    return Message(text)


def from_data(data: str) -> Received:
    """A tapped button or list row: its id is the encoded flow action."""
    action = decode(data)
    if action is not None and action.name == MORE:
        try:
            return More(action.int(0))
        except ValueError:
            return Press(None)
    return Press(action)


def from_message(message: WaMessage) -> Received:
    if message.text is not None:
        return from_text(message.text)
    if message.location is not None:
        place = message.location
        return Location(place.latitude, place.longitude, str(place.name or ""),
                        str(place.address or ""))
    if message.image is not None:
        return Photo(str(message.image.id), message.caption or "")
    if message.order is not None:
        items = tuple(OrderItem(str(p.sku), int(p.quantity)) for p in message.order.products)
        return CatalogOrder(items, message.order.text or "")
    return Unsupported(str(message.type))


def from_callback(update: CallbackButton[str] | CallbackSelection[str]) -> Received:
    return from_data(str(update.data))
