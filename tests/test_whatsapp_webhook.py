"""The WhatsApp webhook on our server: the verification handshake, signatures checked before
parsing, batches split, redeliveries handled once, statuses without contacts, and Graph API
errors that never crash a conversation."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from sqlalchemy import func, select

from bot.channels.whatsapp.split import split_notification
from shop.messaging.models import WhatsAppInbound, WhatsAppOutbound
from tests.conftest import Database
from tests.fakes.whatsapp_model import (
    bad_token,
    invalid_request,
    pair_rate_limited,
    rate_limited,
    undeliverable,
)
from tests.fakes.whatsapp_webhook import envelope, sign
from tests.support.waiting import eventually
from tests.support.whatsapp import VERIFY_TOKEN, WhatsAppWorld, running_whatsapp

ALICE = "US.13491208655302741918"
BOB = "PL.1000000000000002"


async def stored(world: WhatsAppWorld) -> int:
    async with world.shop.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(WhatsAppInbound)) or 0)


async def test_the_verification_handshake(database: Database) -> None:
    async with running_whatsapp(database) as world:
        async with httpx.AsyncClient() as http:
            def get(mode: str, token: str) -> dict[str, str]:
                return {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": "1158201444"}
            ok = await http.get(world.webhook_url, params=get("subscribe", VERIFY_TOKEN))
            assert (ok.status_code, ok.text) == (200, "1158201444")
            wrong = await http.get(world.webhook_url, params=get("subscribe", "guess"))
            assert wrong.status_code == 403 and "1158201444" not in wrong.text
            mode = await http.get(world.webhook_url, params=get("unsubscribe", VERIFY_TOKEN))
            assert mode.status_code == 403
            bare = await http.get(world.webhook_url)
            assert bare.status_code == 403
        status, _, _ = await world.fake.subscribe(world.webhook_url, "guess")
        assert status == 403


async def test_forged_and_unsigned_notifications_are_refused_before_parsing(
        database: Database) -> None:
    async with running_whatsapp(database) as world:
        fake = world.fake
        alice = fake.customer(ALICE, "Alice")
        message = {"from_user_id": ALICE, "id": "wamid.forged1", "timestamp": "1793620800",
                   "type": "text", "text": {"body": "Hi"}}
        body = json.dumps(envelope(fake.waba_id, [fake.inbound_value(alice.info, message)]))
        raw = body.encode()
        forged = await fake.webhook.post_raw(raw, sign("not-the-app-secret", raw))
        unsigned = await fake.webhook.post_raw(raw, None)
        tampered = await fake.webhook.post_raw(raw.replace(b"Hi", b"Yo"), sign(fake.app_secret,
                                                                              raw))
        garbage = await fake.webhook.post_raw(b"{not json", sign(fake.app_secret, b"{not json"))
        assert [d.statuses for d in (forged, unsigned, tampered, garbage)] == [
            [403], [401], [403], [400]]
        assert await stored(world) == 0 and fake.messages() == []
        fine = await fake.webhook.post_raw(raw, sign(fake.app_secret, raw))
        assert fine.statuses == [200]
        await fake.wait_for(lambda: alice.messages(), what="the signed message answered")


async def test_the_same_notification_delivered_twice_is_handled_once(database: Database) -> None:
    async with running_whatsapp(database) as world:
        fake = world.fake
        alice = fake.customer(ALICE, "Alice")
        await alice.send("Hi")
        answered = len(alice.messages())
        count = await stored(world)
        first = next(d for d in fake.webhook.deliveries if b'"Hi"' in d.body)
        again = await fake.webhook.post_raw(first.body, sign(fake.app_secret, first.body))
        assert again.statuses == [200]  # acknowledged, so Meta stops redelivering
        statuses = [d for d in fake.webhook.deliveries if b'"statuses"' in d.body]
        for delivery in statuses:
            await fake.webhook.post_raw(delivery.body, sign(fake.app_secret, delivery.body))
        await fake.settle()
        await world.channel.drain()
        assert len(alice.messages()) == answered
        assert await stored(world) == count


async def test_a_batched_notification_is_split_into_single_updates(database: Database) -> None:
    async with running_whatsapp(database) as world:
        fake = world.fake
        alice, bob = fake.customer(ALICE, "Alice"), fake.customer(BOB, "Bartek")
        with fake.webhook.held():
            await alice.send("Hi")
            await bob.send("Cześć")
            await alice.send("clasic tee")
        await fake.wait_for(lambda: len(alice.messages()) >= 2 and bob.messages(),
                            what="every batched message answered")
        batch = json.loads(fake.webhook.deliveries[0].body)
        assert len(batch["entry"][0]["changes"]) == 3
        assert "Hello, Alice!" in alice.messages()[0].body
        assert "Results for" in alice.messages()[1].body  # in order for one customer
        assert "Cześć, Bartek!" in bob.messages()[0].body

        # Several messages in one change value, and several entries, as Meta also sends.
        one = fake.new_inbound(alice.info, "text", {"body": "menu"}).message
        two = fake.new_inbound(bob.info, "text", {"body": "menu"}).message
        await fake.webhook.idle()
        merged = {"messaging_product": "whatsapp", "metadata": fake.metadata(),
                  "contacts": [alice.info.contact(), bob.info.contact()],
                  "messages": [{**one, "id": one["id"] + "x"}, {**two, "id": two["id"] + "x"}]}
        before = (len(alice.messages()), len(bob.messages()))
        await fake.webhook.post(envelope(fake.waba_id, [merged]))
        await fake.wait_for(lambda: (len(alice.messages()), len(bob.messages())) >= (
            before[0] + 1, before[1] + 1), what="both messages of one value answered")
        assert "Co chcesz zrobić?" in bob.messages()[-1].body  # Bob's own contact and language


async def test_a_failed_status_without_contacts_is_recorded(database: Database) -> None:
    async with running_whatsapp(database) as world:
        fake = world.fake
        alice = fake.customer(ALICE, "Alice")
        reply = await alice.send("Hi")
        sent = reply.latest
        assert sent is not None
        fake.report_status(sent, "failed", error=undeliverable(), contacts=False)

        async def recorded() -> bool:
            async with world.shop.sessions() as session:
                row = (await session.execute(select(WhatsAppOutbound).where(
                    WhatsAppOutbound.wamid == sent.wamid))).scalar_one()
            return (row.status, row.error_code) == ("failed", 131026)

        await eventually(recorded)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_graph_errors_are_logged_with_their_code_and_never_crash(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.channels.whatsapp")
    async with running_whatsapp(database) as world:
        fake = world.fake
        alice = fake.customer(ALICE, "Alice")
        for error in (invalid_request("Invalid parameter"), bad_token(), undeliverable()):
            fake.fail_next(error, bsuid=ALICE)
            await alice.send("menu", expect=0)
            assert f"code {error.code}" in caplog.text
        assert fake.token not in caplog.text
        answered = await alice.send("menu")
        assert "What would you like to do?" in answered.text
        assert [r.error_code for r in fake.failed_requests()] == [100, 190, 131026]


async def test_throughput_limits_are_waited_out(database: Database) -> None:
    async with running_whatsapp(database) as world:
        fake = world.fake
        alice = fake.customer(ALICE, "Alice")
        fake.fail_next(rate_limited(), bsuid=ALICE)
        fake.fail_next(pair_rate_limited(), bsuid=ALICE)
        answered = await alice.send("Hi")
        assert "Hello, Alice!" in answered.text and len(answered.messages) == 1
        assert [r.error_code for r in fake.failed_requests()] == [130429, 131056]


async def test_updates_stored_before_a_stop_are_handled_at_the_next_start(
        database: Database) -> None:
    async with running_whatsapp(database) as world:
        fake = world.fake
        alice = fake.customer(ALICE, "Alice")
        message = {"from_user_id": ALICE, "id": "wamid.before-the-crash",
                   "timestamp": "1793620800", "type": "text", "text": {"body": "Hi"}}
        notification = envelope(fake.waba_id, [fake.inbound_value(alice.info, message)])
        # Stored by the webhook, then the process stopped before handling it.
        await world.channel.inbox.store(split_notification(notification))
        assert alice.messages() == []
        await world.channel.resume()
        await world.channel.drain()
        assert "Hello, Alice!" in alice.messages()[0].body
        assert await world.channel.inbox.pending() == [] or all(
            p.status for p in await world.channel.inbox.pending())
