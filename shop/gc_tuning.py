"""Garbage-collector settings for a long-running worker.

Measured on the throughput benchmark (bench/throughput.py): with CPython's defaults a full
(generation 2) collection of the worker's heap took 180–270 ms, a pause in which no update
is answered, every second or two under load. Most of that heap is what importing aiogram,
pydantic and SQLAlchemy and building the shop created, and it lives as long as the process.
``gc.freeze()`` moves everything alive once start-up is done into a permanent generation the
collector no longer scans: full collections then took 22–38 ms, as long as nothing big is
imported after it (the worker freezes just before taking traffic; matplotlib, for the staff
bot's charts, is imported by the first chart). Raising the thresholds as well made
collections rarer but each longer, which was worse for the slowest answers.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def settle_heap() -> None:
    """Call once start-up is done, before taking traffic: collect what start-up left and
    put the survivors out of the collector's sight."""
    gc.collect()
    gc.freeze()
    log.debug("garbage collector: %d start-up objects frozen", gc.get_freeze_count())
