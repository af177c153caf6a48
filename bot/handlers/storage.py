"""Where conversation state lives: in this process, or in Redis when ``REDIS_URL`` is set so
that several workers (webhook or polling) continue each other's conversations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage

from bot.handlers.chat_lock import forget_prefetched, prefetched_data
from shop.settings import Settings

KEY_PREFIX = "chatshop:fsm"
# A conversation left half-way (an address step, a search) is forgotten after this long;
# carts and orders live in the database, not here.
CONVERSATION_TTL = timedelta(days=30)


class ConversationStorage(RedisStorage):
    """aiogram's RedisStorage for conversation data only. Our flows keep their state in the
    data (``bot.handlers.conversation``) and never use aiogram's states, yet aiogram's FSM
    middleware reads the state on every update: here that costs no Redis round trip. Nor
    does the first read of the data while the chat's lock is held: the lock read it
    (``bot.handlers.chat_lock``)."""

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        found, value = prefetched_data(self.key_builder.build(key, "data"))
        if not found:
            return await super().get_data(key)
        if value is None:
            return {}
        text = value.decode("utf-8") if isinstance(value, bytes) else value
        return cast(dict[str, Any], self.json_loads(text))

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        forget_prefetched(self.key_builder.build(key, "data"))
        await super().set_data(key, data)

    async def get_state(self, key: StorageKey) -> str | None:
        return None

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = state.state if isinstance(state, State) else state
        if name is not None:
            raise NotImplementedError("conversation state lives in the data (see "
                                      "bot.handlers.conversation), not in aiogram's states")


def make_storage(settings: Settings) -> BaseStorage:
    """MemoryStorage without ``REDIS_URL``; otherwise Redis (`ConversationStorage`) with keys
    ``chatshop:fsm:<bot id>:<chat id>:<user id>:…``, so the customer and the staff bot never
    read each other's state."""
    if not settings.redis_url:
        return MemoryStorage()
    return ConversationStorage.from_url(
        settings.redis_url,
        key_builder=DefaultKeyBuilder(prefix=KEY_PREFIX, with_bot_id=True),
        state_ttl=CONVERSATION_TTL, data_ttl=CONVERSATION_TTL)
