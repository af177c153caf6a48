"""Where conversation state lives: in this process, or in Redis when ``REDIS_URL`` is set so
that several workers (webhook or polling) continue each other's conversations."""

from __future__ import annotations

from datetime import timedelta

from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage

from shop.settings import Settings

KEY_PREFIX = "chatshop:fsm"
# A conversation left half-way (an address step, a search) is forgotten after this long;
# carts and orders live in the database, not here.
CONVERSATION_TTL = timedelta(days=30)


def make_storage(settings: Settings) -> BaseStorage:
    """MemoryStorage without ``REDIS_URL``; otherwise aiogram's RedisStorage with keys
    ``chatshop:fsm:<bot id>:<chat id>:<user id>:…``, so the customer and the staff bot never
    read each other's state."""
    if not settings.redis_url:
        return MemoryStorage()
    return RedisStorage.from_url(
        settings.redis_url,
        key_builder=DefaultKeyBuilder(prefix=KEY_PREFIX, with_bot_id=True),
        state_ttl=CONVERSATION_TTL, data_ttl=CONVERSATION_TTL)
