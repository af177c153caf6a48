from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from shop.auth import CustomerActor, SystemActor
from shop.bootstrap import Shop
from shop.errors import IllegalTransition, InvalidInput, NotAllowed, NotFound, NotYourOrder
from shop.events.models import OutboxEvent
from shop.support.service import SupportService
from shop.support.types import MAX_TEXT, MessageAuthor, ThreadStatus
from tests.conftest import Database
from tests.support.shop import MANAGER, OWNER, SUPPORT, Clock, buy, customer, make_shop, seed_basics


class Wakes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def shop(database: Database, clock: Clock) -> Shop:
    return make_shop(database, clock)


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
def support(shop: Shop, clock: Clock, wakes: Wakes) -> SupportService:
    return SupportService(shop.sessions, notify=wakes, clock=clock)


async def events(shop: Shop, topic: str) -> list[dict[str, Any]]:
    async with shop.sessions() as session:
        return list((await session.execute(select(OutboxEvent.payload).where(
            OutboxEvent.topic == topic).order_by(OutboxEvent.id))).scalars())


async def an_order(shop: Shop, external_id: str = "100") -> tuple[CustomerActor, int, int]:
    """A customer with an order awaiting payment: (actor, order id, order number)."""
    ids = await seed_basics(shop)
    actor, address = await customer(shop, external_id)
    order = await buy(shop, actor, address, ids["pickup"], {ids["TEE-M"]: 1})
    return actor, order.id, order.number


async def test_customer_message_creates_a_thread_and_an_event(
        shop: Shop, support: SupportService, wakes: Wakes, clock: Clock) -> None:
    alice, _ = await customer(shop, "100")
    first = await support.customer_message(alice.customer_id, "  Where is my parcel?  ")
    assert first.author == MessageAuthor.CUSTOMER and first.text == "Where is my parcel?"
    assert first.created_at == clock.now and first.staff_telegram_id is None
    assert wakes.count == 1
    clock.advance(minutes=5)
    second = await support.customer_message(alice.customer_id, "Hello?", photo_ids=["ph-1"])
    assert second.thread_id == first.thread_id  # further messages join the open thread

    published = await events(shop, "support.message")
    assert [(e["message_id"], e["new_thread"]) for e in published] == [
        (first.id, True), (second.id, False)]
    assert published[0] == {
        "thread_id": first.thread_id, "message_id": first.id,
        "customer_id": alice.customer_id, "customer_name": "C 100", "order_id": None,
        "order_number": None, "text": "Where is my parcel?", "photo_ids": [],
        "new_thread": True}
    assert published[1]["photo_ids"] == ["ph-1"]

    view = await support.thread(alice, first.thread_id)
    assert [m.id for m in view.messages] == [first.id, second.id]
    assert view.summary.status == ThreadStatus.OPEN and view.summary.message_count == 2
    assert view.summary.last_customer_message_at == clock.now
    assert view.summary.awaiting_reply and view.summary.last_message == "Hello?"


async def test_messages_about_an_order_have_their_own_thread(
        shop: Shop, support: SupportService) -> None:
    alice, order_id, number = await an_order(shop, "100")
    general = await support.customer_message(alice.customer_id, "Do you ship to Norway?")
    about = await support.customer_message(alice.customer_id, "Can I change the size?",
                                           order_id=order_id)
    again = await support.customer_message(alice.customer_id, "M to L please",
                                           order_id=order_id)
    later = await support.customer_message(alice.customer_id, "And to Iceland?")
    assert about.thread_id != general.thread_id
    assert again.thread_id == about.thread_id and later.thread_id == general.thread_id

    published = await events(shop, "support.message")
    assert [(e["order_id"], e["order_number"], e["new_thread"]) for e in published] == [
        (None, None, True), (order_id, number, True), (order_id, number, False),
        (None, None, False)]
    summary = (await support.thread(alice, about.thread_id)).summary
    assert summary.order_id == order_id and summary.order_number == number


async def test_another_customers_order_is_refused(shop: Shop, support: SupportService) -> None:
    _alice, order_id, _ = await an_order(shop, "100")
    bob, _ = await customer(shop, "200")
    with pytest.raises(NotYourOrder):
        await support.customer_message(bob.customer_id, "hi", order_id=order_id)
    with pytest.raises(NotFound):
        await support.customer_message(bob.customer_id, "hi", order_id=999_999)
    with pytest.raises(NotFound):
        await support.customer_message(999_999, "who am I?")
    assert await events(shop, "support.message") == []
    assert await support.threads(bob) == []


@pytest.mark.parametrize(("text", "photos"), [
    ("", ()), ("   \n\t ", ()), ("\x00\x07", ()), ("x" * (MAX_TEXT + 1), ()),
    ("x" * 10 * MAX_TEXT, ()), ("too many", [f"p{i}" for i in range(11)]),
    ("blank photo", ["  "]), ("long photo id", ["p" * 256]),
])
async def test_bad_messages_are_refused(shop: Shop, support: SupportService, wakes: Wakes,
                                        text: str, photos: list[str]) -> None:
    alice, _ = await customer(shop, "100")
    with pytest.raises(InvalidInput):
        await support.customer_message(alice.customer_id, text, photo_ids=photos)
    assert await events(shop, "support.message") == [] and wakes.count == 0


async def test_photo_only_limit_and_control_characters(
        shop: Shop, support: SupportService) -> None:
    alice, _ = await customer(shop, "100")
    photo = await support.customer_message(alice.customer_id, "  ", photo_ids=["ph-1"])
    assert photo.text == "" and photo.photo_ids == ("ph-1",)
    longest = await support.customer_message(alice.customer_id, "é" * MAX_TEXT)
    assert len(longest.text) == MAX_TEXT
    # PostgreSQL refuses NUL in text; line breaks survive, other control characters go.
    odd = await support.customer_message(alice.customer_id, "a\x00b\r\nc\x1bd\te")
    assert odd.text == "ab\ncd\te"
    view = await support.thread(alice, odd.thread_id)
    assert [m.text for m in view.messages][-1] == "ab\ncd\te"


async def test_staff_reply_publishes_for_the_customer_bot(
        shop: Shop, support: SupportService, wakes: Wakes, clock: Clock) -> None:
    alice, order_id, number = await an_order(shop, "100")
    question = await support.customer_message(alice.customer_id, "Size?", order_id=order_id)
    clock.advance(minutes=3)
    answer = await support.staff_reply(SUPPORT, question.thread_id, " We will swap it. ")
    assert answer.author == MessageAuthor.STAFF and answer.text == "We will swap it."
    assert answer.staff_telegram_id == SUPPORT.telegram_id and wakes.count == 2
    assert await events(shop, "support.reply") == [{
        "thread_id": question.thread_id, "message_id": answer.id,
        "customer_id": alice.customer_id, "order_id": order_id, "order_number": number,
        "text": "We will swap it.", "staff": "staff:3",
        "staff_telegram_id": SUPPORT.telegram_id, "reopened": False}]
    summary = (await support.thread(MANAGER, question.thread_id)).summary
    assert summary.assigned_staff_id == SUPPORT.telegram_id
    assert summary.last_staff_message_at == clock.now and not summary.awaiting_reply
    # The first staff member to answer stays assigned.
    await support.staff_reply(OWNER, question.thread_id, "Done.")
    assert (await support.thread(OWNER, question.thread_id)).summary.assigned_staff_id == 3
    with pytest.raises(InvalidInput):
        await support.staff_reply(SUPPORT, question.thread_id, "  ")
    with pytest.raises(NotFound):
        await support.staff_reply(SUPPORT, 999_999, "hello")


async def test_customers_cannot_act_as_staff(shop: Shop, support: SupportService) -> None:
    alice, _ = await customer(shop, "100")
    message = await support.customer_message(alice.customer_id, "hi")
    with pytest.raises(NotAllowed):
        await support.staff_reply(alice, message.thread_id, "I am staff, trust me")
    assert await events(shop, "support.reply") == []
    assert len((await support.thread(alice, message.thread_id)).messages) == 1


async def test_closed_thread_means_a_new_thread(shop: Shop, support: SupportService) -> None:
    alice, _ = await customer(shop, "100")
    first = await support.customer_message(alice.customer_id, "hi")
    closed = await support.close(SUPPORT, first.thread_id)
    assert closed.status == ThreadStatus.CLOSED
    assert (await support.close(SUPPORT, first.thread_id)).status == ThreadStatus.CLOSED
    second = await support.customer_message(alice.customer_id, "hi again")
    assert second.thread_id != first.thread_id
    assert (await events(shop, "support.message"))[-1]["new_thread"] is True
    assert (await support.thread(alice, first.thread_id)).summary.status == ThreadStatus.CLOSED
    # A customer may end their own conversation, not someone else's.
    bob, _ = await customer(shop, "200")
    with pytest.raises(NotAllowed):
        await support.close(bob, second.thread_id)
    assert (await support.close(alice, second.thread_id)).status == ThreadStatus.CLOSED


async def test_staff_reply_reopens_a_closed_thread_unless_a_newer_one_is_open(
        shop: Shop, support: SupportService) -> None:
    alice, _ = await customer(shop, "100")
    first = await support.customer_message(alice.customer_id, "hi")
    await support.close(SUPPORT, first.thread_id)
    await support.staff_reply(SUPPORT, first.thread_id, "Sorry, one more thing")
    assert (await events(shop, "support.reply"))[-1]["reopened"] is True
    assert (await support.thread(SUPPORT, first.thread_id)).summary.status == ThreadStatus.OPEN
    follow_up = await support.customer_message(alice.customer_id, "yes?")
    assert follow_up.thread_id == first.thread_id  # the answer lands in the same thread

    await support.close(SUPPORT, first.thread_id)
    newer = await support.customer_message(alice.customer_id, "new question")
    with pytest.raises(IllegalTransition, match=f"thread {newer.thread_id}"):
        await support.staff_reply(SUPPORT, first.thread_id, "late answer")
    assert (await support.thread(SUPPORT, first.thread_id)).summary.status == ThreadStatus.CLOSED


async def test_listing_and_reading_are_authorized(
        shop: Shop, support: SupportService, clock: Clock) -> None:
    alice, _ = await customer(shop, "100")
    bob, _ = await customer(shop, "200")
    a = await support.customer_message(alice.customer_id, "alice asks")
    clock.advance(minutes=1)
    b = await support.customer_message(bob.customer_id, "bob asks " + "long " * 100)
    clock.advance(minutes=1)
    await support.close(MANAGER, a.thread_id)

    staff_view = await support.threads(SUPPORT)
    assert [t.id for t in staff_view] == [a.thread_id, b.thread_id]  # latest activity first
    assert staff_view[1].customer_name == "C 200" and len(staff_view[1].last_message) == 200
    assert [t.id for t in await support.threads(SUPPORT, status="open")] == [b.thread_id]
    assert [t.id for t in await support.threads(SystemActor("cli"),
                                                status=ThreadStatus.CLOSED)] == [a.thread_id]
    assert [t.id for t in await support.threads(SUPPORT, limit=1)] == [a.thread_id]
    assert [t.id for t in await support.threads(alice)] == [a.thread_id]
    assert [t.id for t in await support.threads(bob, status="closed")] == []
    with pytest.raises(InvalidInput):
        await support.threads(SUPPORT, status="pending")
    with pytest.raises(InvalidInput):
        await support.threads(SUPPORT, limit=0)

    with pytest.raises(NotAllowed):
        await support.thread(alice, b.thread_id)
    with pytest.raises(NotFound):
        await support.thread(alice, 999_999)
    assert (await support.thread(bob, b.thread_id)).messages[0].text.startswith("bob asks")
    assert (await support.thread(MANAGER, a.thread_id)).summary.customer_id == alice.customer_id


async def test_alert_refs_map_back_to_threads(shop: Shop, support: SupportService) -> None:
    alice, _ = await customer(shop, "100")
    first = await support.customer_message(alice.customer_id, "hi")
    await support.close(SUPPORT, first.thread_id)
    second = await support.customer_message(alice.customer_id, "hi again")
    # One message alerted to two staff chats; each copy has its own reference.
    await support.set_message_ref(first.id, "telegram:1:10")
    await support.set_message_ref(first.id, "telegram:2:10")
    await support.set_message_ref(first.id, "telegram:1:10")  # idempotent
    await support.set_message_ref(second.id, "telegram:1:11")
    assert await support.thread_for_ref("telegram:1:10") == first.thread_id
    assert await support.thread_for_ref("telegram:2:10") == first.thread_id
    assert await support.thread_for_ref("telegram:1:11") == second.thread_id
    assert await support.thread_for_ref("telegram:3:10") is None
    with pytest.raises(NotFound):
        await support.set_message_ref(999_999, "telegram:1:12")
    with pytest.raises(InvalidInput):
        await support.set_message_ref(first.id, " ")
    with pytest.raises(InvalidInput):
        await support.set_message_ref(first.id, "x" * 121)


async def test_racing_first_messages_share_one_thread(
        shop: Shop, support: SupportService) -> None:
    alice, _ = await customer(shop, "100")
    sent = await asyncio.gather(*(support.customer_message(alice.customer_id, f"m{i}")
                                  for i in range(6)))
    assert len({m.thread_id for m in sent}) == 1
    assert [e["new_thread"] for e in await events(shop, "support.message")].count(True) == 1
    assert len((await support.thread(alice, sent[0].thread_id)).messages) == 6
