"""The WhatsApp webhook on our aiohttp server.

GET is Meta's verification handshake: the challenge is echoed only for hub.mode=subscribe and
the right hub.verify_token (403 otherwise). POST is checked against X-Hub-Signature-256 (pywa's
`webhook_update_validator`, HMAC-SHA256 of the raw body with the app secret) before anything
is parsed, split into single updates, stored once in the inbox and answered 200 at once; the
updates are handled in the background. Meta redelivers anything but a 200, so a database
failure answers 503 (it comes back) and a duplicate answers 200 (already stored).
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from pywa import utils as wa_utils

from bot.channels.whatsapp.split import split_notification
from shop.errors import StorageUnavailable

if TYPE_CHECKING:
    from bot.channels.whatsapp.channel import WhatsAppChannel

log = logging.getLogger(__name__)
PATH = "/webhooks/whatsapp"
MAX_BODY = 1024 * 1024


def add_whatsapp_routes(app: web.Application, channel: WhatsAppChannel) -> None:
    settings = channel.shop.settings
    assert settings.whatsapp_verify_token is not None
    verify_token = settings.whatsapp_verify_token.get_secret_value()

    async def verify(request: web.Request) -> web.Response:
        mode = request.query.get("hub.mode")
        token = request.query.get(wa_utils.HUB_VT, "")
        challenge = request.query.get(wa_utils.HUB_CH, "")
        if mode == "subscribe" and hmac.compare_digest(token.encode(), verify_token.encode()):
            log.info("WhatsApp webhook verified")
            return web.Response(text=challenge)
        log.warning("WhatsApp webhook verification refused (mode %r)", mode)
        return web.Response(status=403, text="Forbidden")

    async def receive(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="Payload Too Large")
        raw = await request.read()
        if len(raw) > MAX_BODY:
            return web.Response(status=413, text="Payload Too Large")
        refused = await channel.client.webhook_update_validator(
            raw, request.headers.get(wa_utils.HUB_SIG))
        if refused is not None:
            text, status = refused
            return web.Response(status=status, text=text)
        try:
            body = json.loads(raw)
        except ValueError:
            return web.Response(status=400, text="Bad Request")
        if not isinstance(body, dict):
            return web.Response(status=400, text="Bad Request")
        updates = split_notification(body)
        try:
            fresh = await channel.inbox.store(updates)
        except StorageUnavailable:
            log.exception("WhatsApp webhook: could not store %d updates; Meta will resend",
                          len(updates))
            return web.Response(status=503, text="Try again")
        if len(fresh) < len(updates):
            log.info("WhatsApp webhook: %d of %d updates already seen", len(updates) - len(fresh),
                     len(updates))
        channel.schedule(fresh)
        return web.Response(text="ok")

    app.router.add_get(PATH, verify)
    app.router.add_post(PATH, receive)
