"""The WhatsApp channel's records and the splitting of notifications, without HTTP: the inbox
de-duplicates on the message id and on (message id, status) on SQLite and PostgreSQL, contacts
keep the phone and the window, statuses only move forward."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.channels.whatsapp.inbound import (
    CatalogOrder,
    More,
    Number,
    from_data,
    from_text,
)
from bot.channels.whatsapp.split import split_notification
from bot.flows.actions import Action
from bot.flows.inputs import Command, Message, Press
from shop.messaging.contacts import WhatsAppContacts
from shop.messaging.inbox import Inbound, WhatsAppInbox
from shop.messaging.outbound import WhatsAppOutboundLog
from tests.conftest import Database
from tests.support.shop import Clock

ALICE = "US.13491208655302741918"
BOB = "PL.1000000000000002"
META = {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}


def contact(bsuid: str, phone: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"profile": {"name": bsuid}, "user_id": bsuid}
    if phone:
        found["wa_id"] = phone
    return found


def text(wamid: str, bsuid: str, body: str) -> dict[str, Any]:
    return {"from_user_id": bsuid, "id": wamid, "timestamp": "1793620800", "type": "text",
            "text": {"body": body}}


def test_a_batch_splits_into_single_updates_with_their_own_contact() -> None:
    body = {"object": "whatsapp_business_account", "entry": [
        {"id": "WABA", "changes": [
            {"field": "messages", "value": {
                "messaging_product": "whatsapp", "metadata": META,
                "contacts": [contact(ALICE, "16505551234"), contact(BOB)],
                "messages": [text("wamid.1", ALICE, "one"), text("wamid.2", BOB, "two")]}},
            {"field": "messages", "value": {
                "messaging_product": "whatsapp", "metadata": META,
                "statuses": [
                    {"id": "wamid.9", "status": "delivered", "timestamp": "1",
                     "recipient_user_id": BOB},
                    {"id": "wamid.9", "status": "failed", "timestamp": "2",
                     "recipient_user_id": BOB, "errors": [{"code": 131047}]}]}}]},
        {"id": "WABA", "changes": [{"field": "account_update", "value": {"event": "X"}}]},
    ]}
    found = split_notification(body)
    assert [(i.wamid, i.status, i.sender) for i in found] == [
        ("wamid.1", "", ALICE), ("wamid.2", "", BOB), ("wamid.9", "delivered", BOB),
        ("wamid.9", "failed", BOB)]
    second = found[1].payload["entry"][0]["changes"][0]["value"]
    assert second["contacts"] == [contact(BOB)] and second["messages"][0]["id"] == "wamid.2"
    assert second["metadata"] == META
    failed = found[3].payload["entry"][0]["changes"][0]["value"]
    assert "contacts" not in failed and failed["statuses"][0]["errors"][0]["code"] == 131047


def test_typed_inputs() -> None:
    assert from_text("/start p_classic-tee") == Command("start", "p_classic-tee")
    assert from_text(" 3 ") == Number(3, "3")
    assert from_text("75002 Paris") == Message("75002 Paris")
    assert from_text("123456") == Message("123456")  # too long for a choice: a postcode
    assert from_data("wa.more:2") == More(2)
    assert from_data("prod:42:1") == Press(Action("prod", (42, 1)))
    assert from_data("<script>") == Press(None)
    assert isinstance(CatalogOrder(()), CatalogOrder)


async def test_the_inbox_stores_each_update_once(database: Database) -> None:
    inbox = WhatsAppInbox(database.sessions, clock=Clock())
    items = [Inbound("wamid.1", "", ALICE, {"n": 1}), Inbound("wamid.1", "sent", ALICE, {}),
             Inbound("wamid.1", "delivered", ALICE, {})]
    first = await inbox.store(items)
    assert [(s.wamid, s.status) for s in first] == [("wamid.1", ""), ("wamid.1", "sent"),
                                                    ("wamid.1", "delivered")]
    again = await inbox.store([*items, Inbound("wamid.1", "read", ALICE, {})])
    assert [(s.wamid, s.status) for s in again] == [("wamid.1", "read")]
    await inbox.done(first[0].id)
    await inbox.failed(first[1].id, "database hiccup")
    assert [s.id for s in await inbox.pending()] == [first[1].id, first[2].id, again[0].id]
    assert not await inbox.is_pending(first[0].id)


async def test_contacts_keep_the_phone_and_the_window(database: Database) -> None:
    clock = Clock()
    from shop.customers.service import CustomerService
    customer = await CustomerService(database.sessions).get_or_create("whatsapp", ALICE)
    contacts = WhatsAppContacts(database.sessions, clock=clock)
    first = await contacts.wrote(customer.id, ALICE, wa_id="16505551234", username=None,
                                 at=clock.now)
    assert first.window_open(clock.now) and first.wa_id == "16505551234"
    later = await contacts.wrote(customer.id, ALICE, wa_id=None, username="@alice",
                                 at=clock.now - timedelta(hours=1))  # an old one, redelivered
    assert later.wa_id == "16505551234" and later.last_inbound_at == clock.now
    await contacts.save(customer.id, {"expect": "coaddr"}, {"items": [], "paged": []})
    saved = await contacts.get(customer.id)
    assert saved is not None and saved.state == {"expect": "coaddr"}
    assert not saved.window_open(clock.now + timedelta(hours=24))


async def test_statuses_only_move_forward(database: Database) -> None:
    from shop.customers.service import CustomerService
    customer = await CustomerService(database.sessions).get_or_create("whatsapp", ALICE)
    log = WhatsAppOutboundLog(database.sessions)
    await log.record("wamid.7", customer.id, "message", event_id=5, topic="order.paid")
    assert (await log.status("wamid.7", "delivered", None)) is not None
    sent_late = await log.status("wamid.7", "sent", None)
    assert sent_late is not None and sent_late.status == "delivered"
    failed = await log.status("wamid.7", "failed", 131047)
    assert failed is not None and (failed.status, failed.error_code) == ("failed", 131047)
    assert await log.status("wamid.unknown", "read", None) is None
    assert await log.claim_fallback("wamid.7") and not await log.claim_fallback("wamid.7")
    found = await log.for_event(5, customer.id)
    assert found is not None and found.wamid == "wamid.7"
