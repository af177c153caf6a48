"""A fake Telegram Bot API server on loopback that the real aiogram ``Bot`` talks to over HTTP.

``async with FakeTelegram() as tg:`` serves ``{base}/bot{token}/{method}`` (GET query, JSON,
urlencoded and multipart bodies) for every bot added with ``add_bot``, answers in the real
``{"ok": true, "result": …}`` shape with real objects, and refuses bad calls with the errors
Telegram gives (``Bad Request: message is not modified: …``, 429 with ``retry_after`` …).
Updates reach the bot by ``getUpdates`` long polling, or are POSTed to its webhook.
Scripted users (``tg.user(...)``, see ``telegram_users``) produce the updates; tests read what
each chat shows with ``tg.chat(chat_id)`` and wait with ``await tg.wait_for(...)``.
"""

# `timeout=` is this fake's public API (as Telegram's own `timeout` parameters); the waits are
# deadline-bound condition waits, not sleeps.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from tests.fakes import telegram_methods, telegram_payments
from tests.fakes.loopback import LoopbackServer
from tests.fakes.telegram_markup import ApiError, bad_request
from tests.fakes.telegram_model import (
    DEFAULT_UPDATE_TYPES,
    ApiCall,
    BotAccount,
    ChatMessage,
    FloodLimits,
    InjectedError,
    StoredFile,
    UserInfo,
)
from tests.fakes.telegram_params import Params, Upload, decode_value
from tests.fakes.telegram_users import TelegramUser
from tests.fakes.telegram_webhook import WebhookDelivery

T = TypeVar("T")
BotRef = str | int | BotAccount | None  # a bot by token, username or id; None: the first one
METHODS = {**telegram_methods.METHODS, **telegram_payments.METHODS}
CONFLICT_WEBHOOK = ("Conflict: can't use getUpdates method while webhook is active; use "
                    "deleteWebhook to delete the webhook first")
CONFLICT_POLLING = ("Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running")


def _is_chat_action(method: str) -> bool:
    """Methods that change what a chat shows (what scripted users wait for)."""
    return (method.startswith(("send", "edit", "delete", "copy", "forward"))
            and method not in ("sendchataction", "deletemycommands", "deletewebhook"))


@dataclass
class Hold:
    """Calls of one method kept waiting (see FakeTelegram.hold)."""

    token: str
    method: str
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0
    dropped: int = 0

    def release(self) -> None:
        self.released.set()


class FakeTelegram(LoopbackServer):
    """The fake Bot API server plus the controls and records tests use."""

    def __init__(self, *, pre_checkout_timeout: float | None = 10.0,
                 callback_timeout: float | None = None, allow_http_webhooks: bool = True,
                 url_ok: Callable[[str], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 on_call: Callable[[ApiCall], None] | None = None) -> None:
        self.pre_checkout_timeout, self.callback_timeout = pre_checkout_timeout, callback_timeout
        self.allow_http_webhooks = allow_http_webhooks
        self._url_ok = url_ok or (lambda url: ".invalid/" not in url + "/")
        self.now = clock
        self.base_url = ""
        self.bots: dict[str, BotAccount] = {}
        self.users: dict[int, UserInfo] = {}
        self.files: dict[str, StoredFile] = {}
        self.photo_sets: dict[str, list[dict[str, Any]]] = {}
        self.invoice_links: dict[str, dict[str, Any]] = {}
        self.requests: list[ApiCall] = []
        self._failures: list[tuple[str, InjectedError]] = []
        self._holds: list[Hold] = []
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self.version = 0
        self._event = asyncio.Event()
        self.closing = False
        self._runner: web.AppRunner | None = None
        self._webhooks = WebhookDelivery(self)
        self._activity: dict[tuple[int, int], int] = {}
        # Called with each call's record once the call is answered (failed ones too), in the
        # server's event loop: a benchmark's or a test's way to see calls as they happen.
        self.on_call = on_call

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> str:
        """Serve on 127.0.0.1 on a free port; returns the base URL (``TELEGRAM_API_BASE``)."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        return await self._serve(app, shutdown_timeout=0.5)

    async def stop(self) -> None:
        self.closing = True
        self.bump()
        await self._webhooks.close()
        await self._close_server()

    # -- set-up ------------------------------------------------------------------------------
    def add_bot(self, token: str, username: str, *, bot_id: int | None = None,
                first_name: str | None = None) -> BotAccount:
        """Serve a bot; its id defaults to the number before ``:`` in the token, as Telegram's."""
        ident = bot_id if bot_id is not None else int(token.split(":", 1)[0])
        account = BotAccount(token=token, bot_id=ident, username=username.lstrip("@"),
                             first_name=first_name or username.lstrip("@"))
        self.bots[token] = account
        return account

    def bot(self, ref: BotRef = None) -> BotAccount:
        """A bot by token, username or id; ``None`` means the first bot added."""
        if isinstance(ref, BotAccount):
            return ref
        for account in self.bots.values():
            if ref is None or ref in (account.token, account.username, account.bot_id):
                return account
        raise KeyError(f"no bot {ref!r} on the fake server (add_bot first)")

    def user(self, user_id: int, first_name: str = "Alice", language_code: str | None = "en",
             username: str | None = None, *, last_name: str | None = None,
             bot: BotRef = None, started: bool = True) -> TelegramUser:
        """A scripted user of ``bot``; ``started=False``: the user never opened the chat, so
        the bot can't write first (403), until the user sends something."""
        info = UserInfo(user_id, first_name, last_name, username, language_code)
        self.users[user_id] = info
        account = self.bot(bot)
        if started:
            account.started.add(user_id)
        return TelegramUser(self, account, info)

    def flood_limits(self, per_chat_per_s: float | None = 1.0, global_per_s: float | None = 30.0,
                     burst: int = 3, *, bot: BotRef = None) -> None:
        """Turn on Telegram's flood control for a bot: token buckets per chat (``burst``
        messages, refilled at ``per_chat_per_s``) and per bot (``global_per_s``)."""
        account = self.bot(bot)
        account.flood, account.buckets = FloodLimits(per_chat_per_s, global_per_s, burst), {}

    def no_flood_limits(self, *, bot: BotRef = None) -> None:
        self.bot(bot).flood = None

    def fail_next(self, method: str, error_code: int, description: str,
                  retry_after: int | None = None, *, bot: BotRef = None,
                  chat_id: int | None = None) -> None:
        """Answer the next call of ``method`` (by this bot, in this chat) with an error."""
        token = self.bot(bot).token
        self._failures.append((token, InjectedError(method.lower(), error_code, description,
                                                    retry_after, chat_id)))

    def hold(self, method: str, *, bot: BotRef = None) -> Hold:
        """Keep every call of ``method`` by this bot waiting, unanswered and unrecorded, until
        the hold is released: a bot caught in the middle of a call. A call whose client went
        away meanwhile (a killed worker) is then dropped, as Telegram never saw it."""
        hold = Hold(self.bot(bot).token, method.lower())
        self._holds.append(hold)
        return hold

    def url_ok(self, url: str) -> bool:
        """Whether Telegram could fetch this URL (hosts under ``.invalid`` fail)."""
        return self._url_ok(url)

    # -- records ------------------------------------------------------------------------------
    def calls(self, method: str | None = None, *, chat_id: int | None = None,
              bot: BotRef = None, ok: bool | None = None) -> list[ApiCall]:
        bot_id = self.bot(bot).bot_id if bot is not None else None
        return [call for call in self.requests
                if (method is None or call.key == method.lower())
                and (chat_id is None or call.chat_id == chat_id)
                and (bot_id is None or call.bot_id == bot_id)
                and (ok is None or call.ok == ok)]

    def chat(self, chat_id: int, *, bot: BotRef = None, include_user: bool = False,
             include_deleted: bool = False) -> list[ChatMessage]:
        """What the chat shows, oldest first: the bot's messages with edits applied and
        deleted ones removed (``include_user`` adds the user's own messages)."""
        messages = self.bot(bot).chat_messages(chat_id).values()
        return [m for m in messages if (include_user or m.from_bot)
                and (include_deleted or not m.deleted)]

    def message(self, chat_id: int, message_id: int, *,
                bot: BotRef = None) -> ChatMessage | None:
        return self.bot(bot).chat_messages(chat_id).get(message_id)

    def commands(self, language_code: str = "", scope: dict[str, Any] | None = None, *,
                 bot: BotRef = None) -> list[dict[str, Any]]:
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return self.bot(bot).commands.get(key, [])

    # -- state used by the methods ------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}{secrets.token_hex(4)}"

    def new_file(self, kind: str, *, data: bytes | None = None, url: str | None = None,
                 ext: str = "bin", width: int = 0, height: int = 0) -> StoredFile:
        number = next(self._ids)
        stored = StoredFile(file_id=f"AgAC{kind[:3]}{number:06d}{secrets.token_urlsafe(12)}",
                            file_unique_id=f"AQAD{number:06d}{secrets.token_hex(3)}", kind=kind,
                            data=data, url=url, file_path=f"{kind}s/file_{number}.{ext}",
                            width=width, height=height)
        self.files[stored.file_id] = stored
        return stored

    def resolve_chat(self, bot: BotAccount, p: Params, name: str = "chat_id") -> int:
        value = p.get(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        if isinstance(value, str) and value.startswith("@"):
            found = [u.user_id for u in self.users.values() if u.username == value[1:]]
            value = found[0] if found else 0
        try:
            chat_id = int(value)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        if chat_id not in self.users:
            raise bad_request("chat not found")
        if chat_id in bot.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id not in bot.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat_id

    def store_message(self, bot: BotAccount, chat_id: int, *, from_bot: bool,
                      content: dict[str, Any]) -> ChatMessage:
        user = self.users[chat_id]
        raw = {"message_id": bot.take_message_id(chat_id),
               "from": bot.as_user() if from_bot else user.as_user(),
               "chat": user.as_chat(), "date": int(time.time()), **content}
        message = ChatMessage(chat_id, raw["message_id"], from_bot, raw)
        message.record("send")
        bot.chat_messages(chat_id)[message.message_id] = message
        self.bump()
        return message

    def find_message(self, bot: BotAccount, chat_id: int, message_id: int) -> ChatMessage | None:
        message = bot.chat_messages(chat_id).get(message_id)
        return None if message is None or message.deleted else message

    def wake_webhook(self, bot: BotAccount) -> None:
        if bot.webhook and bot.updates:
            self._webhooks.wake(bot)

    def set_allowed_updates(self, bot: BotAccount, allowed: Iterable[str]) -> None:
        allowed = frozenset(allowed)
        bot.allowed_updates = allowed or DEFAULT_UPDATE_TYPES

    def enqueue(self, bot: BotAccount, kind: str, payload: dict[str, Any]) -> int:
        """Queue one update for the bot as Telegram would; returns its ``update_id``. Types the
        bot excluded with ``allowed_updates`` are dropped (and listed in ``bot.dropped``)."""
        update_id = bot.next_update_id
        update = {"update_id": update_id, kind: payload}
        bot.next_update_id += 1
        if kind in bot.allowed_updates:
            bot.updates.append(update)
            if bot.webhook:
                self._webhooks.wake(bot)
        else:
            bot.dropped.append(update)
        self.bump()
        return update_id

    # -- waiting ------------------------------------------------------------------------------
    def bump(self) -> None:
        """Something changed: wake everyone waiting on a condition."""
        self.version += 1
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], Any], timeout: float) -> bool:
        """Whether ``predicate()`` became truthy within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), remaining)
        return True

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, *,
                       what: str | None = None,
                       describe: Callable[[], str] | None = None) -> T:
        """Wait until ``predicate()`` is truthy (re-checked on every change the server sees)
        and return its value; after ``timeout`` seconds raise ``AssertionError``."""
        if not await self.wait_until(predicate, timeout):
            detail = describe() if describe else self.describe_recent()
            raise AssertionError(f"timed out after {timeout}s waiting for "
                                 f"{what or getattr(predicate, '__name__', 'a condition')}\n"
                                 f"{detail}")
        return predicate()

    def chat_activity(self, bot: BotAccount, chat_id: int) -> int:
        """How many calls (failed ones too) acted in this chat: sends, edits, deletes."""
        return self._activity.get((bot.bot_id, chat_id), 0)

    async def settle(self, bot: BotAccount, chat_id: int, quiet: float = 0.05,
                     limit: float = 5.0) -> None:
        """Wait until the bot has done nothing in the chat for ``quiet`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            mark = self.chat_activity(bot, chat_id)

            def changed(mark: int = mark) -> bool:
                return self.chat_activity(bot, chat_id) != mark

            if not await self.wait_until(changed, quiet):
                return

    def describe_recent(self, count: int = 8) -> str:
        lines = [f"  {c.method} chat={c.chat_id} -> {c.status} {c.error or ''}"
                 for c in self.requests[-count:] if c.key != "getupdates"]
        return "recent requests:\n" + ("\n".join(lines) or "  (none)")

    # -- HTTP ---------------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> tuple[dict[str, Any], str | None]:
        """The request's parameters, and how its body carried them (None: no body)."""
        values: dict[str, Any] = dict(request.query)
        body = None
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = "json"
                decoded = await request.json()
                if not isinstance(decoded, dict):
                    raise bad_request("request body must be a JSON object")
                values.update(decoded)
            else:
                body = ("multipart" if request.content_type.startswith("multipart/")
                        else "urlencoded")
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        values[key] = Upload(value.filename, value.file.read(),
                                             value.content_type)
                    else:
                        values[key] = value
        return {key: decode_value(key, value) for key, value in values.items()}, body

    async def _handle(self, request: web.Request) -> web.Response:
        bot = self.bots.get(request.match_info["token"])
        if bot is None:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        method = request.match_info["method"]
        if not self.knows(method):
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        try:
            values, body = await self._params(request)
        except ApiError as error:
            return web.json_response(error.body(), status=error.code)
        hold = next((h for h in self._holds if h.token == bot.token
                     and h.method == method.lower()), None)
        if hold is not None:
            hold.waiting += 1
            hold.arrived.set()
            await hold.released.wait()
            if request.transport is None or request.transport.is_closing():
                hold.dropped += 1
                return web.Response(status=499)
        status, answer = await self.call(bot, method, values, body=body)
        return web.json_response(answer, status=status)

    def knows(self, method: str) -> bool:
        return method.lower() == "getupdates" or method.lower() in METHODS

    async def call(self, bot: BotAccount, method: str, values: dict[str, Any], *,
                   webhook_reply: bool = False, body: str | None = None,
                   ) -> tuple[int, dict[str, Any]]:
        """Run one Bot API method (names are case-insensitive, as Telegram's) for a bot;
        returns the HTTP status and the JSON answer."""
        params = Params(values)
        record = ApiCall(next(self._seq), bot.bot_id, method, values,
                         chat_id=self._chat_of(values), webhook_reply=webhook_reply,
                         body=body)
        method = record.key
        self.requests.append(record)
        if record.chat_id is not None and _is_chat_action(method):
            counter = (bot.bot_id, record.chat_id)
            self._activity[counter] = self._activity.get(counter, 0) + 1
        try:
            self._injected(bot, record)
            self._flood(bot, record)
            if method == "getupdates":
                result = await self._get_updates(bot, params)
            else:
                result = METHODS[method](self, bot, params)
        except ApiError as error:
            record.status, record.error = error.code, error.description
            bot.http_429 += error.code == 429
            self._answered(record)
            return error.code, error.body()
        record.result = result
        self._answered(record)
        return 200, {"ok": True, "result": result}

    def _answered(self, record: ApiCall) -> None:
        if self.on_call is not None:
            self.on_call(record)
        self.bump()

    def _chat_of(self, values: dict[str, Any]) -> int | None:
        value = values.get("chat_id")
        if isinstance(value, str) and value.startswith("@"):
            found = [u.user_id for u in self.users.values() if u.username == value[1:]]
            return found[0] if found else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def _injected(self, bot: BotAccount, record: ApiCall) -> None:
        for index, (token, failure) in enumerate(self._failures):
            if token == bot.token and failure.method == record.key and (
                    failure.chat_id is None or failure.chat_id == record.chat_id):
                del self._failures[index]
                raise ApiError(failure.error_code, failure.description,
                               retry_after=failure.retry_after)

    def _flood(self, bot: BotAccount, record: ApiCall) -> None:
        limits = bot.flood
        if limits is None or not _is_chat_action(record.key) or record.key.startswith("delete"):
            return
        now = self.now()
        checks: list[tuple[str, float, float]] = []
        if limits.per_chat_per_s and record.chat_id is not None:
            checks.append((f"chat:{record.chat_id}", limits.per_chat_per_s, float(limits.burst)))
        if limits.global_per_s:
            checks.append(("global", limits.global_per_s, float(max(limits.global_per_s, 1))))
        levels: dict[str, float] = {}
        wait = 0.0
        for key, rate, cap in checks:
            tokens, last = bot.buckets.get(key, (cap, now))
            levels[key] = min(cap, tokens + (now - last) * rate)
            wait = max(wait, 0.0 if levels[key] >= 1 else (1 - levels[key]) / rate)
        for key, level in levels.items():
            bot.buckets[key] = (level - (0 if wait else 1), now)
        if wait:
            retry = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)

    async def _get_updates(self, bot: BotAccount, p: Params) -> list[dict[str, Any]]:
        if bot.webhook:
            raise ApiError(409, CONFLICT_WEBHOOK)
        if p.json("allowed_updates") is not None:
            self.set_allowed_updates(bot, p.json("allowed_updates"))
        offset = p.integer("offset") or 0
        if offset > 0:
            bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
            bot.confirmed_below = max(bot.confirmed_below, offset)
        elif offset < 0:
            bot.updates = bot.updates[offset:]
            bot.confirmed_below = bot.updates[0]["update_id"] if bot.updates else \
                bot.next_update_id
        limit = min(max(p.integer("limit") or 100, 1), 100)
        timeout = max(p.integer("timeout") or 0, 0)
        bot.poll_generation += 1
        generation = bot.poll_generation
        self.bump()  # a new poll supersedes an older one, and tests may wait for it
        await self.wait_until(lambda: bot.updates or self.closing
                         or generation != bot.poll_generation, timeout)
        if generation != bot.poll_generation:
            raise ApiError(409, CONFLICT_POLLING)
        allowed = [u for u in bot.updates if set(u) - {"update_id"} <= bot.allowed_updates]
        bot.dropped.extend(u for u in bot.updates if u not in allowed)
        bot.updates = allowed
        batch = bot.updates[:limit]
        bot.delivered.update(u["update_id"] for u in batch)
        return batch

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] not in self.bots:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        for stored in self.files.values():
            if stored.file_path == request.match_info["path"] and stored.data is not None:
                return web.Response(body=stored.data)
        return web.json_response(ApiError(404, "Not Found").body(), status=404)
