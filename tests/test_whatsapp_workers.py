"""Several workers on one database: the inbox's leases let two channels never handle the same
update, take over a dead worker's updates after its lease, and keep each customer's order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.channels.whatsapp.channel import WhatsAppChannel
from bot.channels.whatsapp.client import make_client
from bot.channels.whatsapp.split import split_notification
from bot.channels.whatsapp.worker import InboxWorker
from shop.demo.loader import load_demo
from shop.messaging.inbox import LEASE, Inbound, Stored, WhatsAppInbox
from shop.messaging.models import WhatsAppInbound
from tests.conftest import Database
from tests.fakes.whatsapp_server import FakeWhatsApp
from tests.fakes.whatsapp_webhook import envelope
from tests.support.shop import Clock, make_shop
from tests.support.waiting import eventually
from tests.support.whatsapp import VERIFY_TOKEN

ALICE = "US.13491208655302741918"
CUSTOMERS = ("US.1000000000000001", "DE.1000000000000002", "GB.1000000000000003")


async def test_a_lease_keeps_an_update_to_one_worker_until_it_runs_out(
        database: Database) -> None:
    clock = Clock()
    a = WhatsAppInbox(database.sessions, clock=clock, worker="a")
    b = WhatsAppInbox(database.sessions, clock=clock, worker="b")
    first, second = await a.store([Inbound("wamid.1", "", ALICE, {"n": 1}),
                                   Inbound("wamid.2", "", ALICE, {"n": 2})])
    taken = await a.claim_next(ALICE)
    assert taken is not None and taken.id == first.id
    assert await b.claim(first.id) is None  # held by a
    assert await b.claim_next(ALICE) is None  # Alice's oldest is a's: a goes on with her
    assert [s.id for s in await b.claimable()] == [second.id]
    await a.done(first.id)
    nxt = await b.claim_next(ALICE)
    assert nxt is not None and nxt.id == second.id
    assert await a.claim_next(ALICE) is None
    clock.advance(seconds=LEASE.total_seconds() + 1)  # b died holding it
    taken_over = await a.claim_next(ALICE)
    assert taken_over is not None and taken_over.id == second.id
    await a.failed(second.id, "boom")  # let go: anyone may retry it
    retried = await b.claim(second.id)
    assert retried is not None and retried.attempts == 1
    assert await b.extend(second.id) and not await a.extend(second.id)  # b's now, not a's


async def test_an_update_in_hand_keeps_its_lease_however_long_it_takes(
        database: Database) -> None:
    clock = Clock()
    a = WhatsAppInbox(database.sessions, clock=clock, worker="a")
    b = WhatsAppInbox(database.sessions, clock=clock, worker="b")
    (row,) = await a.store([Inbound("wamid.9", "", ALICE, {"n": 9})])
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow(_: Stored) -> None:
        started.set()
        await finish.wait()

    worker = InboxWorker(a, slow, renew_s=0.01)
    worker.schedule([row])
    await asyncio.wait_for(started.wait(), 5)
    clock.advance(seconds=LEASE.total_seconds() + 1)  # longer than a lease already
    # Worker a renews its lease from the clock's new time: b cannot take the update over.
    await eventually(lambda: _lease_runs_past(database, row.id, clock()), within=5)
    assert await b.claim(row.id) is None and await b.claimable() == []
    finish.set()
    await worker.drain()
    async with database.sessions() as session:
        stored = await session.get(WhatsAppInbound, row.id)
        assert stored is not None and stored.processed_at is not None and stored.attempts == 1


async def _lease_runs_past(database: Database, row_id: int, when: datetime) -> bool:
    async with database.sessions() as session:
        until = await session.scalar(select(WhatsAppInbound.lease_until)
                                     .where(WhatsAppInbound.id == row_id))
    return until is not None and until > when


@asynccontextmanager
async def two_workers(database: Database, clock: Clock
                      ) -> AsyncIterator[tuple[FakeWhatsApp, WhatsAppChannel, WhatsAppChannel]]:
    """Two channels as two worker processes would run them, on one database; no statuses
    (nothing is subscribed to the fake's webhook here)."""
    async with AsyncExitStack() as stack:
        fake = await stack.enter_async_context(FakeWhatsApp(clock=clock, auto_statuses=()))
        options: dict[str, Any] = {
            "whatsapp_phone_id": fake.phone_id, "whatsapp_token": fake.token,
            "whatsapp_app_secret": fake.app_secret, "whatsapp_verify_token": VERIFY_TOKEN,
            "whatsapp_api_base": fake.base_url}
        shops = [make_shop(database, clock, **options) for _ in range(2)]
        await load_demo(shops[0])
        channels = []
        for shop in shops:
            await shop.catalog.load_index()
            channel = WhatsAppChannel(shop, make_client(shop.settings))
            stack.push_async_callback(channel.aclose)
            channels.append(channel)
        yield fake, channels[0], channels[1]


def messages_from(fake: FakeWhatsApp, bsuid: str, texts: list[str]) -> list[Inbound]:
    customer = fake.customers[bsuid]
    customer.last_inbound_at = fake.clock()
    values = []
    for n, body in enumerate(texts):
        message = {"from_user_id": bsuid, "id": f"wamid.{bsuid}.{n}",
                   "timestamp": str(int(fake.clock().timestamp()) + n), "type": "text",
                   "text": {"body": body}}
        values.append(fake.inbound_value(customer, message))
    return split_notification(envelope(fake.waba_id, values))


def answered_in_order(fake: FakeWhatsApp, bsuid: str) -> None:
    bodies = [m.body for m in fake.messages(bsuid)]
    hello = [i for i, b in enumerate(bodies) if "Hello," in b]
    categories = [i for i, b in enumerate(bodies) if "Choose a category:" in b]
    assert len(hello) == 1 and len(categories) == 1, bodies  # each answered once
    assert hello[0] < categories[0], bodies  # "Hi" before "1"
    assert not any("There is no button" in b for b in bodies), bodies


async def test_two_workers_resuming_at_once_answer_each_message_once_in_order(
        database: Database) -> None:
    clock = Clock()
    async with two_workers(database, clock) as (fake, a, b):
        for bsuid in CUSTOMERS:
            fake.customer(bsuid, "Sam")
            await a.inbox.store(messages_from(fake, bsuid, ["Hi", "1"]))
        await asyncio.gather(a.resume(), b.resume())
        await asyncio.gather(a.drain(), b.drain())
        for bsuid in CUSTOMERS:
            answered_in_order(fake, bsuid)
        async with a.shop.sessions() as session:
            rows = (await session.execute(select(WhatsAppInbound))).scalars().all()
        assert rows and all(r.processed_at is not None and r.attempts == 1 for r in rows)


async def test_a_dead_workers_updates_are_taken_over_after_the_lease(
        database: Database) -> None:
    clock = Clock()
    async with two_workers(database, clock) as (fake, a, b):
        bsuid = CUSTOMERS[0]
        fake.customer(bsuid, "Sam")
        await a.inbox.store(messages_from(fake, bsuid, ["Hi", "1"]))
        assert await a.inbox.claim_next(bsuid) is not None  # and then worker a died
        await b.resume()
        await b.drain()
        assert fake.messages(bsuid) == []  # a's lease still runs: b leaves Alice alone
        clock.advance(seconds=LEASE.total_seconds() + 1)
        await b.worker.sweep()
        await b.drain()
        answered_in_order(fake, bsuid)
