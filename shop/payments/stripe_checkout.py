"""Stripe Checkout: payment links, verified webhooks and refunds through the official SDK.

Every call goes through ``stripe.StripeClient`` with the SDK's async ``HTTPXClient`` (its
``*_async`` methods), two network retries and idempotency keys derived from our ids, so a
retried request never charges or refunds twice.

How an order becomes Checkout line items: Checkout has no ad-hoc discount (only coupons), and
the customer must be charged exactly ``order.total``. Without a discount each order line is one
Checkout line (``unit_amount × quantity`` when the line amount divides evenly, else a single
"Title × n" line for the line amount) and shipping is one more line. With a discount, or when
the lines would not add up to the total, the session carries one line "Order #N" for the total
and a description listing the items.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import stripe

from shop.errors import InputReason, InvalidInput, PaymentRejected, ProviderError
from shop.money import exponent
from shop.payments.base import CheckoutLink, ConfirmedPayment, PayableOrder, ProviderName

if TYPE_CHECKING:
    from stripe.params import RefundCreateParams
    from stripe.params.checkout import SessionCreateParams, SessionCreateParamsLineItem

log = logging.getLogger(__name__)
# The pages customers land on after paying or cancelling on Stripe's page (served by
# `bot.channels.stripe_pages`): every Checkout Session's success and cancel URLs.
SUCCESS_PATH = "/payments/stripe/success"
CANCEL_PATH = "/payments/stripe/cancel"

PAID_SESSION_EVENTS = frozenset(
    {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
)
# Stripe accepts expires_at between 30 minutes and 24 hours after creation; the margins absorb
# clock skew and the request's own latency.
_MIN_EXPIRY = timedelta(minutes=32)
_MAX_EXPIRY = timedelta(hours=24) - timedelta(minutes=2)
_EXPIRY_GRID_S = 300
# Stripe's minor units where they differ from ISO 4217 (https://stripe.com/docs/currencies).
_STRIPE_ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()
)
_STRIPE_THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
_CHECKOUT_LOCALES = frozenset(
    "bg cs da de el en es et fi fil fr hr hu id it ja ko lt lv ms mt nb nl pl pt ro ru sk sl "
    "sv th tr vi zh".split()
)
_SECRET_KEY = re.compile(r"\b([sr]k_(?:test|live)_)[A-Za-z0-9*]+")


class StripeApiError(ProviderError):
    """Stripe refused or failed a call; carries Stripe's error code and HTTP status."""

    def __init__(self, message: str, *, stripe_code: str | None = None,
                 http_status: int | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.stripe_code = stripe_code
        self.http_status = http_status
        self.request_id = request_id


def _stripe_exponent(currency: str) -> int:
    if currency in _STRIPE_ZERO_DECIMAL:
        return 0
    return 3 if currency in _STRIPE_THREE_DECIMAL else 2


def to_stripe_amount(amount: int, currency: str) -> int:
    """Our minor units (ISO 4217 exponent) to Stripe's (e.g. ISK: ×100, MGA: ÷100)."""
    shift = _stripe_exponent(currency) - exponent(currency)
    scale = int(10 ** abs(shift))
    if shift >= 0:
        return amount * scale
    if amount % scale:
        raise InvalidInput(f"{amount} minor units of {currency} cannot be charged through Stripe,"
                           f" which counts {currency} in whole units", field="amount",
                           reason=InputReason.FORMAT)
    return amount // scale


def from_stripe_amount(amount: int, currency: str) -> int:
    """Stripe's minor units back to ours; ValueError when they do not convert exactly."""
    shift = _stripe_exponent(currency) - exponent(currency)
    scale = int(10 ** abs(shift))
    if shift <= 0:
        return amount * scale
    if amount % scale:
        raise ValueError(f"{amount} is not a whole number of {currency} minor units")
    return amount // scale


def with_language(url: str, language: str) -> str:
    """`url` with `lang=<language>` added to its query. Not through a URL parser: Stripe
    fills in `{CHECKOUT_SESSION_ID}` in the URL, and that must stay as it is."""
    if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z]{2,4})?", language):
        return url
    base, hash_, fragment = url.partition("#")
    return f"{base}{'&' if '?' in base else '?'}lang={language}{hash_}{fragment}"


def _redact(text: str) -> str:
    return _SECRET_KEY.sub(r"\1***", text)


class StripeCheckout:
    """Stripe Checkout Sessions for orders, their webhooks, and refunds."""

    def __init__(self, *, api_key: str, webhook_secret: str | None, api_base: str | None,
                 success_url: str, cancel_url: str, webhook_tolerance_s: int = 300,
                 timeout_s: float = 30.0) -> None:
        if not api_key:
            raise InvalidInput("STRIPE_API_KEY is empty", field="stripe_api_key",
                               reason=InputReason.REQUIRED)
        self._webhook_secret = webhook_secret or None
        self._success_url = success_url
        self._cancel_url = cancel_url
        self._tolerance_s = webhook_tolerance_s
        self._http = stripe.HTTPXClient(timeout=timeout_s)
        self._client = stripe.StripeClient(
            api_key,
            http_client=self._http,
            max_network_retries=2,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
        )

    async def __aenter__(self) -> StripeCheckout:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.close_async()  # type: ignore[no-untyped-call]

    # -- Checkout Sessions ----------------------------------------------------------------
    async def create_session(self, order: PayableOrder, *, customer_email: str | None = None,
                             expires_at: datetime | None = None) -> CheckoutLink:
        """Create a Checkout Session charging exactly ``order.total``; returns its URL.

        The idempotency key is ``checkout-order-<order_id>``, so a retry or a double tap gets
        the same session back. If that key was first used with other parameters (another email,
        a later expiry), Stripe refuses the replay and a new session is made under a key that
        also names the parameters. Raises ProviderError when Stripe fails or refuses.
        """
        if order.total <= 0:
            raise InvalidInput(f"order #{order.number} has nothing to pay ({order.total})",
                               field="total", reason=InputReason.OUT_OF_RANGE, minimum=1)
        currency = order.currency.upper()
        ids = {"order_id": str(order.order_id), "order_number": str(order.number)}
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": self._line_items(order, currency),
            # The customer's language rides along, for the page they land on.
            "success_url": with_language(self._success_url, order.language),
            "cancel_url": with_language(self._cancel_url, order.language),
            "client_reference_id": str(order.order_id),
            "metadata": dict(ids),
            "payment_intent_data": {"metadata": dict(ids)},
            "locale": order.language if order.language in _CHECKOUT_LOCALES else "auto",
        }
        if customer_email:
            params["customer_email"] = customer_email
        if expires_at is not None:
            params["expires_at"] = self._expiry(expires_at)
        key = f"checkout-order-{order.order_id}"
        try:
            try:
                session = await self._client.v1.checkout.sessions.create_async(
                    params, {"idempotency_key": key})
            except stripe.IdempotencyError:
                digest = hashlib.sha256(
                    json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
                session = await self._client.v1.checkout.sessions.create_async(
                    params, {"idempotency_key": f"{key}-{digest[:16]}"})
        except stripe.StripeError as error:
            raise self._error(f"create a Checkout Session for order #{order.number}",
                              error) from None
        expected = to_stripe_amount(order.total, currency)
        if not session.url or session.amount_total != expected:
            raise ProviderError(
                f"Stripe Checkout Session {session.id} for order #{order.number} is unusable: "
                f"url={session.url!r}, amount_total={session.amount_total} (expected {expected})")
        return CheckoutLink(url=session.url, session_id=session.id)

    def _line_items(self, order: PayableOrder, currency: str) -> list[SessionCreateParamsLineItem]:
        wire = currency.lower()

        def item(name: str, amount: int, quantity: int = 1,
                 description: str | None = None) -> SessionCreateParamsLineItem:
            line: SessionCreateParamsLineItem = {
                "quantity": quantity,
                "price_data": {"currency": wire, "unit_amount": to_stripe_amount(amount, currency),
                               "product_data": {"name": (name.strip() or "Item")[:250]}},
            }
            if description:
                line["price_data"]["product_data"]["description"] = description[:500]
            return line

        if order.discount == 0:
            parts: list[tuple[str, int, int]] = []
            for line in order.lines:
                if line.quantity > 0 and line.amount % line.quantity == 0:
                    parts.append((line.title, line.amount // line.quantity, line.quantity))
                else:
                    parts.append((f"{line.title} × {line.quantity}", line.amount, 1))
            if order.shipping_total:
                name = f"Shipping: {order.shipping_name}" if order.shipping_name else "Shipping"
                parts.append((name, order.shipping_total, 1))
            if sum(unit * qty for _, unit, qty in parts) == order.total:
                try:
                    return [item(name, unit, qty) for name, unit, qty in parts]
                except InvalidInput:
                    pass  # a unit price Stripe cannot express: charge the total as one line
        summary = ", ".join(f"{line.quantity} × {line.title}" for line in order.lines)
        if order.shipping_total:
            summary += ", shipping"
        if order.discount:
            summary += ", discount applied"
        return [item(f"Order #{order.number}", order.total, 1, summary)]

    @staticmethod
    def _expiry(expires_at: datetime) -> int:
        """Clamp into Stripe's window; a too-early expiry is raised to a 5-minute grid point so
        that repeated calls for one order send the same value (and replay the same session)."""
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        now = datetime.now(UTC)
        wanted = int(expires_at.timestamp())
        earliest = int((now + _MIN_EXPIRY).timestamp())
        latest = int((now + _MAX_EXPIRY).timestamp())
        if wanted < earliest:
            wanted = -(-earliest // _EXPIRY_GRID_S) * _EXPIRY_GRID_S
        return min(wanted, latest)

    # -- webhooks -------------------------------------------------------------------------
    def parse_webhook(self, raw_body: bytes, signature_header: str | None,
                      *, now: float | None = None) -> ConfirmedPayment | None:
        """Verify a Stripe webhook on its raw body and read a completed, paid Checkout Session.

        Returns None for events that are not a paid Checkout Session. Raises PaymentRejected
        when the signature is missing or wrong, the timestamp is outside the tolerance (in
        either direction, against ``now`` or the clock), the body is not a JSON event, or a
        paid session does not name one of our orders.
        """
        if not self._webhook_secret:
            raise PaymentRejected("Stripe webhook refused: STRIPE_WEBHOOK_SECRET is not set",
                                  reason="webhook")
        if not signature_header:
            raise PaymentRejected("Stripe webhook refused: no Stripe-Signature header",
                                  reason="webhook")
        try:
            # tolerance=None: the SDK checks only against time.time(); the age is checked below
            # against an injectable clock.
            stripe.WebhookSignature.verify_header(
                raw_body, signature_header, self._webhook_secret, tolerance=None)
        except stripe.SignatureVerificationError as error:
            raise PaymentRejected(
                f"Stripe webhook refused: bad signature ({error.user_message})",
                reason="webhook") from None
        except UnicodeDecodeError:
            raise PaymentRejected("Stripe webhook refused: body is not UTF-8",
                                  reason="webhook") from None
        timestamp = _signed_at(signature_header)
        age = (time.time() if now is None else now) - timestamp
        if abs(age) > self._tolerance_s:
            raise PaymentRejected(
                f"Stripe webhook refused: signed {int(age)} s ago, outside the "
                f"{self._tolerance_s} s tolerance (replayed or clock skew)", reason="webhook")
        try:
            event = json.loads(raw_body)
        except ValueError:
            raise PaymentRejected("Stripe webhook refused: body is not JSON",
                                  reason="webhook") from None
        if not isinstance(event, dict):
            raise PaymentRejected("Stripe webhook refused: body is not a JSON object",
                                  reason="webhook")
        return self._payment(event)

    def _payment(self, event: dict[str, Any]) -> ConfirmedPayment | None:
        event_id = event.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise PaymentRejected("Stripe webhook refused: event has no id", reason="webhook")
        if event.get("type") not in PAID_SESSION_EVENTS:
            return None
        data = event.get("data")
        session = data.get("object") if isinstance(data, dict) else None
        if not isinstance(session, dict):
            raise PaymentRejected(f"Stripe event {event_id} carries no Checkout Session",
                                  reason="webhook")
        if session.get("payment_status") != "paid":
            return None
        where = f"paid Checkout Session {session.get('id')} (event {event_id})"
        metadata = session.get("metadata")
        raw_order = metadata.get("order_id") if isinstance(metadata, dict) else None
        if not isinstance(raw_order, str) or not raw_order.isdecimal():
            raise PaymentRejected(f"{where} has no usable order_id metadata", reason="webhook")
        order_id = int(raw_order)
        reference = session.get("client_reference_id")
        if reference is not None and reference != raw_order:
            raise PaymentRejected(f"{where}: client_reference_id {reference!r} does not match "
                                  f"order_id {raw_order!r}", reason="webhook")
        intent = session.get("payment_intent")
        if isinstance(intent, dict):  # expanded
            intent = intent.get("id")
        if not isinstance(intent, str) or not intent:
            raise PaymentRejected(f"{where} has no payment intent to refund against",
                                  reason="webhook")
        amount, currency = session.get("amount_total"), session.get("currency")
        if not isinstance(amount, int) or isinstance(amount, bool) or not isinstance(currency, str):
            raise PaymentRejected(f"{where} has no amount_total/currency", reason="webhook")
        currency = currency.upper()
        try:
            amount = from_stripe_amount(amount, currency)
        except (ValueError, InvalidInput) as error:
            raise PaymentRejected(f"{where}: {error}", reason="webhook") from None
        return ConfirmedPayment(
            provider=ProviderName.STRIPE, event_id=event_id, order_id=order_id,
            provider_payment_id=intent, amount=amount, currency=currency, raw=event)

    # -- refunds --------------------------------------------------------------------------
    async def refund_payment_intent(self, payment_intent_id: str, amount: int,
                                    idempotency_key: str, *, currency: str | None = None) -> str:
        """Refund ``amount`` of a Checkout payment; returns Stripe's refund id.

        ``currency`` (when given) converts our minor units to Stripe's where they differ.
        """
        params: RefundCreateParams = {"payment_intent": payment_intent_id}
        return await self._refund(params, amount, idempotency_key, currency)

    async def refund_charge(self, charge_id: str, amount: int, idempotency_key: str,
                            *, currency: str | None = None) -> str:
        """Refund ``amount`` of a charge (a Telegram card payment made through Stripe)."""
        params: RefundCreateParams = {"charge": charge_id}
        return await self._refund(params, amount, idempotency_key, currency)

    async def _refund(self, params: RefundCreateParams, amount: int, idempotency_key: str,
                      currency: str | None) -> str:
        if amount <= 0:
            raise InvalidInput(f"refund amount must be positive, not {amount}", field="amount",
                               reason=InputReason.OUT_OF_RANGE, minimum=1)
        if not idempotency_key:
            raise InvalidInput("a refund needs an idempotency key", field="idempotency_key",
                               reason=InputReason.REQUIRED)
        params["amount"] = to_stripe_amount(amount, currency.upper()) if currency else amount
        target = params.get("payment_intent") or params.get("charge")
        try:
            refund = await self._client.v1.refunds.create_async(
                params, {"idempotency_key": idempotency_key})
        except stripe.StripeError as error:
            raise self._error(f"refund {amount} on {target}", error) from None
        if refund.status in ("failed", "canceled"):
            raise StripeApiError(f"Stripe refund {refund.id} on {target} {refund.status}"
                                 f" ({refund.failure_reason or 'no reason given'})")
        return refund.id

    @staticmethod
    def _error(action: str, error: stripe.StripeError) -> StripeApiError:
        code = error.code
        if isinstance(error, stripe.AuthenticationError):
            # Stripe echoes part of the key; say nothing of it.
            message = f"Stripe refused the API key (check STRIPE_API_KEY); could not {action}"
        elif isinstance(error, stripe.APIConnectionError):
            message = f"could not reach Stripe to {action} (network error, retried)"
        else:
            detail = error.user_message or "no message"
            message = f"Stripe could not {action}: {detail}" + (f" [{code}]" if code else "")
        message = _redact(message)
        log.warning("%s (HTTP %s, request %s)", message, error.http_status, error.request_id)
        return StripeApiError(message, stripe_code=code, http_status=error.http_status,
                              request_id=error.request_id)


def _signed_at(header: str) -> int:
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdecimal():
            return int(value)
    raise PaymentRejected("Stripe webhook refused: no timestamp in Stripe-Signature",
                          reason="webhook")
