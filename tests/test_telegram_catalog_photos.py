"""Category pages in Telegram carry photos without filling the chat: each page is one photo
message (the first product on it that has one) edited in place when paging, and the photo
view walks through the category's products in that same message."""

from __future__ import annotations

from tests.conftest import Database
from tests.support.telegram import running_customer_bot

ALICE = 5001


async def test_category_pages_show_photos_and_edit_in_place(database: Database) -> None:
    async with running_customer_bot(database) as (tg, _shop):
        alice = tg.user(ALICE, "Alice")
        await alice.send("/start")
        await alice.press("🛍 Catalog")
        first = await alice.press("Clothing (10)")
        page = first.latest
        assert page is not None and page.photo, "the page is a photo message"
        assert "10 products · page 1 of 2" in page.body and "Pictured: " in page.body
        assert any(b.text.startswith("Classic Organic Cotton Tee") for row in page.keyboard
                   for b in row), "the products are still the buttons under the photo"
        assert tg.calls("sendPhoto", chat_id=ALICE)
        on_screen = len(tg.chat(ALICE))

        second = await alice.press("Next ›")
        assert second.latest is not None and second.latest.message_id == page.message_id
        assert "page 2 of 2" in second.text and second.latest.photo
        assert tg.calls("editMessageMedia", chat_id=ALICE, ok=True), "paging edits the photo"

        photos = await alice.press("🖼 Photos")
        assert photos.latest is not None and photos.latest.message_id == page.message_id
        assert "Clothing · 9/10" in photos.text and photos.latest.photo
        last = await alice.press("›")
        assert "Clothing · 10/10" in last.text and "›" not in alice.buttons()
        back = await alice.press("‹")
        assert "Clothing · 9/10" in back.text
        listed = await alice.press("« List")
        assert "page 2 of 2" in listed.text
        assert listed.latest is not None and listed.latest.message_id == page.message_id
        assert len(tg.chat(ALICE)) == on_screen, "nothing was added to the chat"
        assert not [c for c in tg.calls(chat_id=ALICE) if not c.ok]
