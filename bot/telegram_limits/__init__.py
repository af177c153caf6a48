"""Outgoing Telegram rate limits: token buckets per bot and per chat, in this process or
shared through Redis, applied by a session middleware (see ``limiter``); replies to the
update in hand pass their chat's bucket only (see ``replies``)."""

from bot.telegram_limits.buckets import BucketStore, Grant, MemoryBuckets
from bot.telegram_limits.limiter import SendLimiter, make_limiter
from bot.telegram_limits.policy import Bucket, TelegramLimits, is_limited, target_of
from bot.telegram_limits.replies import ReplyContextMiddleware, answering, is_reply

__all__ = ["Bucket", "BucketStore", "Grant", "MemoryBuckets", "ReplyContextMiddleware",
           "SendLimiter", "TelegramLimits", "answering", "is_limited", "is_reply",
           "make_limiter", "target_of"]
