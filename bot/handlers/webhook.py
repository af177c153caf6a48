"""Telegram webhooks on our HTTP server: ``POST /telegram/<bot name>``.

Telegram POSTs each update with the secret we gave ``setWebhook`` in
``X-Telegram-Bot-Api-Secret-Token``. A request without the right secret is refused (401);
a body that is not an Update is refused (400); anything else is acknowledged at once (200)
and handled in a tracked background task, so a slow handler never makes Telegram time out
and redeliver, and a shutdown can wait for the updates in hand. A duplicate delivery is
acknowledged and skipped. While the worker shuts down, requests get 503 so that Telegram
delivers them again (to another worker, or to this one once it is back).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence

from aiogram import Bot
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from bot.handlers.in_flight import TrackedDispatcher
from bot.handlers.update_dedupe import UpdateDedupe
from shop.web.monitoring import METRICS

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PATH_PREFIX = "/telegram"


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
                 dedupe: UpdateDedupe) -> None:
        self.name = name
        self.dispatcher = dispatcher
        self.bot = bot
        self._secret = secret.encode()
        self._dedupe = dedupe
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
        """Check, acknowledge and schedule one update."""
        if self._closing:
            return web.Response(status=503, text="shutting down")
        given = request.headers.get(SECRET_HEADER)
        if given is None or not hmac.compare_digest(given.encode(), self._secret):
            log.warning("telegram webhook %s: refused a request from %s with %s secret token",
                        self.name, request.remote, "no" if given is None else "a wrong")
            _rejected(request, "secret")
            return web.Response(status=401, text="unauthorized")
        try:
            update = Update.model_validate(json.loads(await request.read()),
                                           context={"bot": self.bot})
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
        if not await self._dedupe.first_time(self.bot.id, update.update_id):
            log.info("telegram webhook %s: update %s delivered again; skipped", self.name,
                     update.update_id)
            _rejected(request, "duplicate")
            return web.json_response({})
        self.dispatcher.in_flight.spawn(self._feed(update),
                                        f"update {update.update_id} of the {self.name} bot")
        return web.json_response({})

    async def _feed(self, update: Update) -> None:
        try:
            result = await self.dispatcher.feed_update(self.bot, update)
            if isinstance(result, TelegramMethod):  # a handler's "answer in the webhook reply"
                await self.dispatcher.silent_call_request(self.bot, result)
        except Exception:
            # Telegram already has its 200, so nobody else will see this error: log it all.
            log.exception("telegram webhook %s: update %s failed", self.name, update.update_id)


def _rejected(request: web.Request, reason: str) -> None:
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.webhook_rejected(reason)
