"""A fake Stripe API on loopback that speaks Stripe's wire format.

Requests are form-encoded with Stripe's bracket notation (``line_items[0][quantity]=2``),
answers are JSON objects shaped like Stripe's, errors use Stripe's ``{"error": {...}}``
envelope and status codes, ``Idempotency-Key`` is honoured the way Stripe documents it, and
webhooks are signed with Stripe's ``t=…,v1=…`` scheme. Only what Chatshop uses is served:
creating and reading Checkout Sessions, and refunds (checked against the charge).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.loopback import LoopbackServer

API_VERSION = "2026-10-28.endive"
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class StripeApiError(Exception):
    """An error answer; ``saved`` says whether an idempotency key remembers it (as Stripe does
    for requests that started executing, not for ones that failed validation)."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 param: str | None = None, type_: str = "invalid_request_error",
                 saved: bool = False) -> None:
        super().__init__(message)
        self.status, self.saved = status, saved
        self.body: dict[str, Any] = {"error": {"type": type_, "message": message}}
        if code:
            self.body["error"]["code"] = code
            slug = code.replace("_", "-")
            self.body["error"]["doc_url"] = f"https://stripe.com/docs/error-codes/{slug}"
        if param:
            self.body["error"]["param"] = param


def missing(param: str) -> StripeApiError:
    return StripeApiError(400, f"Missing required param: {param}.", code="parameter_missing",
                          param=param)


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's bracket notation to nested dicts; hashes keyed ``0, 1, …`` become lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        parts = [key] if match is None else [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        node = root
        for depth, part in enumerate(parts):
            name = part if part != "" else str(len(node))  # `a[]=x` appends
            if depth == len(parts) - 1:
                if isinstance(node.get(name), dict):
                    raise StripeApiError(400, f"Invalid hash: {key} mixes a value and a hash")
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise StripeApiError(400, f"Invalid hash: {key} mixes a value and a hash")
                node = child
    # The top level stays a mapping of parameter names, even names that are all digits.
    return {key: _listify(value) for key, value in root.items()}


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {key: _listify(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def to_int(value: Any, param: str, *, minimum: int = 0) -> int:
    if value is None:
        raise missing(param)
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise StripeApiError(400, f"Invalid integer: {value}", code="parameter_invalid_integer",
                             param=param)
    if int(value) < minimum:
        raise StripeApiError(400, f"This value must be greater than or equal to {minimum}.",
                             code="parameter_invalid_integer", param=param)
    return int(value)


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]
    headers: CIMultiDict[str]
    status: int = 0

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


@dataclass
class WebhookDelivery:
    event: dict[str, Any]
    body: bytes
    signature: str
    status: int | None  # None: no webhook_url, or the endpoint could not be reached


@dataclass
class _Saved:
    fingerprint: tuple[str, str, dict[str, Any]]
    status: int
    body: dict[str, Any]
    request_id: str


class FakeStripe(LoopbackServer):
    """The fake server plus test controls; ``async with FakeStripe(...) as stripe_fake: ...``."""

    def __init__(self, api_key: str = "sk_test_fake_key_0123456789", *,
                 webhook_secret: str = "whsec_fake_secret", webhook_url: str | None = None) -> None:
        self.api_key, self.webhook_secret, self.webhook_url = api_key, webhook_secret, webhook_url
        self.base_url = ""
        self.requests: list[RecordedRequest] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.line_items: dict[str, list[dict[str, Any]]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, str] = {}  # payment intent id -> its charge id
        self.refunds: dict[str, dict[str, Any]] = {}
        self.deliveries: list[WebhookDelivery] = []
        self._failures: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self._idempotent: dict[str, _Saved] = {}
        self._request_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., dict[str, Any]]]] = [
            ("POST", re.compile(r"/v1/checkout/sessions"), self._create_session),
            ("GET", re.compile(r"/v1/checkout/sessions/(?P<ident>[^/]+)"), self._get_session),
            ("POST", re.compile(r"/v1/refunds"), self._create_refund),
        ]

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> str:
        """Serve on 127.0.0.1 on a free port; returns the base URL (``STRIPE_API_BASE``)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        base_url = await self._serve(app)
        self._http = aiohttp.ClientSession()
        return base_url

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = None
        await self._close_server()

    # -- test controls ---------------------------------------------------------------------
    def fail_next(self, status: int = 500, error: dict[str, Any] | None = None, *,
                  times: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next ``times`` authenticated requests with this error (not remembered
        by idempotency keys: it stands for a failure before Stripe executed anything)."""
        body = error or {"error": {"type": "api_error",
                                   "message": "An unknown error occurred. Please retry."}}
        self._failures.extend([(status, body, headers or {})] * times)

    def sign(self, payload: bytes, timestamp: int | None = None, *,
             secret: str | None = None) -> str:
        """A ``Stripe-Signature`` header for ``payload`` signed like Stripe signs webhooks."""
        ts = int(time.time()) if timestamp is None else timestamp
        key = (secret or self.webhook_secret).encode()
        digest = hmac.new(key, f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={ts},v1={digest}"

    def create_charge(self, amount: int, currency: str, *, payment_intent: bool = False) -> str:
        """A succeeded charge (as if a Telegram card payment went through Stripe)."""
        charge_id = f"ch_{secrets.token_hex(12)}"
        intent = f"pi_{secrets.token_hex(12)}" if payment_intent else None
        self.charges[charge_id] = {
            "id": charge_id, "object": "charge", "amount": amount, "amount_refunded": 0,
            "currency": currency.lower(), "paid": True, "refunded": False, "status": "succeeded",
            "payment_intent": intent, "created": int(time.time()), "livemode": False,
        }
        if intent:
            self.payment_intents[intent] = charge_id
        return charge_id

    def make_event(self, event_type: str, data_object: dict[str, Any]) -> dict[str, Any]:
        """An event envelope shaped like Stripe's (``evt_…``, ``data.object``, ``type``)."""
        return {
            "id": f"evt_{secrets.token_hex(12)}", "object": "event", "api_version": API_VERSION,
            "created": int(time.time()), "data": {"object": data_object}, "livemode": False,
            "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }

    async def send_event(self, event: dict[str, Any], *, timestamp: int | None = None) -> bytes:
        """POST the event, signed, to ``webhook_url`` (if any); returns the exact body sent."""
        body = json.dumps(event, indent=2).encode()  # Stripe pretty-prints its webhook bodies
        signature = self.sign(body, timestamp)
        status: int | None = None
        if self.webhook_url and self._http is not None:
            headers = {"Content-Type": "application/json; charset=utf-8",
                       "Stripe-Signature": signature,
                       "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
            try:
                async with self._http.post(self.webhook_url, data=body, headers=headers) as resp:
                    status = resp.status
            except aiohttp.ClientError:
                status = None
        self.deliveries.append(WebhookDelivery(event, body, signature, status))
        return body

    async def complete_session(self, session_id: str, *,
                               event_type: str = "checkout.session.completed") -> dict[str, Any]:
        """The customer paid: mark the session paid with a payment intent and a charge, and
        send the signed ``checkout.session.completed`` event; returns the event."""
        session = self.sessions[session_id]
        if session["status"] != "open":
            raise ValueError(f"session {session_id} is {session['status']}")
        charge_id = self.create_charge(session["amount_total"], session["currency"],
                                       payment_intent=True)
        session.update(status="complete", payment_status="paid", url=None,
                       payment_intent=self.charges[charge_id]["payment_intent"])
        event = self.make_event(event_type, json.loads(json.dumps(session)))
        await self.send_event(event)
        return event

    # -- HTTP ------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.Response:
        raw = await request.text() if request.method == "POST" else request.query_string
        record = RecordedRequest(request.method, request.path, {}, CIMultiDict(request.headers))
        self.requests.append(record)
        request_id = f"req_{next(self._request_ids):014d}"
        headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
        try:
            record.params = parse_form(parse_qsl(raw, keep_blank_values=True))
            self._authenticate(request.headers.get("Authorization"))
            if self._failures:
                status, body, extra = self._failures.pop(0)
                return self._answer(record, status, body, {**headers, **extra})
            key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
            fingerprint = (request.method, request.path, record.params)
            if key and key in self._idempotent:
                saved = self._idempotent[key]
                if saved.fingerprint != fingerprint:
                    raise StripeApiError(
                        400, "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                        type_="idempotency_error")
                return self._answer(record, saved.status, saved.body, {
                    **headers, "Idempotent-Replayed": "true",
                    "Original-Request": saved.request_id, "Idempotency-Key": key})
            try:
                status, body = 200, self._route(request.method, request.path, record.params)
            except StripeApiError as error:
                if not error.saved:
                    raise
                status, body = error.status, error.body
            if key:
                # a snapshot: a replay answers what was first answered, not today's state
                self._idempotent[key] = _Saved(fingerprint, status, json.loads(json.dumps(body)),
                                               request_id)
                headers["Idempotency-Key"] = key
            return self._answer(record, status, body, headers)
        except StripeApiError as error:
            return self._answer(record, error.status, error.body, headers)

    def _answer(self, record: RecordedRequest, status: int, body: dict[str, Any],
                headers: dict[str, str]) -> web.Response:
        record.status = status
        return web.json_response(body, status=status, headers=headers)

    def _authenticate(self, header: str | None) -> None:
        scheme, _, given = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise StripeApiError(
                401, "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').")
        if not hmac.compare_digest(given.strip(), self.api_key):
            prefix = "sk_test_" if given.startswith("sk_test_") else given[:3]
            masked = prefix + "*" * max(0, len(given) - len(prefix) - 4) + given[-4:]
            raise StripeApiError(401, f"Invalid API Key provided: {masked}")

    def _route(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return handler(params, **match.groupdict())
        raise StripeApiError(404, f"Unrecognized request URL ({method}: {path}). Please see "
                             "https://stripe.com/docs or we can help at https://support.stripe.com/.")

    # -- Checkout Sessions -----------------------------------------------------------------
    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        mode = params.get("mode") or ""
        if not mode:
            raise missing("mode")
        if mode != "payment":
            raise StripeApiError(400, f"This fake serves mode=payment only, not {mode!r}.",
                                 param="mode")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise missing("line_items")
        currency: str | None = None
        subtotal = 0
        stored: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            where = f"line_items[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("price_data"), dict):
                raise missing(f"{where}[price_data]")
            price = item["price_data"]
            quantity = to_int(item.get("quantity"), f"{where}[quantity]", minimum=1)
            unit = to_int(price.get("unit_amount"), f"{where}[price_data][unit_amount]")
            if not price.get("currency"):
                raise missing(f"{where}[price_data][currency]")
            product = price.get("product_data")
            if not isinstance(product, dict) or not product.get("name"):
                raise missing(f"{where}[price_data][product_data][name]")
            if currency not in (None, price["currency"].lower()):
                raise StripeApiError(400, "All line items must use the same currency.",
                                     param=f"{where}[price_data][currency]")
            currency = price["currency"].lower()
            subtotal += unit * quantity
            stored.append({"description": product["name"], "quantity": quantity,
                           "price": {"unit_amount": unit, "currency": currency},
                           "amount_total": unit * quantity})
        shipping = 0
        for index, option in enumerate(params.get("shipping_options") or []):
            fixed = ((option or {}).get("shipping_rate_data") or {}).get("fixed_amount") or {}
            amount = to_int(fixed.get("amount"), f"shipping_options[{index}][shipping_rate_data]"
                            "[fixed_amount][amount]")
            shipping = amount if index == 0 else shipping  # the first option is preselected
        now = int(time.time())
        expires_at = now + 24 * 3600
        if params.get("expires_at") is not None:
            expires_at = to_int(params["expires_at"], "expires_at")
            if expires_at < now + 30 * 60 - 5:
                raise StripeApiError(400, "The `expires_at` timestamp must be at least 30 "
                                     "minutes from Checkout Session creation.", param="expires_at")
            if expires_at > now + 24 * 3600 + 5:
                raise StripeApiError(400, "The `expires_at` timestamp must be less than 24 "
                                     "hours from Checkout Session creation.", param="expires_at")
        session_id = f"cs_test_{secrets.token_hex(24)}"
        session = {
            "id": session_id, "object": "checkout.session", "mode": mode,
            "amount_subtotal": subtotal, "amount_total": subtotal + shipping,
            "currency": currency, "client_reference_id": params.get("client_reference_id"),
            "customer_email": params.get("customer_email"), "created": now,
            "expires_at": expires_at, "livemode": False, "locale": params.get("locale"),
            "metadata": params.get("metadata") or {}, "payment_intent": None,
            "payment_status": "unpaid", "status": "open",
            "success_url": params.get("success_url"), "cancel_url": params.get("cancel_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": shipping,
                              "amount_tax": 0},
            "url": f"{self.base_url}/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        self.line_items[session_id] = stored
        return session

    def _get_session(self, params: dict[str, Any], ident: str) -> dict[str, Any]:
        if ident not in self.sessions:
            raise StripeApiError(404, f"No such checkout.session: '{ident}'",
                                 code="resource_missing", param="session")
        return self.sessions[ident]

    # -- refunds ---------------------------------------------------------------------------
    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        intent, charge_id = params.get("payment_intent"), params.get("charge")
        if not intent and not charge_id:
            raise StripeApiError(400, "One of the following params should be provided for this "
                                 "request: payment_intent or charge.", code="parameter_missing",
                                 param="charge")
        if intent:
            if intent not in self.payment_intents:
                raise StripeApiError(404, f"No such payment_intent: '{intent}'",
                                     code="resource_missing", param="payment_intent")
            if charge_id and charge_id != self.payment_intents[intent]:
                raise StripeApiError(400, f"Charge {charge_id} does not belong to {intent}.",
                                     param="charge")
            charge_id = self.payment_intents[intent]
        if charge_id not in self.charges:
            raise StripeApiError(404, f"No such charge: '{charge_id}'", code="resource_missing",
                                 param="charge")
        charge = self.charges[charge_id]
        remaining = charge["amount"] - charge["amount_refunded"]
        amount = remaining
        if params.get("amount") is not None:
            amount = to_int(params["amount"], "amount", minimum=1)
        if remaining == 0:
            raise StripeApiError(400, f"Charge {charge_id} has already been refunded.",
                                 code="charge_already_refunded", saved=True)
        if amount > remaining:
            cur = charge["currency"].upper()
            raise StripeApiError(
                400, f"Refund amount ({cur} {amount / 100:.2f}) is greater than unrefunded "
                f"amount on charge ({cur} {remaining / 100:.2f})", code="amount_too_large",
                param="amount", saved=True)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        refund_id = f"re_{secrets.token_hex(12)}"
        refund = {
            "id": refund_id, "object": "refund", "amount": amount, "charge": charge_id,
            "currency": charge["currency"], "payment_intent": charge["payment_intent"],
            "created": int(time.time()), "metadata": params.get("metadata") or {},
            "reason": params.get("reason"), "status": "succeeded",
        }
        self.refunds[refund_id] = refund
        return refund
