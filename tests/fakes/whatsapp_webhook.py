"""The fake's webhook side: the GET verification handshake, then signed notifications POSTed
to the app's endpoint the way Meta sends them.

Notifications are ``{"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes":
[{"field": "messages", "value": {...}}]}]}``, signed with ``X-Hub-Signature-256: sha256=<HMAC
of the raw body with the app secret>``. What is queued while a POST is in flight goes out
together in the next one (several changes in one entry), as Meta batches under load; a POST
answered with anything but 200 is sent again, unchanged, until it is accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp

Value = dict[str, Any]
RETRY_WAIT_S = 0.1


@dataclass
class Delivery:
    body: bytes
    statuses: list[int]  # every attempt's HTTP status (0: could not connect)

    @property
    def accepted(self) -> bool:
        return bool(self.statuses) and self.statuses[-1] == 200


def envelope(waba_id: str, values: list[Value], *, entries: bool = False) -> dict[str, Any]:
    """One notification: the values as changes of one entry, or (``entries``) one entry each."""
    changes = [{"value": value, "field": "messages"} for value in values]
    if entries:
        return {"object": "whatsapp_business_account",
                "entry": [{"id": waba_id, "changes": [change]} for change in changes]}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": changes}]}


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Delivers the fake's notifications to one callback URL, in order, until accepted."""

    def __init__(self, waba_id: str, app_secret: str, *, max_batch: int = 10,
                 max_attempts: int = 50, on_change: Callable[[], None] = lambda: None,
                 on_accepted: Callable[[bytes], None] = lambda body: None) -> None:
        self.waba_id, self.app_secret = waba_id, app_secret
        self.max_batch, self.max_attempts = max_batch, max_attempts
        self.url: str | None = None
        self.deliveries: list[Delivery] = []
        self._queue: list[Value] = []
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._held = False
        self._on_change = on_change
        self._on_accepted = on_accepted

    async def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._http

    async def verify(self, url: str, verify_token: str, *, mode: str = "subscribe"
                     ) -> tuple[int, str, str]:
        """Meta's handshake: GET with hub.mode, hub.verify_token and hub.challenge; returns
        (status, body, challenge). The URL is kept for deliveries only when it echoes."""
        challenge = str(secrets.randbelow(10**9) + 10**9)
        http = await self._session()
        params = {"hub.mode": mode, "hub.verify_token": verify_token,
                  "hub.challenge": challenge}
        async with http.get(url, params=params) as resp:
            text = await resp.text()
            status = resp.status
        if status == 200 and text == challenge and mode == "subscribe":
            self.url = url
        return status, text, challenge

    def push(self, value: Value) -> None:
        """Queue one change value; it goes out in the next POST."""
        self._queue.append(value)
        self._wake()

    @property
    def is_held(self) -> bool:
        return self._held

    @property
    def pending(self) -> bool:
        """Notifications queued or being delivered."""
        return bool(self._queue) or (self._task is not None and not self._task.done())

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Queue notifications without sending; on exit they go out together (batched)."""
        self._held = True
        try:
            yield
        finally:
            self._held = False
            self._wake()

    def _wake(self) -> None:
        if (self.url and (self._task is None or self._task.done()) and not self._closing
                and not self._held):
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while self._queue and not self._closing:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            await self.post(envelope(self.waba_id, batch))

    async def post(self, notification: dict[str, Any], *, retry: bool = True) -> Delivery:
        """POST one notification (signed), again and again until a 200 when ``retry``."""
        body = json.dumps(notification, ensure_ascii=False).encode()
        return await self.post_raw(body, sign(self.app_secret, body), retry=retry)

    async def post_raw(self, body: bytes, signature: str | None, *, retry: bool = False
                       ) -> Delivery:
        """POST exactly these bytes with this ``X-Hub-Signature-256`` (None: no header)."""
        if self.url is None:
            raise AssertionError("no webhook subscribed: run the GET verification first")
        delivery = Delivery(body, [])
        self.deliveries.append(delivery)
        headers = {"Content-Type": "application/json",
                   "User-Agent": "facebookexternalua"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        http = await self._session()
        for _ in range(self.max_attempts if retry else 1):
            try:
                async with http.post(self.url, data=body, headers=headers) as resp:
                    await resp.read()
                    delivery.statuses.append(resp.status)
            except (aiohttp.ClientError, TimeoutError):
                delivery.statuses.append(0)
            if delivery.accepted:
                self._on_accepted(body)
            self._on_change()
            if delivery.accepted or self._closing:
                break
            await asyncio.sleep(RETRY_WAIT_S)  # Meta backs off before it redelivers
        return delivery

    async def idle(self) -> None:
        """Wait until everything queued has been delivered."""
        while (self._task is not None and not self._task.done()) or (self._queue and self.url):
            if self._task is None or self._task.done():
                self._wake()
            if self._task is not None:
                await asyncio.shield(self._task)

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._http is not None:
            await self._http.close()
