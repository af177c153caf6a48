"""A fake WhatsApp Cloud API (Graph API) on loopback that the real ``pywa_async`` client talks to.

``async with FakeWhatsApp() as wa:`` serves ``POST /{version}/{phone_id}/messages`` (to a phone
with ``to`` or to a business-scoped user id with ``recipient``), ``POST /{version}/{phone_id}/
media`` (multipart upload), ``GET /{version}/{media_id}`` (the media's URL) and that URL's
download (bearer only, like Meta's lookaside host); checks the ``Authorization:
Bearer`` token (190 OAuthException otherwise); answers ``{"messaging_product": "whatsapp",
"contacts": [{"input", "wa_id"|"user_id"}], "messages": [{"id": "wamid…"}]}`` and refuses what
the real API refuses, with Meta's codes (see ``whatsapp_limits``). A free-form message while the
customer service window is closed is accepted and then reported failed with 131047, as Meta
does. Every accepted message gets ``sent`` and ``delivered`` status notifications.

The webhook side (``whatsapp_webhook``) delivers signed notifications to the app after the GET
handshake; scripted customers (``wa.customer(...)``, see ``whatsapp_users``) type, tap, share
places, photos and orders. Tests wait with ``await wa.wait_for(...)``.
"""

# `timeout=` is this fake's public API; the waits are deadline-bound condition waits.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiohttp import BodyPartReader, web

from tests.fakes.loopback import LoopbackServer
from tests.fakes.whatsapp_limits import MessageRules
from tests.fakes.whatsapp_model import (
    ApiRequest,
    BotMessage,
    Customer,
    GraphError,
    InboundMessage,
    InjectedError,
    Media,
    Template,
    bad_token,
    invalid_request,
    re_engagement,
    unknown_object,
)
from tests.fakes.whatsapp_users import WhatsAppCustomer
from tests.fakes.whatsapp_webhook import WebhookSender

T = TypeVar("T")
WINDOW = timedelta(hours=24)
POLL_S = 0.02
_VERSION = re.compile(r"^v\d+\.\d+$")
DOWNLOAD_PATH = "/whatsapp_business/attachments/"


class FakeWhatsApp(LoopbackServer):
    def __init__(self, *, phone_id: str = "106540352242922", token: str = "EAAfake-wa-token",
                 app_secret: str = "fake-app-secret", waba_id: str = "102290129340398",
                 display_phone: str = "15550783881",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 auto_statuses: tuple[str, ...] = ("sent", "delivered")) -> None:
        self.phone_id, self.token, self.app_secret = phone_id, token, app_secret
        self.waba_id, self.display_phone = waba_id, display_phone
        self.clock = clock
        self.auto_statuses = auto_statuses
        self.base_url = ""
        self.customers: dict[str, Customer] = {}
        self.sent: list[BotMessage] = []
        self.inbound: list[InboundMessage] = []
        self.requests: list[ApiRequest] = []
        self.templates: dict[tuple[str, str], Template] = {}
        self.media: dict[str, Media] = {}
        self.catalogs: dict[str, set[str]] = {}
        self._failures: list[InjectedError] = []
        self._ids = itertools.count(1)
        self.rules = MessageRules(self.templates, lambda ident: ident in self.media,
                                  self.catalogs.get)
        self.webhook = WebhookSender(waba_id, app_secret, on_change=self.bump,
                                     on_accepted=self._accepted)
        # Set by a test harness that can tell when the app has work in hand, so scripted
        # customers wait for the whole answer rather than for a quiet moment only.
        self.app_busy: Callable[[], bool] = lambda: False
        self.version = 0
        self._event = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> str:
        """Serve on 127.0.0.1 on a free port; returns the base URL (``WHATSAPP_API_BASE``)."""
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_post("/{version}/{phone_id}/messages", self._messages)
        app.router.add_post("/{version}/{phone_id}/media", self._upload)
        # Before the Graph route it would otherwise match ("/whatsapp_business/attachments").
        app.router.add_get(DOWNLOAD_PATH, self._download)
        app.router.add_get("/{version}/{media_id}", self._media_url)
        return await self._serve(app, shutdown_timeout=0.5)

    async def stop(self) -> None:
        await self.webhook.close()
        await self._close_server()

    # -- set-up ------------------------------------------------------------------------------
    def customer(self, bsuid: str, name: str = "Alice", *, wa_id: str | None = None,
                 username: str | None = None) -> WhatsAppCustomer:
        """A scripted customer known by a BSUID (``US.13491208655302741918``), maybe a phone."""
        self.customers[bsuid] = Customer(bsuid, name, wa_id, username)
        return WhatsAppCustomer(self, self.customers[bsuid])

    def add_template(self, name: str, language: str, body_params: int, text: str) -> None:
        """An approved template (``{{1}}`` … in ``text``)."""
        self.templates[(name, language)] = Template(name, language, body_params, text)

    def add_catalog(self, catalog_id: str, skus: set[str]) -> None:
        self.catalogs[catalog_id] = set(skus)

    def fail_next(self, error: GraphError, *, bsuid: str | None = None, times: int = 1,
                  after_accept: bool = False) -> None:
        """Answer the next sends (to this customer) with ``error``; ``after_accept``: accept
        them, then report them failed with it in a status notification."""
        self._failures.extend([InjectedError(error, bsuid, after_accept)] * times)

    def close_window(self, bsuid: str) -> None:
        """The customer's last message is over 24 hours old, whatever the app believes."""
        self.customers[bsuid].last_inbound_at = None

    async def subscribe(self, url: str, verify_token: str) -> tuple[int, str, str]:
        """Point the webhook at ``url`` after Meta's GET handshake; (status, body, challenge)."""
        return await self.webhook.verify(url, verify_token)

    # -- records ------------------------------------------------------------------------------
    def messages(self, bsuid: str | None = None, *, kind: str | None = None) -> list[BotMessage]:
        return [m for m in self.sent if (bsuid is None or m.bsuid == bsuid)
                and (kind is None or m.kind == kind)]

    def message(self, wamid: str) -> BotMessage | None:
        return next((m for m in self.sent if m.wamid == wamid), None)

    def failed_requests(self, code: int | None = None) -> list[ApiRequest]:
        return [r for r in self.requests if r.status >= 400
                and (code is None or r.error_code == code)]

    def new_wamid(self) -> str:
        return "wamid.HBgL" + secrets.token_urlsafe(24)

    # -- waiting ------------------------------------------------------------------------------
    def bump(self) -> None:
        self.version += 1
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], Any], timeout: float) -> bool:
        """Whether ``predicate()`` became truthy within ``timeout`` seconds; re-checked on
        every change the fake sees, and every few milliseconds for changes it cannot see
        (the app finishing its work)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), min(remaining, POLL_S))
        return True

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, *,
                       what: str | None = None) -> T:
        """Wait until ``predicate()`` is truthy (checked on every change the fake sees)."""
        if not await self.wait_until(predicate, timeout):
            raise AssertionError(f"timed out after {timeout}s waiting for "
                                 f"{what or getattr(predicate, '__name__', 'a condition')}\n"
                                 f"{self.describe_recent()}")
        return predicate()

    async def settle(self, quiet: float = 0.08, limit: float = 10.0) -> None:
        """Wait until nothing has happened for ``quiet`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            mark = self.version

            def changed(mark: int = mark) -> bool:
                return self.version != mark

            if not await self.wait_until(changed, quiet):
                return

    def describe_recent(self, count: int = 10) -> str:
        lines = [f"  {r.method} {r.path} -> {r.status} {r.error_code or ''}"
                 for r in self.requests[-count:]]
        shown = [f"  {m.bsuid}: {m.describe()}" for m in self.sent[-5:]]
        return ("recent requests:\n" + ("\n".join(lines) or "  (none)")
                + "\nlatest messages:\n" + ("\n".join(shown) or "  (none)"))

    # -- webhook values -----------------------------------------------------------------------
    def metadata(self) -> dict[str, str]:
        return {"display_phone_number": self.display_phone, "phone_number_id": self.phone_id}

    def status_value(self, message: BotMessage, status: str, *,
                     error: GraphError | None = None, contacts: bool = True) -> dict[str, Any]:
        customer = self.customers[message.bsuid]
        item: dict[str, Any] = {"id": message.wamid, "status": status,
                                "timestamp": str(int(self.clock().timestamp())),
                                "recipient_user_id": customer.bsuid}
        if customer.wa_id:
            item["recipient_id"] = customer.wa_id
        if status in ("sent", "delivered", "read"):
            item["pricing"] = {"billable": True, "pricing_model": "PMP",
                               "category": "utility" if message.type == "template"
                               else "service", "type": "regular"}
        if error is not None:
            item["errors"] = [error.as_status_error()]
        value: dict[str, Any] = {"messaging_product": "whatsapp", "metadata": self.metadata(),
                                 "statuses": [item]}
        if contacts:
            value["contacts"] = [customer.contact()]
        return value

    def report_status(self, message: BotMessage, status: str, *,
                      error: GraphError | None = None, contacts: bool = True) -> None:
        """Record a status of a sent message and notify the app of it."""
        message.statuses.append(status)
        if error is not None:
            message.error = error
        self.webhook.push(self.status_value(message, status, error=error, contacts=contacts))
        self.bump()

    # -- HTTP ---------------------------------------------------------------------------------
    def _authorize(self, request: web.Request) -> None:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or given.strip() != self.token:
            raise bad_token()
        if not _VERSION.match(request.match_info["version"]):
            raise GraphError(2500, f"Unknown path components: /{request.match_info['version']}",
                             error_type="OAuthException")

    def _phone(self, request: web.Request) -> None:
        if request.match_info["phone_id"] != self.phone_id:
            raise unknown_object(request.match_info["phone_id"])

    async def _answer(self, request: web.Request, record: ApiRequest,
                      handler: Callable[[], Any]) -> web.Response:
        self.requests.append(record)
        try:
            self._authorize(request)
            result = await handler()
        except GraphError as error:
            record.status, record.error_code = error.status, error.code
            self.bump()
            headers = ({"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'}
                       if error.code == 190 else {})
            return web.json_response(error.body(), status=error.status, headers=headers)
        record.status = 200
        self.bump()
        return web.json_response(result)

    async def _messages(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        record = ApiRequest("POST", request.path, body if isinstance(body, dict) else {})

        async def handle() -> dict[str, Any]:
            self._phone(request)
            if not isinstance(body, dict):
                raise invalid_request("The request body is not valid JSON")
            return self._send(body)

        return await self._answer(request, record, handle)

    def _recipient(self, body: dict[str, Any]) -> tuple[Customer, str, dict[str, str]]:
        to, recipient = body.get("to"), body.get("recipient")
        if bool(to) == bool(recipient):
            raise invalid_request("Exactly one of to or recipient is required")
        if recipient:
            customer = self.customers.get(str(recipient))
            if customer is None:
                raise GraphError(131030, "(#131030) Recipient not in allowed list",
                                 details="Recipient user ID not in allowed list")
            return customer, "recipient", {"input": str(recipient), "user_id": customer.bsuid}
        digits = re.sub(r"\D", "", str(to))
        customer = next((c for c in self.customers.values() if c.wa_id == digits), None)
        if customer is None:
            raise GraphError(131030, "(#131030) Recipient phone number not in allowed list",
                             details="Recipient phone number not in allowed list")
        return customer, "to", {"input": str(to), "wa_id": digits}

    def _injected(self, customer: Customer) -> InjectedError | None:
        for index, failure in enumerate(self._failures):
            if failure.bsuid in (None, customer.bsuid):
                del self._failures[index]
                return failure
        return None

    def window_open(self, customer: Customer) -> bool:
        last = customer.last_inbound_at
        return last is not None and self.clock() - last < WINDOW

    def _send(self, body: dict[str, Any]) -> dict[str, Any]:
        customer, by, contact = self._recipient(body)
        injected = self._injected(customer)
        if injected is not None and not injected.after_accept:
            raise injected.error
        self.rules.check(body)
        message = BotMessage(self.new_wamid(), customer.bsuid, body, self.clock(), by)
        self.sent.append(message)
        failure = injected.error if injected is not None else None
        if failure is None and body.get("type") != "template" and not self.window_open(customer):
            failure = re_engagement()  # accepted now, reported failed a moment later
        if failure is not None:
            self.report_status(message, "failed", error=failure, contacts=False)
        else:
            for status in self.auto_statuses:
                self.report_status(message, status)
        return {"messaging_product": "whatsapp", "contacts": [contact],
                "messages": [{"id": message.wamid}]}

    async def _upload(self, request: web.Request) -> web.Response:
        record = ApiRequest("POST", request.path, {})

        async def handle() -> dict[str, Any]:
            self._phone(request)
            if not request.content_type.startswith("multipart/"):
                raise invalid_request("Upload must be multipart/form-data")
            fields: dict[str, Any] = {}
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or not part.name:
                    continue
                data = await part.read()
                fields[part.name] = (part.filename, data, part.headers.get("Content-Type", ""))
            if fields.get("messaging_product", (None, b""))[1] != b"whatsapp":
                raise invalid_request("The parameter messaging_product is required.")
            if "file" not in fields:
                raise invalid_request("The parameter file is required.")
            filename, data, mime = fields["file"]
            record.body = {"filename": filename, "size": len(data), "type": mime}
            if not str(mime).startswith("image/") and not fields.get("type"):
                raise invalid_request("Param file must be a file with one of the supported types")
            media_id = str(10**15 + next(self._ids))
            self.media[media_id] = Media(media_id, data, str(mime), str(filename))
            return {"id": media_id}

        return await self._answer(request, record, handle)

    async def _media_url(self, request: web.Request) -> web.Response:
        record = ApiRequest("GET", request.path, {})

        async def handle() -> dict[str, Any]:
            media = self.media.get(request.match_info["media_id"])
            if media is None:
                raise unknown_object(request.match_info["media_id"])
            return {"messaging_product": "whatsapp", "id": media.media_id,
                    "url": f"{self.base_url}{DOWNLOAD_PATH}?mid={media.media_id}&ext=1"
                           f"&hash={secrets.token_urlsafe(8)}",
                    "mime_type": media.mime_type, "sha256": "", "file_size": len(media.data)}

        return await self._answer(request, record, handle)

    async def _download(self, request: web.Request) -> web.Response:
        """The media URL itself (Meta's lookaside host): the bytes, for the bearer only."""
        record = ApiRequest("GET", request.path, {"mid": request.query.get("mid", "")})
        self.requests.append(record)
        self.bump()
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or given.strip() != self.token:
            record.status = 401
            return web.Response(status=401, text="Unauthorized")
        media = self.media.get(request.query.get("mid", ""))
        if media is None:
            record.status = 404
            return web.Response(status=404, text="Not Found")
        record.status = 200
        return web.Response(body=media.data, content_type=media.mime_type)

    # -- inbound ------------------------------------------------------------------------------
    def inbound_value(self, customer: Customer, message: dict[str, Any]) -> dict[str, Any]:
        """A change value carrying one message from the customer."""
        return {"messaging_product": "whatsapp", "metadata": self.metadata(),
                "contacts": [customer.contact()], "messages": [message]}

    def new_inbound(self, customer: Customer, kind: str, content: dict[str, Any], *,
                    context: str | None = None) -> InboundMessage:
        """The customer sends something: the window opens, the webhook carries it."""
        now = self.clock()
        customer.last_inbound_at = now
        message: dict[str, Any] = {"from_user_id": customer.bsuid, "id": self.new_wamid(),
                                   "timestamp": str(int(now.timestamp())), "type": kind,
                                   kind: content}
        if customer.wa_id:
            message["from"] = customer.wa_id
        if context:
            message["context"] = {"from": self.display_phone, "id": context}
        inbound = InboundMessage(message["id"], customer.bsuid, message)
        self.inbound.append(inbound)
        self.webhook.push(self.inbound_value(customer, message))
        self.bump()
        return inbound

    def _accepted(self, body: bytes) -> None:
        """The app took a notification: its messages count as delivered."""
        try:
            notification = json.loads(body)
            wamids = {m.get("id") for e in notification.get("entry", [])
                      for c in e.get("changes", []) for m in c["value"].get("messages", [])}
        except (ValueError, AttributeError, KeyError, TypeError):
            return
        for inbound in self.inbound:
            if inbound.wamid in wamids:
                inbound.delivered = True

    def raw(self, value: dict[str, Any]) -> bytes:
        return json.dumps(value).encode()
