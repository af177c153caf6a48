"""The worker's garbage-collector settings (shop.gc_tuning)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from shop.gc_tuning import settle_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


def test_start_up_objects_leave_the_collectors_sight_and_new_ones_do_not(unfrozen: None
                                                                         ) -> None:
    built_at_start = {"catalog": ["built", "at", "start-up"]}
    settle_heap()
    assert gc.get_freeze_count() > 0
    tracked = {id(o) for o in gc.get_objects()}
    assert id(built_at_start) not in tracked
    per_update = {"cart": ["made", "while", "serving"]}
    assert id(per_update) in {id(o) for o in gc.get_objects()}
    # A reference cycle made after start-up is still collected.
    node = _Node()
    node.me = node
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is None


class _Node:
    me: object
