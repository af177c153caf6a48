"""Plain objects describing support threads and messages to callers (flows, staff bot, CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

MAX_TEXT = 4000  # characters of one message, after trimming
MAX_PHOTOS = 10  # photos with one customer message
MAX_PHOTO_ID = 255  # a channel's file id (Telegram file_id, WhatsApp media id)
MAX_REF = 120  # an alert reference, e.g. "telegram:<chat id>:<message id>"


class ThreadStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class MessageAuthor(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class SupportMessageView:
    id: int
    thread_id: int
    author: MessageAuthor
    staff_telegram_id: int | None  # the staff member who wrote it; None for the shop itself
    text: str
    photo_ids: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    id: int
    customer_id: int
    customer_name: str
    order_id: int | None  # None: a general question
    order_number: int | None
    status: ThreadStatus
    assigned_staff_id: int | None  # Telegram id of the staff member who answered first
    message_count: int
    last_message: str  # the newest message's text, shortened for lists
    created_at: datetime
    updated_at: datetime
    last_customer_message_at: datetime | None
    last_staff_message_at: datetime | None

    @property
    def awaiting_reply(self) -> bool:
        """The customer spoke last: staff owe an answer."""
        if self.last_customer_message_at is None:
            return False
        return (self.last_staff_message_at is None
                or self.last_customer_message_at > self.last_staff_message_at)


@dataclass(frozen=True, slots=True)
class ThreadView:
    summary: ThreadSummary
    messages: tuple[SupportMessageView, ...]  # oldest first; the newest MAX_THREAD_MESSAGES

    @property
    def id(self) -> int:
        return self.summary.id
