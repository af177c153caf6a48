"""Photos WhatsApp customers sent, fetched for staff (returns, support): the Graph API gives a
media id's short-lived URL, downloaded with the bearer token (pywa_async's `get_media_url`
and `get_media_bytes`, against WHATSAPP_API_BASE like every other call)."""

from __future__ import annotations

import logging

import httpx
from pywa.errors import WhatsAppError

from bot.channels.whatsapp.client import make_client
from shop.settings import Settings

log = logging.getLogger(__name__)


class WhatsAppMedia:
    """`fetch(media_id)`: the bytes, or None when WhatsApp no longer has them (media ids last
    about 30 days) or cannot be reached now; the staff alert's text still counts them."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def fetch(self, file_id: str) -> bytes | None:
        # A client per fetch: photos are rare, and the staff bot's process has no channel.
        client = make_client(self._settings)
        try:
            media = await client.get_media_url(file_id)
            return await client.get_media_bytes(media.url)
        except WhatsAppError as error:
            log.warning("WhatsApp photo %s could not be fetched: code %s %s", file_id,
                        error.code, error.message)
        except httpx.HTTPError as error:
            log.warning("WhatsApp photo %s could not be fetched: %s", file_id,
                        type(error).__name__)
        finally:
            await client.api._session.aclose()
        return None
