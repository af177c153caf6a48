"""The fake WhatsApp Graph API answers the real pywa_async client as Meta does, and delivers
signed webhook notifications after the verification handshake."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from pywa.types.callback import Button, Section, SectionList, SectionRow, URLButton
from pywa_async import errors as wa_errors
from pywa_async.client import WhatsApp

from tests.fakes.whatsapp_server import FakeWhatsApp
from tests.support.shop import Clock

BSUID = "US.13491208655302741918"
PHONE = "16505551234"


def client(fake: FakeWhatsApp, token: str | None = None) -> WhatsApp:
    http = httpx.AsyncClient(timeout=5)
    wa = WhatsApp(phone_id=fake.phone_id, token=token or fake.token, session=http,
                  server=None, verify_token="vt", app_secret=fake.app_secret)
    http.base_url = fake.base_url + http.base_url.path
    return wa


@pytest.fixture
async def fake() -> AsyncIterator[FakeWhatsApp]:
    clock = Clock()
    async with FakeWhatsApp(clock=clock, auto_statuses=()) as server:
        yield server


async def test_sends_to_a_bsuid_with_recipient_and_to_a_phone_with_to(fake: FakeWhatsApp) -> None:
    fake.customer(BSUID, "Sheena", wa_id=PHONE)
    fake.customers[BSUID].last_inbound_at = fake.clock()
    wa = client(fake)
    sent = await wa.send_message(to=BSUID, text="*Hello* there")
    assert sent.id.startswith("wamid.") and sent.to == BSUID
    by_phone = await wa.send_message(to=PHONE, text="Hi by phone")
    assert by_phone.to == PHONE
    first, second = fake.messages(BSUID)
    assert (first.by, first.body, first.kind) == ("recipient", "*Hello* there", "text")
    assert first.payload["recipient"] == BSUID and "to" not in first.payload
    assert (second.by, second.body) == ("to", "Hi by phone")


async def test_a_bad_token_is_refused_with_oauth_190(fake: FakeWhatsApp) -> None:
    fake.customer(BSUID)
    with pytest.raises(wa_errors.ExpiredAccessToken) as caught:
        await client(fake, token="EAAwrong").send_message(to=BSUID, text="x")
    assert caught.value.code == 190 and caught.value.type == "OAuthException"
    assert caught.value.status_code == 401
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{fake.base_url}/v26.0/{fake.phone_id}/messages",
                               json={"messaging_product": "whatsapp", "recipient": BSUID,
                                     "type": "text", "text": {"body": "x"}})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == 190


@pytest.mark.parametrize(("kwargs", "detail"), [
    ({"buttons": [Button(f"B{i}", f"id{i}") for i in range(4)]}, "Too many elements. Max: 3"),
    ({"buttons": [Button("x" * 21, "id")]}, "Button title length invalid"),
    ({"buttons": SectionList("Choose", [Section("All", [
        SectionRow(f"Row {i}", f"r{i}") for i in range(11)])])},
     "Total row count exceed max allowed count: 10"),
    ({"buttons": SectionList("Choose", [Section("All", [SectionRow("y" * 25, "r")])])},
     "Row title length invalid"),
    ({"buttons": SectionList("Choose", [Section("All", [SectionRow("ok", "r", "d" * 73)])])},
     "Row description length invalid"),
    ({"buttons": SectionList("A much too long label", [Section("All", [SectionRow("ok", "r")])])},
     "Button label length invalid"),
    ({"buttons": URLButton("Open the payment page", "https://pay.example/x")},
     "Display text length invalid"),
])
async def test_broken_ui_limits_are_refused_with_131009_and_details(
        fake: FakeWhatsApp, kwargs: dict[str, Any], detail: str) -> None:
    fake.customer(BSUID)
    fake.customers[BSUID].last_inbound_at = fake.clock()
    with pytest.raises(wa_errors.InvalidParameter) as caught:
        await client(fake).send_message(to=BSUID, text="Pick one", **kwargs)
    assert caught.value.code == 131009
    assert caught.value.details is not None and detail in caught.value.details
    assert fake.messages() == []


async def test_templates_unknown_is_132001_known_is_sent_outside_the_window(
        fake: FakeWhatsApp) -> None:
    fake.customer(BSUID)
    fake.add_template("order_update", "en_US", 2, "Order {{1}}: {{2}}")
    wa = client(fake)
    body = [{"type": "body", "parameters": [{"type": "text", "text": "#1001"},
                                            {"type": "text", "text": "shipped"}]}]
    from pywa_async.types.templates import TemplateLanguage
    with pytest.raises(wa_errors.TemplateNotExists) as caught:
        await wa.send_template(to=BSUID, name="order_updates",
                               language=TemplateLanguage.ENGLISH_US, params=body)
    assert caught.value.code == 132001 and "order_updates" in (caught.value.details or "")
    sent = await wa.send_template(to=BSUID, name="order_update",
                                  language=TemplateLanguage.ENGLISH_US, params=body)
    message = fake.message(sent.id)
    assert message is not None and message.template == ("order_update", "en_US")
    assert message.template_params == ["#1001", "shipped"] and not message.failed


async def test_rate_limits_are_errors_the_client_can_tell_apart(fake: FakeWhatsApp) -> None:
    fake.customer(BSUID)
    fake.customers[BSUID].last_inbound_at = fake.clock()
    from tests.fakes.whatsapp_model import pair_rate_limited, rate_limited
    fake.fail_next(rate_limited())
    fake.fail_next(pair_rate_limited())
    wa = client(fake)
    with pytest.raises(wa_errors.RateLimitHit):
        await wa.send_message(to=BSUID, text="one")
    with pytest.raises(wa_errors.TooManyMessages):
        await wa.send_message(to=BSUID, text="two")
    await wa.send_message(to=BSUID, text="three")
    assert [m.body for m in fake.messages()] == ["three"]
    assert [r.error_code for r in fake.failed_requests()] == [130429, 131056]


async def test_media_upload_then_send_by_id(fake: FakeWhatsApp, tmp_path: Any) -> None:
    fake.customer(BSUID)
    fake.customers[BSUID].last_inbound_at = fake.clock()
    wa = client(fake)
    picture = tmp_path / "tee.jpg"
    picture.write_bytes(b"\xff\xd8\xff jpeg bytes")
    media = await wa.upload_media(media=picture, mime_type="image/jpeg")
    assert media.id in fake.media and fake.media[media.id].data == b"\xff\xd8\xff jpeg bytes"
    await wa.send_image(to=BSUID, image=media.id, caption="The tee")
    assert fake.messages()[-1].has_image and fake.messages()[-1].body == "The tee"
    with pytest.raises(wa_errors.InvalidParameter):
        await wa.send_image(to=BSUID, image="424242", caption="unknown media")


class Receiver:
    """A minimal webhook endpoint for testing the fake's deliveries."""

    def __init__(self, secret: str, verify_token: str) -> None:
        self.secret, self.verify_token = secret, verify_token
        self.bodies: list[dict[str, Any]] = []
        self.refuse = 0
        self.runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/hook", self.get)
        app.router.add_post("/hook", self.post)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        return f"http://{host}:{port}/hook"

    async def get(self, request: web.Request) -> web.Response:
        if (request.query.get("hub.mode") == "subscribe"
                and request.query.get("hub.verify_token") == self.verify_token):
            return web.Response(text=request.query["hub.challenge"])
        return web.Response(status=403)

    async def post(self, request: web.Request) -> web.Response:
        raw = await request.read()
        expected = "sha256=" + hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()
        assert request.headers["X-Hub-Signature-256"] == expected
        if self.refuse:
            self.refuse -= 1
            return web.Response(status=500)
        self.bodies.append(json.loads(raw))
        return web.Response(text="ok")


async def test_webhook_handshake_then_signed_batched_redelivered_notifications(
        fake: FakeWhatsApp) -> None:
    receiver = Receiver(fake.app_secret, "my-verify-token")
    url = await receiver.start()
    try:
        status, _, _ = await fake.subscribe(url, "wrong-token")
        assert status == 403 and fake.webhook.url is None
        status, body, challenge = await fake.subscribe(url, "my-verify-token")
        assert (status, body) == (200, challenge) and fake.webhook.url == url

        alice = fake.customer(BSUID, "Alice", wa_id=PHONE)
        bob = fake.customer("PL.1000000000000002", "Bob")
        receiver.refuse = 1
        with fake.webhook.held():
            await alice.send("first", expect=0)
            await bob.send("second", expect=0)
        await alice.send("third", expect=0)
        await fake.webhook.idle()
        messages = [(change["value"]["contacts"][0]["user_id"], message["text"]["body"])
                    for notification in receiver.bodies for entry in notification["entry"]
                    for change in entry["changes"] for message in change["value"]["messages"]]
        assert messages == [(BSUID, "first"), ("PL.1000000000000002", "second"),
                            (BSUID, "third")]
        assert any(len(n["entry"][0]["changes"]) > 1 for n in receiver.bodies), "no batching"
        assert fake.webhook.deliveries[0].statuses == [500, 200]
        first = receiver.bodies[0]["entry"][0]["changes"][0]["value"]
        assert first["contacts"][0] == {"profile": {"name": "Alice"}, "user_id": BSUID,
                                        "wa_id": PHONE}
        assert first["messages"][0]["from_user_id"] == BSUID
        bob_value = next(c["value"] for n in receiver.bodies for c in n["entry"][0]["changes"]
                         if c["value"]["contacts"][0]["user_id"] != BSUID)
        assert "wa_id" not in bob_value["contacts"][0]
        assert "from" not in bob_value["messages"][0]
    finally:
        assert receiver.runner is not None
        await receiver.runner.cleanup()


async def test_free_form_outside_the_window_is_accepted_then_fails_with_131047(
        fake: FakeWhatsApp) -> None:
    receiver = Receiver(fake.app_secret, "vt")
    url = await receiver.start()
    try:
        await fake.subscribe(url, "vt")
        fake.customer(BSUID)
        fake.customers[BSUID].last_inbound_at = fake.clock() - timedelta(hours=25)
        sent = await client(fake).send_message(to=BSUID, text="Your order shipped")
        await fake.webhook.idle()
        value = receiver.bodies[-1]["entry"][0]["changes"][0]["value"]
        status = value["statuses"][0]
        assert (status["id"], status["status"]) == (sent.id, "failed")
        assert status["errors"][0]["code"] == 131047
        assert status["recipient_user_id"] == BSUID
        assert "contacts" not in value  # a failed status may come without contacts
    finally:
        assert receiver.runner is not None
        await receiver.runner.cleanup()
