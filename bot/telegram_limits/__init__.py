"""Outgoing Telegram rate limits: token buckets per bot and per chat, in this process or
shared through Redis, applied by a session middleware (see ``limiter``)."""

from bot.telegram_limits.buckets import BucketStore, Grant, MemoryBuckets
from bot.telegram_limits.limiter import SendLimiter, make_limiter
from bot.telegram_limits.policy import Bucket, TelegramLimits, is_limited, target_of

__all__ = ["Bucket", "BucketStore", "Grant", "MemoryBuckets", "SendLimiter", "TelegramLimits",
           "is_limited", "make_limiter", "target_of"]
