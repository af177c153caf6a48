"""An update answered before it was handled (it ran past the time Telegram waits) is parked
until it is handled, so that a worker stopping or dying in the middle loses nothing: another
worker takes it over once the lease runs out, once."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from shop.bootstrap import Shop
from shop.messaging.models import ParkedUpdate
from shop.messaging.parked import MAX_ATTEMPTS, Parked, ParkedUpdates
from tests.conftest import Database
from tests.fakes.telegram_server import FakeTelegram
from tests.support.admin import ADMIN_TOKEN
from tests.support.shop import Clock, make_shop
from tests.support.telegram import CUSTOMER_TOKEN
from tests.support.waiting import eventually
from tests.support.webhooks import post, press_update, serving_webhooks

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
UPDATE = {"update_id": 7, "message": {"message_id": 1, "date": 0, "text": "pay",
                                      "chat": {"id": 5, "type": "private"}}}


async def _parked(shop: Shop) -> int:
    async with shop.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ParkedUpdate)) or 0)


async def test_a_parked_update_is_taken_over_once_its_lease_runs_out(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    shop = make_shop(database, clock)
    first, second, third = (ParkedUpdates(shop.sessions, lease_s=60, clock=clock, worker=name)
                            for name in ("first", "second", "third"))
    assert await first.park("telegram", 42, 7, UPDATE)
    assert await first.park("telegram", 42, 7, UPDATE)  # parked twice: still one
    assert await _parked(shop) == 1
    assert await second.take_over("telegram", 42) == []  # its worker holds it
    clock.advance(seconds=50)
    assert await first.renew("telegram", 42, 7)  # still running: held for another lease
    clock.advance(seconds=50)
    assert await second.take_over("telegram", 42) == []

    clock.advance(seconds=61)  # the first worker died
    assert await second.take_over("telegram", 43) == []  # another bot's updates: none
    assert await second.take_over("discord", 42) == []
    taken = [await worker.take_over("telegram", 42) for worker in (second, third)]
    assert taken == [[Parked("telegram", 42, 7, UPDATE, 2)], []]  # once
    assert not await first.renew("telegram", 42, 7)  # no longer the first worker's
    await first.done("telegram", 42, 7)  # nor its to forget
    assert await _parked(shop) == 1

    clock.advance(seconds=61)  # the second died too
    assert await third.take_over("telegram", 42) == [Parked("telegram", 42, 7, UPDATE, 3)]
    clock.advance(seconds=61)  # and the third: an update that kills every worker
    with caplog.at_level(logging.ERROR):
        assert await first.take_over("telegram", 42) == []
    assert f"gave up update 7 of telegram bot 42: {MAX_ATTEMPTS} workers died" in caplog.text
    assert await _parked(shop) == 0

    assert await first.park("telegram", 42, 8, UPDATE)
    await first.done("telegram", 42, 8)  # handled: forgotten
    assert await _parked(shop) == 0


@SQLITE
async def test_parking_fails_open_when_the_database_is_down(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    shop = make_shop(database, Clock())
    async with shop.sessions.begin() as session:
        await session.run_sync(lambda s: ParkedUpdate.__table__.drop(s.connection()))
    parking = ParkedUpdates(shop.sessions, lease_s=60)
    assert not await parking.park("telegram", 42, 9, UPDATE)
    assert await parking.renew("telegram", 42, 9)  # unknown: keep trying
    await parking.done("telegram", 42, 9)
    assert await parking.take_over("telegram", 42) == []
    assert "could not park update 9 of telegram bot 42" in caplog.text
    assert "could not look for parked updates of telegram bot 42" in caplog.text


async def test_a_long_update_cut_short_by_a_shutdown_is_finished_by_the_next_worker(
        database: Database) -> None:
    async with FakeTelegram(allow_http_webhooks=True) as server:
        server.add_bot(CUSTOMER_TOKEN, "chatshop_test_bot")
        server.add_bot(ADMIN_TOKEN, "chatshop_staff_bot")
        # EVENT_LEASE_SECONDS=1.5: Telegram waits at most 0.5 s for an answer; the shutdown
        # waits 0.2 s for the updates in hand.
        async with serving_webhooks(database, server=server, event_lease_seconds=1.5,
                                    drain_timeout=0.2) as first:
            alice = server.user(3409, "Alice", bot=CUSTOMER_TOKEN)
            await alice.send("/start")
            menu = alice.latest(with_keyboard=True)
            assert menu is not None
            menu_text = menu.text
            press = press_update(alice, 7020, menu.message_id, next(
                b.callback_data for row in menu.keyboard for b in row
                if b.callback_data and "Catalog" in b.text))
            held = server.hold("editMessageText", bot=CUSTOMER_TOKEN)
            # Answered while the screen is still being shown: Telegram will not send it again.
            assert await post(first.url("customer"), press, first.secret("customer")) == 200
            await eventually(lambda: _parked_is(first.shop, 1))
            await first.shut_down()  # stopped before the update ended (or killed: the same)
        assert not server.calls("answerCallbackQuery")
        assert await _parked_is(first.shop, 1)
        held.release()

        async with serving_webhooks(database, server=server, event_lease_seconds=1.5) as second:
            assert isinstance(second.shop.clock, Clock)
            second.shop.clock.advance(seconds=2)  # the first worker's lease is over
            (answer,) = await server.wait_for(lambda: server.calls("answerCallbackQuery"),
                                              what="the press answered by the next worker")
            assert answer.params["callback_query_id"] == press["callback_query"]["id"]
            await eventually(lambda: _parked_is(second.shop, 0))
            catalog = alice.latest(with_keyboard=True)
            assert catalog is not None and catalog.message_id == menu.message_id
            assert catalog.text != menu_text and "Choose a category" in catalog.text


async def _parked_is(shop: Shop, count: int) -> bool:
    return await _parked(shop) == count
