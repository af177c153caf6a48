"""The pywa_async client for our number: no server of its own (the webhook is a route on
shop/web), our own HTTP session pointed at WHATSAPP_API_BASE when set."""

from __future__ import annotations

import httpx
from pywa_async.client import WhatsApp

from shop.settings import Settings

TIMEOUT = httpx.Timeout(20.0, connect=10.0)


class NotConfigured(Exception):
    """WhatsApp settings are missing; the message names them."""


def whatsapp_configured(settings: Settings) -> bool:
    return bool(settings.whatsapp_phone_id and settings.whatsapp_token)


def make_client(settings: Settings) -> WhatsApp:
    """A client for WHATSAPP_PHONE_ID; refuses to start without what a safe webhook needs."""
    missing = [name for name, value in (
        ("WHATSAPP_PHONE_ID", settings.whatsapp_phone_id),
        ("WHATSAPP_TOKEN", settings.whatsapp_token),
        ("WHATSAPP_APP_SECRET", settings.whatsapp_app_secret),
        ("WHATSAPP_VERIFY_TOKEN", settings.whatsapp_verify_token)) if not value]
    if missing:
        raise NotConfigured("WhatsApp needs " + ", ".join(missing))
    assert settings.whatsapp_token and settings.whatsapp_app_secret
    assert settings.whatsapp_verify_token
    http = httpx.AsyncClient(timeout=TIMEOUT)
    client = WhatsApp(
        phone_id=settings.whatsapp_phone_id, token=settings.whatsapp_token.get_secret_value(),
        session=http, server=None,
        verify_token=settings.whatsapp_verify_token.get_secret_value(),
        app_secret=settings.whatsapp_app_secret.get_secret_value(),
        validate_updates=True,
        # Our inbox de-duplicates durably; pywa's in-memory memory of bodies is not needed.
        skip_duplicate_updates=False,
    )
    if settings.whatsapp_api_base:
        # pywa puts https://graph.facebook.com/v<version> on the session it is given; keep
        # the version path and swap the host for ours (a proxy, or a test server).
        http.base_url = httpx.URL(settings.whatsapp_api_base + http.base_url.path)
    return client
