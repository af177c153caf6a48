"""What a customer can do, whatever the channel: type, press, send a photo or a place."""

from __future__ import annotations

from dataclasses import dataclass

from bot.flows.actions import Action


@dataclass(frozen=True, slots=True)
class Command:
    name: str      # "start", "help" … without the slash
    arg: str = ""  # deep-link payload: /start p_classic-tee → "p_classic-tee"


@dataclass(frozen=True, slots=True)
class Message:
    text: str


@dataclass(frozen=True, slots=True)
class Press:
    action: Action | None  # None: data that is not (or no longer) ours


@dataclass(frozen=True, slots=True)
class Photo:
    file_id: str
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float
    name: str = ""     # a place's name and address, when the channel sends them (WhatsApp)
    address: str = ""


Input = Command | Message | Press | Photo | Location
