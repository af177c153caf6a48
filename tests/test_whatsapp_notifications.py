"""Order updates in WhatsApp: free-form inside the 24-hour window, the approved template outside
it (and when a free-form one fails with 131047), statuses recorded, failures retried or
reported to staff, never dropped."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.channels.whatsapp.notify import CONSUMER
from shop.events.delivery import DeliveredEvent
from shop.events.models import EventDelivery, OutboxEvent
from shop.messaging.models import WhatsAppOutbound
from shop.messaging.outbound import NOTIFICATION_FAILED
from tests.conftest import Database
from tests.fakes.whatsapp_model import GraphError, undeliverable
from tests.support.shop import MANAGER, Clock
from tests.support.waiting import eventually
from tests.support.whatsapp import (
    WhatsAppWorld,
    buy_with_test_provider,
    customer_of,
    running_whatsapp,
)

ALICE = "US.13491208655302741918"
AMELIE = "FR.1000000000000001"


async def order_id(world: WhatsAppWorld, bsuid: str) -> int:
    (order,) = await world.shop.orders.orders(await customer_of(world.shop, bsuid))
    return order.id


async def staff_reports(world: WhatsAppWorld) -> list[dict[str, Any]]:
    async with world.shop.sessions() as session:
        return list((await session.execute(select(OutboxEvent.payload).where(
            OutboxEvent.topic == NOTIFICATION_FAILED))).scalars())


async def outbound(world: WhatsAppWorld, wamid: str) -> WhatsAppOutbound | None:
    async with world.shop.sessions() as session:
        return (await session.execute(select(WhatsAppOutbound).where(
            WhatsAppOutbound.wamid == wamid))).scalar_one_or_none()


async def test_inside_the_window_updates_are_free_form(database: Database) -> None:
    async with running_whatsapp(database) as world:
        fake = world.fake
        alice = fake.customer(ALICE, "Alice")
        await buy_with_test_provider(alice)
        placed = await order_id(world, ALICE)
        await world.shop.orders.confirm(MANAGER, placed)
        await world.shop.orders.ship(MANAGER, placed, carrier="DHL", tracking_number="JD77",
                                     tracking_url="https://dhl.example/t/JD77")
        track = await fake.wait_for(lambda: next((m for m in alice.messages()
                                                  if m.kind == "cta_url" and "JD77" in m.body),
                                                 None), what="the shipping update")
        assert track is not None
        assert track.url_button == ("🚚 Track the parcel", "https://dhl.example/t/JD77")
        assert "Your order #1001 is on its way!" in track.body
        assert "Good news: order #1001 is confirmed" in " ".join(m.body for m in
                                                                 alice.messages())
        assert not fake.messages(kind="template")
        await eventually(lambda: _delivered(world, track.wamid))


async def _delivered(world: WhatsAppWorld, wamid: str) -> bool:
    row = await outbound(world, wamid)
    return row is not None and row.status == "delivered" and row.event_id is not None


async def test_outside_the_window_the_template_in_the_customer_language(
        database: Database) -> None:
    clock = Clock()
    async with running_whatsapp(database, clock) as world:
        fake = world.fake
        amelie = fake.customer(AMELIE, "Amélie")
        await buy_with_test_provider(amelie)
        clock.advance(hours=25)
        await world.shop.orders.confirm(MANAGER, await order_id(world, AMELIE))
        template = await fake.wait_for(lambda: next(iter(fake.messages(kind="template")), None),
                                       what="the template")
        assert template is not None
        assert template.template == ("order_update", "fr")
        number, text = template.template_params
        assert number == "#1001"
        assert text.startswith("Bonne nouvelle") and "\n" not in text
        assert not template.failed
        await eventually(lambda: _kind_is(world, template.wamid, "template"))


async def _kind_is(world: WhatsAppWorld, wamid: str, kind: str) -> bool:
    row = await outbound(world, wamid)
    return row is not None and row.kind == kind


async def test_a_free_form_update_failing_with_131047_is_sent_again_as_the_template(
        database: Database) -> None:
    async with running_whatsapp(database) as world:
        fake = world.fake
        alice = fake.customer(ALICE, "Alice")
        await buy_with_test_provider(alice)
        fake.close_window(ALICE)  # the app still believes the window is open
        await world.shop.orders.confirm(MANAGER, await order_id(world, ALICE))
        template = await fake.wait_for(lambda: next(iter(fake.messages(kind="template")), None),
                                       what="the template re-sent")
        assert template is not None
        failed = next(m for m in alice.messages() if m.failed)
        assert failed.error is not None and failed.error.code == 131047
        assert "is confirmed" in failed.body
        assert template.template == ("order_update", "en_US")
        assert "is confirmed" in template.template_params[1]
        await eventually(lambda: _fallback_is(world, failed.wamid, template.wamid))
        await fake.settle()
        assert len(fake.messages(kind="template")) == 1  # once
        assert await staff_reports(world) == []


async def _fallback_is(world: WhatsAppWorld, wamid: str, fallback: str) -> bool:
    row = await outbound(world, wamid)
    return row is not None and (row.status, row.error_code, row.fallback_wamid) == (
        "failed", 131047, fallback)


async def test_an_unknown_template_is_reported_to_staff(database: Database) -> None:
    clock = Clock()
    async with running_whatsapp(database, clock,
                                whatsapp_template_order_update="order_updates") as world:
        alice = world.fake.customer(ALICE, "Alice")
        await buy_with_test_provider(alice)
        clock.advance(hours=30)
        await world.shop.orders.confirm(MANAGER, await order_id(world, ALICE))
        await eventually(lambda: _reported(world, 132001))
        (report,) = await staff_reports(world)
        assert report["channel"] == "whatsapp" and report["topic"] == "order.status_changed"
        assert "does not exist" in report["reason"]


async def _reported(world: WhatsAppWorld, code: int) -> bool:
    return any(r["code"] == code for r in await staff_reports(world))


async def test_an_undeliverable_notification_is_reported_to_staff(database: Database) -> None:
    async with running_whatsapp(database) as world:
        fake = world.fake
        alice = fake.customer(ALICE, "Alice")
        await buy_with_test_provider(alice)
        fake.fail_next(undeliverable(), bsuid=ALICE, after_accept=True)
        await world.shop.orders.confirm(MANAGER, await order_id(world, ALICE))
        await eventually(lambda: _reported(world, 131026))


async def _attempted(world: WhatsAppWorld) -> bool:
    """The relay recorded a failed attempt for the WhatsApp notifications consumer."""
    async with world.shop.sessions() as session:
        found = await session.scalar(select(EventDelivery.id).where(
            EventDelivery.consumer == CONSUMER, EventDelivery.done.is_(False),
            EventDelivery.attempts >= 1, EventDelivery.last_error.is_not(None)))
    return found is not None


async def test_a_transient_failure_is_retried_and_one_event_sends_once(
        database: Database) -> None:
    clock = Clock()
    async with running_whatsapp(database, clock) as world:
        fake = world.fake
        alice = fake.customer(ALICE, "Alice")
        await buy_with_test_provider(alice)
        fake.fail_next(GraphError(131000, "(#131000) Something went wrong"), bsuid=ALICE)
        await world.shop.orders.confirm(MANAGER, await order_id(world, ALICE))
        await eventually(lambda: _attempted(world))
        clock.advance(seconds=10)  # the relay's backoff runs on the shop's clock
        world.shop.relay.wake()
        confirmed = await fake.wait_for(
            lambda: [m for m in alice.messages() if "is confirmed" in m.body],
            what="the update sent on the retry")
        assert len(confirmed) == 1
        async with world.shop.sessions() as session:
            event = (await session.execute(select(OutboxEvent).where(
                OutboxEvent.topic == "order.status_changed"))).scalars().first()
        assert event is not None
        await world.channel.notifier.notify(DeliveredEvent(event.id, event.topic,
                                                           event.payload, event.created_at))
        assert len([m for m in alice.messages() if "is confirmed" in m.body]) == 1
        assert await staff_reports(world) == []
