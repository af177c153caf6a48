"""Telegram webhooks on our HTTP server: ``POST /telegram/<bot name>``.

Telegram POSTs each update with the secret we gave ``setWebhook`` in
``X-Telegram-Bot-Api-Secret-Token``. A request without the right secret is refused (401);
a body that is not an Update is refused (400). Anything else is handled *before* Telegram
gets its 200: a worker killed in the middle of an update (OOM, a crash, SIGKILL) never
answered, so Telegram delivers the update again and another worker (or this one, back)
handles it. Each delivery claims the update first (``update_dedupe``): one already handled is
acknowledged and skipped; one being handled by another delivery gets 503, so Telegram tries
again later. An update still running after a third of the lease is answered anyway and
finishes in the background, so Telegram never times out on a slow payment provider and
redelivers; since Telegram will not deliver it again, it is parked in the database first
(``shop.messaging.parked``), and if this worker dies before it ends, another one (or this one
restarted) handles it once the lease runs out. While the worker shuts down, requests get 503
so that Telegram delivers them again (to another worker, or to this one once it is back).

The answer to a button press (``answerCallbackQuery``, which returns nothing we need) goes
back in the webhook response itself, as the Bot API allows, instead of as a request of its
own: one HTTP round trip fewer for most updates. Every other call goes out through the bot's
session, its limits and retries. Likewise with Redis, the chat's lock is given back in the
round trip that marks the update done.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from aiogram import Bot
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from bot.handlers.in_flight import TrackedDispatcher
from bot.handlers.update_dedupe import Claim, UpdateDedupe
from shop.messaging.parked import Parked, ParkedUpdates
from shop.redis_lease import Lease, giving_back_later
from shop.renewal import RENEW_SHARE, Renewal
from shop.web.monitoring import METRICS

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PATH_PREFIX = "/telegram"
# Of the update claim's lease: how long Telegram may wait for the answer to one update.
ANSWER_WITHIN_SHARE = 1 / 3
CHANNEL = "telegram"  # in parked updates
PARK_WITHIN_S = 2.0


def bot_secret(master: str, name: str) -> str:
    """The secret token of one bot's webhook: HMAC-SHA256 of ``telegram-webhook:<name>`` keyed
    by ``WEBHOOK_SECRET``, in hex (64 characters, which Telegram accepts). Each bot gets its
    own, so a request signed for one bot is refused by the other."""
    return hmac.new(master.encode(), f"telegram-webhook:{name}".encode(),
                    hashlib.sha256).hexdigest()


def webhook_path(name: str) -> str:
    return f"{PATH_PREFIX}/{name}"


class WebhookEndpoint:
    """One bot's webhook route, its ``setWebhook`` call, and its requests."""

    def __init__(self, name: str, dispatcher: TrackedDispatcher, bot: Bot, *, secret: str,
                 dedupe: UpdateDedupe, lease_s: float,
                 parking: ParkedUpdates | None = None) -> None:
        self.name = name
        self.dispatcher = dispatcher
        self.bot = bot
        self._secret = secret.encode()
        self._dedupe = dedupe
        self._lease_s = lease_s
        self._answer_within = lease_s * ANSWER_WITHIN_SHARE
        self._parking = parking
        self._closing = False

    @property
    def path(self) -> str:
        return webhook_path(self.name)

    def mount(self, app: web.Application) -> None:
        """Add ``POST /telegram/<name>`` to the HTTP server."""
        app.router.add_post(self.path, self.handle)

    async def set_webhook(self, base_url: str, allowed_updates: Sequence[str]) -> None:
        """Point Telegram at this route. Pending updates are kept: another worker, or this one
        before a restart, may not have received them yet."""
        await self.bot.set_webhook(url=f"{base_url}{self.path}",
                                   secret_token=self._secret.decode(),
                                   allowed_updates=list(allowed_updates),
                                   drop_pending_updates=False)

    def close(self) -> None:
        """Take no more updates: later requests get 503 and Telegram retries them."""
        self._closing = True

    async def handle(self, request: web.Request) -> web.Response:
        """Check, claim and handle one update; answer when it was handled."""
        if self._closing:
            return web.Response(status=503, text="shutting down")
        given = request.headers.get(SECRET_HEADER)
        if given is None or not hmac.compare_digest(given.encode(), self._secret):
            log.warning("telegram webhook %s: refused a request from %s with %s secret token",
                        self.name, request.remote, "no" if given is None else "a wrong")
            _rejected(request, "secret")
            return web.Response(status=401, text="unauthorized")
        try:
            body = json.loads(await request.read())
            update = Update.model_validate(body, context={"bot": self.bot})
        except ValidationError as error:
            log.warning("telegram webhook %s: refused a body that is not an Update (%d errors)",
                        self.name, error.error_count())
            _rejected(request, "payload")
            return web.Response(status=400, text="not an Update")
        except ValueError as error:  # JSON or UTF-8
            log.warning("telegram webhook %s: refused a malformed body (%s)", self.name,
                        type(error).__name__)
            _rejected(request, "payload")
            return web.Response(status=400, text="malformed JSON")
        claim = await self._dedupe.claim(self.bot.id, update.update_id)
        if claim is not Claim.NEW:
            log.info("telegram webhook %s: update %s delivered again (%s); %s", self.name,
                     update.update_id, claim.value,
                     "skipped" if claim is Claim.DONE else "to be delivered later")
            _rejected(request, "duplicate")
            if claim is Claim.IN_HAND:
                return web.Response(status=503, text="being handled")
            return web.json_response({})
        handling = self.dispatcher.in_flight.spawn(
            self._feed(update), f"update {update.update_id} of the {self.name} bot")
        try:
            done, _ = await asyncio.wait({handling}, timeout=self._answer_within)
        except asyncio.CancelledError:  # the server stops: the update finishes on its own
            self._reply_later(handling, update)
            raise
        if not done:
            log.warning("telegram webhook %s: update %s still running after %.1f s; answered, "
                        "it goes on in the background", self.name, update.update_id,
                        self._answer_within)
            if self._parking is not None:
                # Telegram will not deliver it again: kept until handled, in case we die
                # first. Not waited for long (the answer is late already); whether or not the
                # row made it, forgetting it later is harmless.
                try:
                    await asyncio.wait_for(self._parking.park(
                        CHANNEL, self.bot.id, update.update_id, body), PARK_WITHIN_S)
                except TimeoutError:
                    log.warning("telegram webhook %s: update %s not parked within %.0f s; a "
                                "crash before it ends would lose it", self.name,
                                update.update_id, PARK_WITHIN_S)
            await self._dedupe.finish(self.bot.id, update.update_id)
            self._reply_later(handling, update, parked=self._parking is not None)
            return web.json_response({})
        if handling.cancelled():  # a shutdown gave up on it: its claim was released
            return web.Response(status=503, text="shutting down")
        return await self._reply(request, handling.result())

    async def _feed(self, update: Update) -> TelegramMethod[Any] | None:
        """Handle the update; return a method a handler answered with, for the reply."""
        # The chat's lock is given back in the round trip that marks the update done.
        scope: AbstractContextManager[list[Lease]] = (
            giving_back_later() if self._dedupe.carries_leases else nullcontext([]))
        with scope as leases:
            try:
                result = await self.dispatcher.feed_update(self.bot, update)
            except asyncio.CancelledError:
                await self._dedupe.release(self.bot.id, update.update_id, leases)
                raise
            except Exception:
                # Handled as far as it goes: a redelivery would fail the same way. Logged in
                # full, since Telegram sees no error.
                log.exception("telegram webhook %s: update %s failed", self.name,
                              update.update_id)
                result = None
        await self._dedupe.finish(self.bot.id, update.update_id, leases)
        return result if isinstance(result, TelegramMethod) else None

    async def _reply(self, request: web.Request, method: TelegramMethod[Any] | None
                     ) -> web.Response:
        """The webhook's answer: the method itself when Telegram can run it from there."""
        if method is None:
            return web.json_response({})
        if isinstance(method, AnswerCallbackQuery):
            if (metrics := request.app.get(METRICS)) is not None:
                metrics.bot_api_called(self.name, "in_webhook_reply")
            return web.json_response({"method": method.__api_method__,
                                      **method.model_dump(exclude_none=True)})
        await self.dispatcher.silent_call_request(self.bot, method)
        return web.json_response({})

    def _reply_later(self, handling: asyncio.Task[TelegramMethod[Any] | None],
                     update: Update, *, parked: bool = False) -> None:
        """Nobody will read this webhook's answer: call the update's method when it ends.
        A `parked` update keeps its lease meanwhile and is forgotten once handled; one cut
        short (a shutdown) stays parked for the next worker."""
        parking = self._parking if parked else None

        async def call_when_done() -> None:
            renewal = None
            if parking is not None:
                async def renew() -> bool:
                    if await parking.renew(CHANNEL, self.bot.id, update.update_id):
                        return True
                    log.warning("telegram webhook %s: parked update %s was taken over by "
                                "another worker while still running here", self.name,
                                update.update_id)
                    return False
                renewal = Renewal(renew, self._lease_s * RENEW_SHARE)
            try:
                method = await handling
            finally:
                if renewal is not None:
                    renewal.stop()
            if method is not None:
                await self.dispatcher.silent_call_request(self.bot, method)
            if parking is not None:
                await parking.done(CHANNEL, self.bot.id, update.update_id)

        self.dispatcher.in_flight.spawn(call_when_done(),
                                        f"the answer to update {update.update_id}")

    async def resume_parked(self, stop: asyncio.Event) -> None:
        """Until `stop`: now and every third of the lease, handle the parked updates of this
        bot whose worker died (its lease ran out) before they were handled."""
        if self._parking is None:
            return
        while not stop.is_set():
            for parked in await self._parking.take_over(CHANNEL, self.bot.id):
                await self._resume(parked)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._lease_s * RENEW_SHARE)

    async def _resume(self, parked: Parked) -> None:
        assert self._parking is not None
        try:
            update = Update.model_validate(parked.payload, context={"bot": self.bot})
        except ValidationError:  # parked by another version of aiogram, say
            log.error("telegram webhook %s: parked update %s is not an Update any more; "
                      "dropped", self.name, parked.update_id)
            await self._parking.done(CHANNEL, self.bot.id, parked.update_id)
            return
        log.warning("telegram webhook %s: update %s was left unfinished by a worker that "
                    "stopped; handling it (attempt %d)", self.name, parked.update_id,
                    parked.attempts)
        handling = self.dispatcher.in_flight.spawn(
            self._feed(update), f"update {update.update_id} of the {self.name} bot (resumed)")
        self._reply_later(handling, update, parked=True)


def _rejected(request: web.Request, reason: str) -> None:
    if (metrics := request.app.get(METRICS)) is not None:
        metrics.webhook_rejected(reason)
