"""A stranger writing to the staff bot is told once in a while, not once per worker
(admin_bot.refusals): the memory is shared through Redis when there is one."""

from __future__ import annotations

from aiogram.fsm.storage.memory import MemoryStorage
from redis.asyncio import Redis

from admin_bot.refusals import InProcessRefusals, RedisRefusals, make_refusals
from bot.handlers.storage import make_storage
from shop.settings import load_settings
from tests.support.waiting import eventually


async def test_in_one_process_a_stranger_is_told_once_per_window() -> None:
    refusals = InProcessRefusals()
    assert await refusals.first_in_window(9999)
    assert not await refusals.first_in_window(9999)
    assert await refusals.first_in_window(8888)  # someone else


async def test_workers_sharing_redis_tell_a_stranger_once_then_again_after_the_window(
        redis_url: str) -> None:
    first_worker, second_worker = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        window_s = 0.3
        one, two = RedisRefusals(first_worker, window_s), RedisRefusals(second_worker, window_s)
        assert await one.first_in_window(9999)
        assert not await two.first_in_window(9999)  # the other worker knows
        assert not await one.first_in_window(9999)
        assert await two.first_in_window(8888)
        await eventually(lambda: two.first_in_window(9999), within=5)  # the window ends
        assert not await one.first_in_window(9999)
    finally:
        await first_worker.aclose()
        await second_worker.aclose()


async def test_without_redis_the_stranger_is_still_answered() -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        assert await RedisRefusals(unreachable).first_in_window(9999)
    finally:
        await unreachable.aclose()


async def test_the_staff_bot_shares_refusals_when_its_storage_is_redis(redis_url: str) -> None:
    assert isinstance(make_refusals(MemoryStorage()), InProcessRefusals)
    storage = make_storage(load_settings(redis_url=redis_url))
    try:
        assert isinstance(make_refusals(storage), RedisRefusals)
    finally:
        await storage.close()
