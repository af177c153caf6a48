"""Stored WhatsApp updates handled in the background, by one of several workers.

Each update is taken with a lease in the inbox (`WhatsAppInbox.claim_next` / `claim`), so
two workers sharing the database never handle the same update at once. A customer's updates
go in order: a "turn" takes the customer's oldest update not tried yet, handles it and goes
on with the next, under a lock on the customer in this process; a worker that finds another
worker holding the customer's oldest update leaves the rest to that worker. An update that
failed is let go and tried again a few times here, then by whichever worker sweeps; one held
by a worker that died is taken over by a sweep when its lease has run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from weakref import WeakValueDictionary

from shop.errors import StorageUnavailable
from shop.messaging.inbox import Stored, WhatsAppInbox
from shop.redaction import describe_error
from shop.renewal import RENEW_SHARE, Renewal

log = logging.getLogger(__name__)
RETRY_S = (2.0, 10.0, 30.0)  # a failed update again in this process (then by a sweep)
SWEEP_S = 15.0  # how often a worker looks for updates nobody holds
MAX_ATTEMPTS = 6  # a sweep gives up on an update tried this often (a start tries it again)

Handle = Callable[[Stored], Awaitable[None]]


class InboxWorker:
    def __init__(self, inbox: WhatsAppInbox, handle: Handle, *,
                 retry_s: tuple[float, ...] = RETRY_S, sweep_s: float = SWEEP_S,
                 renew_s: float | None = None) -> None:
        self.inbox = inbox
        self._handle = handle
        self._retry_s = retry_s
        self._renew_s = (renew_s if renew_s is not None
                         else inbox.lease.total_seconds() * RENEW_SHARE)
        self.sweep_s = sweep_s
        self._locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()
        self._tasks: set[asyncio.Task[None]] = set()
        self._replying = 0  # scheduled work started by a customer's message, not finished
        self._retries: dict[int, int] = {}
        self.closing = False

    def lock(self, key: str) -> asyncio.Lock:
        """The lock on one customer (their BSUID) in this process."""
        found = self._locks.get(key)
        if found is None:
            found = self._locks[key] = asyncio.Lock()
        return found

    @property
    def busy(self) -> bool:
        """A customer's message is being answered here (statuses do not count)."""
        return self._replying > 0

    def schedule(self, rows: list[Stored]) -> None:
        """Handle stored updates in the background: a customer's fresh updates by a turn in
        order, the others (retries, updates with no sender) one by one. After a stop they
        stay stored, for the next start or another worker."""
        for row in rows:
            if row.attempts == 0 and row.sender:
                self._start(self._turn(row.sender), replying=not row.status)
            else:
                self._start(self._retry(row), replying=not row.status)

    def _start(self, work: Coroutine[Any, Any, None], *, replying: bool) -> None:
        if self.closing:
            work.close()
            return
        self._replying += replying

        async def tracked() -> None:
            try:
                await work
            finally:
                self._replying -= replying

        task = asyncio.create_task(tracked())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _turn(self, sender: str) -> None:
        async with self.lock(sender):
            seen: set[int] = set()
            while not self.closing:
                try:
                    row = await self.inbox.claim_next(sender)
                except StorageUnavailable as error:
                    log.error("WhatsApp: could not take the next update of %s: %s", sender,
                              describe_error(error))
                    return  # still stored: a sweep or the next start takes it
                if row is None or row.id in seen:
                    return  # nothing left, another worker's turn, or it could not be let go
                seen.add(row.id)
                await self._run(row)

    async def _retry(self, row: Stored) -> None:
        async with self.lock(row.sender or row.wamid):
            try:
                claimed = await self.inbox.claim(row.id)
            except StorageUnavailable as error:
                log.error("WhatsApp: could not take update %s: %s", row.id,
                          describe_error(error))
                return
            if claimed is not None:  # else done meanwhile, or another worker has it
                await self._run(claimed)

    async def _run(self, row: Stored) -> None:
        try:
            await self._handle_keeping_lease(row)
            await self.inbox.done(row.id)
            self._retries.pop(row.id, None)
        except Exception as error:
            # A database or network failure: the update stays stored, let go for a retry.
            log.error("WhatsApp update %s (%s) failed: %s", row.id, row.status or "message",
                      describe_error(error))
            with contextlib.suppress(Exception):
                await self.inbox.failed(row.id, describe_error(error))
            self._retry_later(row)

    async def _handle_keeping_lease(self, row: Stored) -> None:
        """Handle the update, renewing its lease meanwhile, so no other worker takes over an
        update that is only slow."""
        async def renew() -> bool:
            try:
                if await self.inbox.extend(row.id):
                    return True
            except StorageUnavailable as error:
                log.warning("WhatsApp update %s: could not renew its lease: %s", row.id,
                            describe_error(error))
                return True
            log.warning("WhatsApp update %s: its lease ran out and another worker took it "
                        "over; it may be answered twice", row.id)
            return False

        renewal = Renewal(renew, self._renew_s)
        try:
            await self._handle(row)
        finally:
            renewal.stop()

    def _retry_later(self, row: Stored) -> None:
        attempt = self._retries.get(row.id, 0)
        if attempt >= len(self._retry_s) or self.closing:
            self._retries.pop(row.id, None)
            return
        self._retries[row.id] = attempt + 1
        asyncio.get_running_loop().call_later(
            self._retry_s[attempt], lambda: self._start(self._retry(row),
                                                        replying=not row.status))

    async def resume(self) -> None:
        """At start: everything stored that no worker holds, failed before or not."""
        rows = await self.inbox.claimable()
        if rows:
            log.info("WhatsApp: resuming %d stored updates", len(rows))
        self.schedule(rows)

    async def sweep(self) -> None:
        """Updates nobody holds: a dead worker's (its lease over), or failed ones."""
        self.schedule(await self.inbox.claimable(max_attempts=MAX_ATTEMPTS))

    async def sweep_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.sweep_s)
            if stop.is_set():
                return
            try:
                await self.sweep()
            except StorageUnavailable as error:
                log.error("WhatsApp: sweep failed: %s", describe_error(error))

    async def drain(self) -> None:
        """Wait for the updates in hand (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
