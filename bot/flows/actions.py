"""Button actions as short strings, the same on every channel.

`Action("prod", 42, 2)` encodes as `prod:42:2`. Telegram allows 64 bytes of
callback data; encoding refuses more, decoding refuses anything malformed, so
forged or stale data never reaches a flow as something it can trust.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,15}$")
_ARG = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")

Arg = int | str


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    args: tuple[Arg, ...] = ()

    @classmethod
    def make(cls, name: str, *args: Arg) -> Action:
        return cls(name, tuple(args))

    def encode(self) -> str:
        if not _NAME.match(self.name):
            raise ValueError(f"bad action name {self.name!r}")
        parts = [self.name]
        for arg in self.args:
            text = str(arg)
            if not _ARG.match(text) or text.lstrip("-").isdigit() != isinstance(arg, int):
                raise ValueError(f"bad action argument {arg!r}")
            parts.append(text)
        data = ":".join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"action {data!r} is over {MAX_BYTES} bytes")
        return data

    def int(self, index: int) -> int:
        """The argument at `index` as an int; ValueError when it is missing or not one."""
        value = self.args[index] if index < len(self.args) else None
        if not isinstance(value, int):
            raise ValueError(f"argument {index} of {self.name} is not a number")
        return value


def decode(data: str | None) -> Action | None:
    """The action in callback data, or None when it is not one of ours."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    name, *raw = data.split(":")
    if not _NAME.match(name) or not all(_ARG.match(a) for a in raw):
        return None
    args: list[Arg] = [int(a) if a.lstrip("-").isdigit() and len(a) < 19 else a for a in raw]
    return Action(name, tuple(args))
