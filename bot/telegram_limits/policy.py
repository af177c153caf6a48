"""What Telegram limits and how much: the bucket sizes, which Bot API methods count as
messages, and the chat and cost of one call.

Telegram asks bots to stay under about 30 messages a second overall, about one a second in
one chat ("we may allow short bursts") and 20 a minute in one group. The overall bucket sits
a little inside Telegram's: a burst as large as Telegram's own would turn any jitter between
our reservation and the moment a request reaches Telegram into a 429.

Private chats keep 1 a second sustained but allow a burst of 20, so a customer tapping
quickly is answered at once (python-telegram-bot's AIORateLimiter does not limit private
chats at all); pass ``private_chat=Bucket(1, 2)`` for the strict reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Methods that put a new message in a chat but are not "send…" by name.
_COPY_FORWARD = frozenset({"copyMessage", "copyMessages", "forwardMessage", "forwardMessages"})
# "send…" methods that add no message: typing indicators, streamed drafts, web-app replies.
_NOT_MESSAGES = frozenset({"sendChatAction", "sendMessageDraft", "sendRichMessageDraft",
                           "sendChatJoinRequestWebApp"})


@dataclass(frozen=True)
class Bucket:
    """A token bucket: ``burst`` messages at once, refilled at ``rate`` a second."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(f"a bucket needs rate > 0 and burst >= 1, not {self}")


@dataclass(frozen=True)
class TelegramLimits:
    """Per bot: one bucket for everything it sends, one per private chat, one per group."""

    overall: Bucket = field(default_factory=lambda: Bucket(30.0, 10))
    private_chat: Bucket = field(default_factory=lambda: Bucket(1.0, 20))
    group_chat: Bucket = field(default_factory=lambda: Bucket(20 / 60, 3))

    def chat_bucket(self, chat: int | str | None) -> Bucket:
        """Groups and channels have negative ids or are addressed by ``@username``."""
        if isinstance(chat, str) or (chat is not None and chat < 0):
            return self.group_chat
        return self.private_chat


@dataclass(frozen=True)
class Target:
    """Where a limited call sends and how many messages it adds there."""

    chat: int | str | None
    cost: int = 1


def is_limited(api_method: str) -> bool:
    """Whether a Bot API method adds messages to a chat (and so waits for the buckets).

    New ``send…`` methods count unless listed as not adding messages: a new kind of message
    is limited by default. Answers to callback, pre-checkout and shipping queries, edits,
    deletions and ``getUpdates`` are never limited: they must stay instant.
    """
    if api_method in _COPY_FORWARD:
        return True
    return api_method.startswith("send") and api_method not in _NOT_MESSAGES


def target_of(method: Any) -> Target | None:
    """The chat and message count of a limited aiogram method; None when not limited."""
    name = getattr(method, "__api_method__", "")
    if not is_limited(name):
        return None
    chat = getattr(method, "chat_id", None)
    if chat is None:
        chat = getattr(method, "user_id", None)  # sendGift may address a user
    if not isinstance(chat, int | str) or isinstance(chat, bool):
        chat = None
    items = getattr(method, "media", None) if name == "sendMediaGroup" else (
        getattr(method, "message_ids", None) if name in ("copyMessages", "forwardMessages")
        else None)
    cost = len(items) if isinstance(items, list | tuple) and items else 1
    return Target(chat, cost)
