"""Photos a WhatsApp customer sends with a return reach staff in the Telegram staff bot: the
staff bot fetches them through the Graph API (media URL, then the download with the bearer
token) and sends them as photos, like Telegram customers' photos."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.conftest import Database
from tests.fakes.telegram_server import FakeTelegram
from tests.support.admin import ADMIN_TOKEN, OWNER_ID, staff_bot
from tests.support.shop import MANAGER, Clock
from tests.support.telegram import CUSTOMER_TOKEN
from tests.support.whatsapp import (
    VERIFY_TOKEN,
    buy_with_test_provider,
    customer_of,
    running_whatsapp,
)

ALICE = "US.13491208655302741918"
PHOTO = b"\xff\xd8\xff\xe0 a parcel label, as a jpeg"


async def test_a_whatsapp_return_photo_reaches_staff_as_a_photo(database: Database) -> None:
    clock = Clock(datetime.now(UTC))
    async with running_whatsapp(database, clock) as world, FakeTelegram() as tg:
        fake, shop = world.fake, world.shop
        tg.add_bot(CUSTOMER_TOKEN, "chatshop_test_bot")
        tg.add_bot(ADMIN_TOKEN, "chatshop_staff_bot")
        settings = {"whatsapp_phone_id": fake.phone_id, "whatsapp_token": fake.token,
                    "whatsapp_app_secret": fake.app_secret,
                    "whatsapp_verify_token": VERIFY_TOKEN, "whatsapp_api_base": fake.base_url}
        async with staff_bot(tg, database, clock, **settings):
            owner = tg.user(OWNER_ID, "Olga", bot=ADMIN_TOKEN)
            alice = fake.customer(ALICE, "Alice")
            await buy_with_test_provider(alice)
            (order,) = await shop.orders.orders(await customer_of(shop, ALICE))
            await shop.orders.confirm(MANAGER, order.id)
            await shop.orders.ship(MANAGER, order.id, carrier="DHL", tracking_number="JD77")
            await shop.orders.deliver(MANAGER, order.id)
            await alice.send("menu")
            await alice.press(re.compile("My orders"))
            await alice.press(re.compile("#1001"))
            await alice.press(re.compile("Return items"))
            await alice.press(re.compile(r"^\+ 0/1"))
            await alice.press(re.compile(r"Continue"))
            await alice.press(re.compile("Wrong size"))
            got = await alice.send_image(PHOTO, caption="the label")
            assert "Photos received: 1" in got.text
            done = await alice.press(re.compile("Done — send the request"))
            assert "Return requested for order #1001." in done.text

            def photo_sent() -> bool:
                return any(f.data == PHOTO for f in tg.files.values())

            await tg.wait_for(photo_sent, what="the customer's photo in the staff bot")
            sent = tg.calls("sendPhoto", bot=ADMIN_TOKEN, chat_id=OWNER_ID, ok=True)
            assert sent, "sent as a photo, not as a count only"
            photo = next(m for m in owner.messages() if m.photo)
            assert tg.files[photo.photo_file_id].data == PHOTO
            downloads = [r for r in fake.requests if "attachments" in r.path]
            assert downloads and all(r.status == 200 for r in downloads)
