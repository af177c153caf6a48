"""Outgoing messages through pywa_async: each accepted one recorded, throughput limits waited
out, refusals logged with their Graph error code instead of crashing the conversation.

130429 (the number's throughput) and 131056 (too many messages to one customer) back off and
try again; network errors too. Any other refusal (100 bad parameter, 190 token, 131026
undeliverable, 132001 unknown template …) is logged with its code and raised as SendFailed
for the caller to decide: a reply is dropped with a log line, a notification is retried or
reported to staff.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from pywa.types.callback import Button, Section, SectionList, SectionRow, URLButton
from pywa.types.others import ProductsSection
from pywa_async.client import WhatsApp
from pywa_async.errors import WhatsAppError
from pywa_async.types.sent_update import SentMessage
from pywa_async.types.templates import TemplateLanguage

from bot.channels.whatsapp.outgoing import (
    ButtonsOut,
    ImageOut,
    LinkOut,
    ListOut,
    Outgoing,
    ProductOut,
    ProductsOut,
    TextOut,
)
from shop.media import resolve_image
from shop.messaging.outbound import WhatsAppOutboundLog

log = logging.getLogger(__name__)
THROTTLED = frozenset({130429, 131056, 4, 80007})
BACKOFF_S = (1.0, 2.0, 4.0, 8.0)
Sleep = Callable[[float], Awaitable[None]]


class SendFailed(Exception):
    """WhatsApp refused a message (or could not be reached); `code` is Meta's error code."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code


def describe(error: WhatsAppError) -> str:
    detail = f" ({error.details})" if error.details else ""
    return f"{error.message}{detail}"[:300]


class Sender:
    def __init__(self, client: WhatsApp, log_: WhatsAppOutboundLog, *,
                 backoff: Sequence[float] = BACKOFF_S, sleep: Sleep = asyncio.sleep) -> None:
        self.client = client
        self.outbound = log_
        self._backoff = tuple(backoff)
        self._sleep = sleep
        self._media: dict[Path, str] = {}

    async def send(self, to: str, customer_id: int, message: Outgoing, *,
                   event_id: int | None = None, topic: str | None = None) -> str:
        """Send one message to a BSUID; returns its wamid. SendFailed when refused."""
        attempt = 0
        while True:
            try:
                sent = await self._call(to, message)
            except WhatsAppError as error:
                if error.code in THROTTLED and attempt < len(self._backoff):
                    log.warning("WhatsApp throttled a message to customer %s: code %s, "
                                "retrying in %.0f s", customer_id, error.code,
                                self._backoff[attempt])
                    await self._sleep(self._backoff[attempt])
                    attempt += 1
                    continue
                log.warning("WhatsApp refused a %s to customer %s: code %s %s",
                            type(message).__name__, customer_id, error.code, describe(error))
                raise SendFailed(error.code, describe(error)) from None
            except httpx.TransportError as error:
                if attempt < len(self._backoff):
                    await self._sleep(self._backoff[attempt])
                    attempt += 1
                    continue
                log.warning("WhatsApp unreachable for customer %s: %s", customer_id,
                            type(error).__name__)
                raise SendFailed(None, type(error).__name__) from None
            await self.outbound.record(sent.id, customer_id, "message", event_id=event_id,
                                       topic=topic)
            return sent.id

    async def send_template(self, to: str, customer_id: int, name: str, language: str,
                            params: Sequence[str], *, event_id: int | None = None,
                            topic: str | None = None) -> str:
        """An approved template with body parameters {{1}}, {{2}} …; SendFailed when refused."""
        body = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}]
        try:
            sent = await self.client.send_template(
                to=to, name=name, language=TemplateLanguage(language), params=body)
        except WhatsAppError as error:
            log.warning("WhatsApp refused template %s/%s for customer %s: code %s %s", name,
                        language, customer_id, error.code, describe(error))
            raise SendFailed(error.code, describe(error)) from None
        except httpx.TransportError as error:
            raise SendFailed(None, type(error).__name__) from None
        await self.outbound.record(sent.id, customer_id, "template", event_id=event_id,
                                   topic=topic)
        return sent.id

    async def _image(self, reference: str) -> str | None:
        """A link to send, or the id of the packaged file uploaded once."""
        resolved = resolve_image(reference)
        if not isinstance(resolved, Path):
            return resolved
        known = self._media.get(resolved)
        if known is None:
            mime = mimetypes.guess_type(resolved.name)[0] or "image/jpeg"
            media = await self.client.upload_media(media=resolved, mime_type=mime,
                                                   filename=resolved.name)
            known = self._media[resolved] = media.id
        return known

    async def _call(self, to: str, message: Outgoing) -> SentMessage:
        wa = self.client
        match message:
            case TextOut(body=body):
                return await wa.send_message(to=to, text=body)
            case ImageOut(image=reference, caption=caption):
                image = await self._image(reference)
                if image is None:
                    return await wa.send_message(to=to, text=caption or "…")
                return await wa.send_image(to=to, image=image, caption=caption)
            case ButtonsOut(body=body, buttons=buttons, image=reference):
                keyboard = [Button(title, ident) for ident, title in buttons]
                image = await self._image(reference) if reference else None
                if image is not None:
                    return await wa.send_image(to=to, image=image, caption=body,
                                               buttons=keyboard)
                return await wa.send_message(to=to, text=body, buttons=keyboard)
            case ListOut(body=body, button=label, rows=rows):
                section = Section("", [SectionRow(r.title, r.ident, r.description)
                                       for r in rows])
                return await wa.send_message(to=to, text=body,
                                             buttons=SectionList(label, [_untitled(section)]))
            case LinkOut(body=body, label=label, url=url, image=reference):
                image = await self._image(reference) if reference else None
                if image is not None:
                    return await wa.send_image(to=to, image=image, caption=body,
                                               buttons=URLButton(label, url))
                return await wa.send_message(to=to, text=body, buttons=URLButton(label, url))
            case ProductsOut(catalog_id=catalog_id, header=header, body=body,
                             sections=sections):
                return await wa.send_products(
                    to=to, catalog_id=catalog_id, title=header, body=body,
                    product_sections=[ProductsSection(title, list(skus))
                                      for title, skus in sections])
            case ProductOut(catalog_id=catalog_id, sku=sku, body=body):
                return await wa.send_product(to=to, catalog_id=catalog_id, sku=sku, body=body)
        raise TypeError(f"cannot send {message!r}")


class _UntitledSection(Section):
    """A list's only section: WhatsApp wants a section title only when there are several."""

    def to_dict(self) -> dict[str, Any]:
        return {"rows": tuple(row.to_dict() for row in self.rows)}


def _untitled(section: Section) -> Section:
    return _UntitledSection(section.title, section.rows)
