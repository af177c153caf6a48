"""Stripe's webhook: verified on the raw body, recorded once, answered quickly.

Stripe retries anything but a 2xx for days, so a forged or malformed request
gets 400 (it will never verify), a duplicate gets 200 (already done), and only
our own failures (database down) get 500 so Stripe tries again later.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from shop.errors import PaymentRejected
from shop.payments.service import PaymentService

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024
PATH = "/webhooks/stripe"


def stripe_webhook_handler(
    payments: PaymentService,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.json_response({"error": "body too large"}, status=413)
        raw = await request.read()
        if len(raw) > MAX_BODY:
            return web.json_response({"error": "body too large"}, status=413)
        try:
            result = await payments.stripe_webhook(raw, request.headers.get("Stripe-Signature"))
        except PaymentRejected as error:
            log.warning("Stripe webhook refused: %s", error.message)
            return web.json_response({"error": error.message}, status=400)
        outcome = "ignored" if result is None else str(result.outcome)
        return web.json_response({"received": True, "outcome": outcome})

    return handle


def add_stripe_route(app: web.Application, payments: PaymentService) -> None:
    app.router.add_post(PATH, stripe_webhook_handler(payments))
