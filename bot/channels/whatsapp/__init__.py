"""The WhatsApp channel (pywa_async): webhook route, rendering within WhatsApp's limits,
notifications with the 24-hour rule, catalog messages. `whatsapp_channel(shop)` builds it when
WhatsApp is configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.channels.whatsapp.client import make_client, whatsapp_configured

if TYPE_CHECKING:
    from bot.channels.whatsapp.channel import WhatsAppChannel
    from shop.bootstrap import Shop


def whatsapp_channel(shop: Shop) -> WhatsAppChannel | None:
    """The channel for WHATSAPP_PHONE_ID, or None when WhatsApp is not configured; raises
    NotConfigured naming the settings a safe webhook still needs (app secret, verify token)."""
    if not whatsapp_configured(shop.settings):
        return None
    from bot.channels.whatsapp.channel import WhatsAppChannel

    return WhatsAppChannel(shop, make_client(shop.settings))
