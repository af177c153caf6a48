"""Scripted WhatsApp customers: they type, tap reply buttons and list rows, share places,
photos and catalog orders.

Each action puts the webhook notification Meta would send in the fake's queue (the customer's
BSUID in ``contacts[].user_id`` and ``messages[].from_user_id``, the phone only when known,
``context`` naming the message whose button was tapped) and then waits, with a deadline, until
the app has sent ``expect`` messages to this customer and then nothing for a short quiet
period. A timeout raises ``AssertionError`` with what the chat shows.
"""

# `timeout=` is this fake's public API; the waits are deadline-bound condition waits.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.fakes.whatsapp_model import BotMessage, Customer, InboundMessage, Media

if TYPE_CHECKING:
    from tests.fakes.whatsapp_server import FakeWhatsApp

Label = str | re.Pattern[str] | Callable[[str], bool]


def _matches(label: Label, text: str | None) -> bool:
    if text is None:
        return False
    if isinstance(label, str):
        return text == label
    if isinstance(label, re.Pattern):
        return label.search(text) is not None
    return label(text)


@dataclass
class Reply:
    """What the app sent this customer after one action."""

    inbound: InboundMessage
    messages: list[BotMessage]

    @property
    def latest(self) -> BotMessage | None:
        return self.messages[-1] if self.messages else None

    @property
    def text(self) -> str:
        """Every message's body, in order, one per line."""
        return "\n".join(m.body for m in self.messages)

    @property
    def choices(self) -> list[str]:
        return [choice for m in self.messages for choice in m.choices]


class WhatsAppCustomer:
    def __init__(self, server: FakeWhatsApp, info: Customer, *, timeout: float = 8.0,
                 quiet: float = 0.08) -> None:
        self.server, self.info = server, info
        self.timeout, self.quiet = timeout, quiet

    @property
    def bsuid(self) -> str:
        return self.info.bsuid

    def __repr__(self) -> str:
        return f"<WhatsAppCustomer {self.info.name} ({self.bsuid})>"

    # -- reading the chat ---------------------------------------------------------------------
    def messages(self) -> list[BotMessage]:
        """What the business sent this customer (accepted by the API), oldest first."""
        return self.server.messages(self.bsuid)

    def latest(self) -> BotMessage | None:
        found = self.messages()
        return found[-1] if found else None

    def choices(self) -> list[str]:
        """Labels of the newest message offering any."""
        for message in reversed(self.messages()):
            if message.choices:
                return message.choices
        return []

    def describe(self, count: int = 6) -> str:
        shown = [m.describe() for m in self.messages()[-count:]]
        return f"chat with {self!r} shows:\n  " + ("\n  ".join(shown) or "(nothing)")

    def _activity(self) -> int:
        """Requests addressed to this customer, refused ones included."""
        phone = self.info.wa_id
        return sum(1 for r in self.server.requests if r.body.get("recipient") == self.bsuid
                   or (phone is not None and r.body.get("to") == phone))

    # -- actions ------------------------------------------------------------------------------
    async def send(self, text: str, *, expect: int = 1, timeout: float | None = None) -> Reply:
        return await self._act("text", {"body": text}, expect, timeout, f"an answer to {text!r}")

    async def press(self, label: Label, *, in_message: BotMessage | None = None,
                    expect: int = 1, timeout: float | None = None) -> Reply:
        """Tap a reply button or choose a list row by its title (or, for a row, its
        description), on ``in_message`` or the newest message that has it."""
        candidates = [in_message] if in_message else list(reversed(self.messages()))
        for message in candidates:
            for ident, title in message.buttons:
                if _matches(label, title):
                    content = {"type": "button_reply",
                               "button_reply": {"id": ident, "title": title}}
                    return await self._act("interactive", content, expect, timeout,
                                           f"an answer to the button {title!r}",
                                           context=message.wamid)
            for ident, title, description in message.rows:
                if _matches(label, title) or _matches(label, description):
                    row: dict[str, Any] = {"id": ident, "title": title}
                    if description:
                        row["description"] = description
                    return await self._act("interactive", {"type": "list_reply",
                                                           "list_reply": row},
                                           expect, timeout, f"an answer to the row {title!r}",
                                           context=message.wamid)
        raise AssertionError(f"no button or row {label!r}\n{self.describe()}")

    def url(self, label: Label) -> str:
        """The URL behind a call-to-action button (what tapping it opens)."""
        for message in reversed(self.messages()):
            cta = message.url_button
            if cta is not None and _matches(label, cta[0]):
                return cta[1]
        raise AssertionError(f"no URL button {label!r}\n{self.describe()}")

    async def send_location(self, latitude: float, longitude: float, *,
                            name: str | None = None, address: str | None = None,
                            expect: int = 1, timeout: float | None = None) -> Reply:
        content: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if name:
            content["name"] = name
        if address:
            content["address"] = address
        return await self._act("location", content, expect, timeout, "an answer to a place")

    async def send_image(self, data: bytes = b"\xff\xd8\xff fake jpeg", *,
                         caption: str | None = None, expect: int = 1,
                         timeout: float | None = None) -> Reply:
        media_id = str(10**15 + len(self.server.media) + 7_000_000)
        self.server.media[media_id] = Media(media_id, data, "image/jpeg", "photo.jpg")
        content: dict[str, Any] = {
            "mime_type": "image/jpeg", "id": media_id,
            "sha256": base64.b64encode(hashlib.sha256(data).digest()).decode()}
        if caption:
            content["caption"] = caption
        return await self._act("image", content, expect, timeout, "an answer to a photo")

    async def send_order(self, catalog_id: str, items: list[tuple[str, int, float, str]], *,
                         text: str = "", expect: int = 1,
                         timeout: float | None = None) -> Reply:
        """Send a cart from the catalog: (sku, quantity, item price, currency) items."""
        content = {"catalog_id": catalog_id, "text": text, "product_items": [
            {"product_retailer_id": sku, "quantity": quantity, "item_price": price,
             "currency": currency} for sku, quantity, price, currency in items]}
        return await self._act("order", content, expect, timeout, "an answer to an order")

    async def react(self, emoji: str = "👍", *, expect: int = 0,
                    timeout: float | None = None) -> Reply:
        """React to the business's latest message."""
        latest = self.latest()
        content = {"message_id": latest.wamid if latest else "", "emoji": emoji}
        return await self._act("reaction", content, expect, timeout, "a reaction handled")

    async def send_sticker(self, *, expect: int = 1, timeout: float | None = None) -> Reply:
        content = {"mime_type": "image/webp", "id": "987654321", "animated": False,
                   "sha256": "x"}
        return await self._act("sticker", content, expect, timeout, "an answer to a sticker")

    async def _act(self, kind: str, content: dict[str, Any], expect: int,
                   timeout: float | None, what: str, *, context: str | None = None) -> Reply:
        before = len(self.messages())
        inbound = self.server.new_inbound(self.info, kind, content, context=context)
        if self.server.webhook.is_held:  # delivered later, batched: nothing to wait for now
            return Reply(inbound, [])
        limit = timeout or self.timeout
        if expect:
            await self.server.wait_for(lambda: len(self.messages()) >= before + expect,
                                       limit, what=f"{what} ({self.describe()})")
        await self.server.wait_for(lambda: inbound.delivered, limit,
                                   what=f"the app to accept the notification with {what}")
        await self._quiet(limit)
        return Reply(inbound, self.messages()[before:])

    async def _quiet(self, limit: float) -> None:
        """Until the app has nothing in hand and sent nothing to this customer for a while."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            mark = self._activity()

            def changed(mark: int = mark) -> bool:
                return self._activity() != mark or self.server.app_busy()

            if not await self.server.wait_until(changed, self.quiet):
                return
            await self.server.wait_until(lambda: not self.server.app_busy(),
                                         max(0.0, deadline - loop.time()))
