"""A small per-process cache whose entries are trusted for a few seconds.

Product cards and search-result lines are read on nearly every button press, by every
customer, and change rarely; reading them from the database was about a tenth of a worker's
CPU under load. An entry is used for at most ``fresh_for_s`` seconds and dropped at once when
this process learns of a change (its own, or another worker's through the catalog change
log), so a card can lag a change made elsewhere by that long at most. Anything that must be
exact (adding to the cart, paying) reads the database itself.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FreshCache(Generic[K, V]):
    """Up to ``max_entries`` values, each for ``fresh_for_s`` seconds (0 turns caching off)."""

    def __init__(self, fresh_for_s: float, max_entries: int = 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fresh_for_s = fresh_for_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._generation = 0  # changes whenever something is forgotten

    @property
    def generation(self) -> int:
        """Take this before reading a value from its source, and give it to `put`."""
        return self._generation

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: V, read_at: int) -> None:
        """Keep `value`, unless something was forgotten since `read_at` (a `generation`):
        then the value may predate that change, and is not kept."""
        if self._fresh_for_s <= 0 or read_at != self._generation:
            return
        self._entries[key] = (self._clock() + self._fresh_for_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget(self, keys: Iterable[K]) -> None:
        self._generation += 1
        for key in keys:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
