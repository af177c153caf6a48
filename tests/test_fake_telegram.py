"""The fake Telegram Bot API, driven by the real aiogram ``Bot`` (real HTTP) and ``Dispatcher``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    LabeledPrice,
    Message,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from tests.fakes.telegram_model import PendingQuery
from tests.fakes.telegram_sample_bot import keyboard, make_bot, png, polling, sample_router
from tests.fakes.telegram_server import FakeTelegram

TOKEN = "123456:AAE-fake-customer-token"
OTHER_TOKEN = "654321:AAE-fake-staff-token"
ALICE = 1001


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.add_bot(TOKEN, "chatshop_test_bot")
        yield server


@pytest.fixture
async def shop_bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    dp = Dispatcher()
    dp.include_router(sample_router())
    bot = make_bot(tg.base_url, TOKEN)
    async with polling(dp, bot):
        yield bot


async def test_text_is_echoed_with_html_entities(tg: FakeTelegram, shop_bot: Bot) -> None:
    alice = tg.user(ALICE, "Alice")
    reply = await alice.send("I <3 shoes & socks")
    assert reply.text == "You said: I <3 shoes & socks"
    assert reply.latest is not None
    assert reply.latest.entities == [{"type": "bold", "offset": 10, "length": 18}]
    assert reply.latest.raw["from"]["username"] == "chatshop_test_bot"
    assert [m.body for m in tg.chat(ALICE, include_user=True)] == [
        "I <3 shoes & socks", "You said: I <3 shoes & socks"]


async def test_pressing_a_button_edits_the_message_in_place(tg: FakeTelegram,
                                                            shop_bot: Bot) -> None:
    alice = tg.user(ALICE, "Alice")
    start = await alice.send("/start")
    assert start.text == "Hello, Alice!"
    assert alice.buttons() == ["Count: 0", "Same"]
    first = await alice.press("Count: 0")
    assert first.answer is not None and first.answer.text == "+1"
    second = await alice.press(re.compile(r"^Count"))
    assert second.latest is not None and start.latest is not None
    assert second.latest.message_id == start.latest.message_id
    assert alice.text() == "Count: 2"
    assert len(alice.messages()) == 1
    assert [action for action, _ in second.latest.history] == ["send", "edit_text", "edit_text"]
    unchanged = await alice.press("Same")
    assert unchanged.answer is not None and unchanged.answer.text == "unchanged"
    assert unchanged.errors[0].error is not None
    assert unchanged.errors[0].error.startswith("Bad Request: message is not modified")


async def test_stale_or_forged_buttons_get_an_answer(tg: FakeTelegram, shop_bot: Bot) -> None:
    alice = tg.user(ALICE, "Alice")
    await alice.send("/start")
    reply = await alice.press_data("order:999:cancel")
    assert reply.answer is not None and reply.answer.show_alert
    gone = await alice.press_data("count:0", message_id=12345)
    assert gone.answer is not None and gone.answer.text == "This button is no longer valid"


async def test_not_modified_and_missing_messages_raise_bad_request(tg: FakeTelegram) -> None:
    tg.user(ALICE)
    async with make_bot(tg.base_url, TOKEN) as bot:
        sent = await bot.send_message(ALICE, "Cart: 1 item", reply_markup=keyboard([("+", "+")]))
        with pytest.raises(TelegramBadRequest, match="message is not modified: specified new"):
            await bot.edit_message_text("Cart: 1 item", chat_id=ALICE,
                                        message_id=sent.message_id,
                                        reply_markup=keyboard([("+", "+")]))
        await bot.edit_message_text("Cart: 1 item", chat_id=ALICE, message_id=sent.message_id)
        assert tg.chat(ALICE)[0].reply_markup is None  # an edit without markup drops it
        with pytest.raises(TelegramBadRequest, match="message to edit not found"):
            await bot.edit_message_text("x", chat_id=ALICE, message_id=999)
        with pytest.raises(TelegramBadRequest, match="there is no caption in the message"):
            await bot.edit_message_caption(chat_id=ALICE, message_id=sent.message_id,
                                           caption="x")
        assert await bot.delete_message(ALICE, sent.message_id)
        with pytest.raises(TelegramBadRequest, match="message to delete not found"):
            await bot.delete_message(ALICE, sent.message_id)
        assert tg.chat(ALICE) == []


async def test_text_and_markup_are_validated(tg: FakeTelegram) -> None:
    tg.user(ALICE)
    async with make_bot(tg.base_url, TOKEN) as bot:
        too_long = "x" * 65
        with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
            await bot.send_message(ALICE, "Pick", reply_markup=keyboard([("A", too_long)]))
        await bot.send_message(ALICE, "Pick", reply_markup=keyboard([("A", "é" * 32)]))
        with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
            await bot.send_message(ALICE, "Pick", reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="A")]]))
        with pytest.raises(TelegramBadRequest, match="can't parse entities: Can't find end tag"):
            await bot.send_message(ALICE, "<b>bold", parse_mode="HTML")
        with pytest.raises(TelegramBadRequest, match='Unsupported start tag "p"'):
            await bot.send_message(ALICE, "<p>hi</p>", parse_mode="HTML")
        with pytest.raises(TelegramBadRequest, match="message is too long"):
            await bot.send_message(ALICE, "x" * 4097)
        with pytest.raises(TelegramBadRequest, match="message text is empty"):
            await bot.send_message(ALICE, "<b></b>", parse_mode="HTML")
        with pytest.raises(TelegramBadRequest, match="chat not found"):
            await bot.send_message(424242, "hello?")


async def test_flood_control_answers_429_retry_after(tg: FakeTelegram) -> None:
    now = [1000.0]
    tg.now = lambda: now[0]
    tg.user(ALICE)
    tg.flood_limits(per_chat_per_s=1, global_per_s=30, burst=2)
    async with make_bot(tg.base_url, TOKEN) as bot:
        await bot.send_message(ALICE, "one")
        await bot.send_message(ALICE, "two")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(ALICE, "three")
        assert caught.value.retry_after == 1
        assert "Too Many Requests: retry after 1" in caught.value.message
        now[0] += 1.0
        await bot.send_message(ALICE, "three, later")
        assert tg.bot().http_429 == 1
        tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
        with pytest.raises(TelegramRetryAfter) as injected:
            await bot.send_message(ALICE, "four")
        assert injected.value.retry_after == 7
        tg.fail_next("editMessageText", 403, "Forbidden: bot was blocked by the user")
        with pytest.raises(TelegramForbiddenError):
            await bot.edit_message_text("x", chat_id=ALICE, message_id=1)


async def test_stars_invoice_paid_through_pre_checkout(tg: FakeTelegram, shop_bot: Bot) -> None:
    alice = tg.user(ALICE, "Alice")
    await alice.send("/stars")
    invoice = alice.latest()
    assert invoice is not None and invoice.invoice == {
        "title": "Sticker pack", "description": "Digital stickers", "start_parameter": "",
        "currency": "XTR", "total_amount": 50}
    result = await alice.pay_invoice()
    assert result.shipping_answer is None
    assert result.pre_checkout_answer == {"ok": True}
    assert result.paid and result.successful_payment is not None
    assert result.successful_payment["provider_payment_charge_id"] == ""
    assert result.reply is not None and result.reply.text == "Paid 50 XTR for order:42"
    charge = result.successful_payment["telegram_payment_charge_id"]
    assert await shop_bot.refund_star_payment(ALICE, charge)
    with pytest.raises(TelegramBadRequest, match="CHARGE_ALREADY_REFUNDED"):
        await shop_bot.refund_star_payment(ALICE, charge)
    tampered = await alice.pay_invoice(invoice_payload="order:forged")
    assert tampered.pre_checkout_answer == {"ok": False, "error_message": "This order has expired"}
    assert not tampered.paid


async def test_flexible_invoice_goes_through_shipping(tg: FakeTelegram, shop_bot: Bot) -> None:
    alice = tg.user(ALICE, "Alice")
    await alice.send("/ship")
    result = await alice.pay_invoice(shipping_option_id="express")
    assert result.shipping_answer is not None and result.shipping_answer["ok"]
    assert result.pre_checkout_query is not None
    assert result.pre_checkout_query["total_amount"] == 1999 + 990
    assert result.pre_checkout_query["order_info"]["name"] == "Alice"
    assert result.successful_payment is not None
    assert result.successful_payment["provider_payment_charge_id"].startswith("ch_")
    assert alice.text() == "Paid 2989 EUR for order:7"
    refused = await alice.pay_invoice(shipping_address={
        "country_code": "DE", "state": "", "city": "Berlin", "street_line1": "Unter den Linden",
        "street_line2": "", "post_code": "10117"})
    assert refused.shipping_answer == {"ok": False, "error_message": "We only ship to France"}
    assert refused.pre_checkout_answer is None


async def test_invoices_are_validated(tg: FakeTelegram) -> None:
    tg.user(ALICE)
    prices = [LabeledPrice(label="A", amount=10), LabeledPrice(label="B", amount=10)]
    async with make_bot(tg.base_url, TOKEN) as bot:
        with pytest.raises(TelegramBadRequest, match="STARS_INVOICE_INVALID"):
            await bot.send_invoice(ALICE, "Pack", "Two prices", "p", "XTR", prices)
        with pytest.raises(TelegramBadRequest, match="PAYMENT_PROVIDER_INVALID"):
            await bot.send_invoice(ALICE, "Pack", "No provider", "p", "EUR", prices)
        with pytest.raises(TelegramBadRequest, match="INVOICE_PAYLOAD_INVALID"):
            await bot.send_invoice(ALICE, "Pack", "Long payload", "p" * 129, "XTR", prices[:1])
        with pytest.raises(TelegramBadRequest, match="INVOICE_TITLE_INVALID"):
            await bot.send_invoice(ALICE, "T" * 33, "Long title", "p", "XTR", prices[:1])
        with pytest.raises(TelegramBadRequest, match="prices must be non-empty"):
            await bot.send_invoice(ALICE, "Pack", "No prices", "p", "XTR", [])
        with pytest.raises(TelegramBadRequest, match="query is too old"):
            await bot.answer_pre_checkout_query("123", ok=True)
        now = [50.0]
        tg.now = lambda: now[0]
        tg.bot().queries["77"] = PendingQuery("pre_checkout_query", "77", ALICE, {}, now[0])
        now[0] += 10.5  # Telegram gives the bot 10 seconds
        with pytest.raises(TelegramBadRequest, match="query is too old"):
            await bot.answer_pre_checkout_query("77", ok=True)


async def test_inline_query_is_answered(tg: FakeTelegram, shop_bot: Bot) -> None:
    alice = tg.user(ALICE, "Alice")
    answer = await alice.inline_query("shirt")
    assert [r["title"] for r in answer.results] == ["shirt #0", "shirt #1", "shirt #2"]
    assert answer.is_personal and answer.cache_time == 1
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await shop_bot.answer_inline_query(answer.query_id, [])


async def test_photos_by_upload_url_and_file_id(tg: FakeTelegram, tmp_path: Path) -> None:
    tg.user(ALICE)
    image = tmp_path / "shirt.png"
    image.write_bytes(png(400, 200))
    async with make_bot(tg.base_url, TOKEN) as bot:
        uploaded = await bot.send_photo(ALICE, FSInputFile(image), caption="<i>Blue</i> shirt",
                                        parse_mode="HTML", reply_markup=keyboard([("Add", "a")]))
        assert uploaded.photo is not None
        assert (uploaded.photo[-1].width, uploaded.photo[-1].height) == (400, 200)
        assert uploaded.caption == "Blue shirt" and uploaded.caption_entities is not None
        again = await bot.send_photo(ALICE, uploaded.photo[-1].file_id)
        assert again.photo == uploaded.photo
        by_url = await bot.send_photo(ALICE, "https://shop.example/images/shirt.jpg")
        assert by_url.photo and by_url.photo[-1].file_id != uploaded.photo[-1].file_id
        with pytest.raises(TelegramBadRequest, match="failed to get HTTP URL content"):
            await bot.send_photo(ALICE, "https://cdn.invalid/missing.jpg")
        with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
            await bot.send_photo(ALICE, "AgACnot-a-real-file-id")
        with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
            await bot.send_photo(ALICE, BufferedInputFile(b"not an image", "x.png"))
        with pytest.raises(TelegramBadRequest, match="message caption is too long"):
            await bot.send_photo(ALICE, uploaded.photo[-1].file_id, caption="c" * 1025)
        file = await bot.get_file(uploaded.photo[-1].file_id)
        assert file.file_path is not None
        downloaded = await bot.download_file(file.file_path)
        assert downloaded is not None and downloaded.read() == image.read_bytes()
        await bot.edit_message_media(
            InputMediaPhoto(media="https://shop.example/images/red.jpg", caption="Red"),
            chat_id=ALICE, message_id=uploaded.message_id)
        album = await bot.send_media_group(ALICE, [
            InputMediaPhoto(media=uploaded.photo[-1].file_id),
            InputMediaPhoto(media=FSInputFile(image))])
        assert len({m.media_group_id for m in album}) == 1
        export = await bot.send_document(ALICE, BufferedInputFile(b"id,total\n1,19.99\n",
                                                                  "orders.csv"))
        assert export.document is not None and export.document.file_name == "orders.csv"
    shown = tg.chat(ALICE)
    assert shown[0].caption == "Red" and shown[0].buttons == []


async def test_long_polling_returns_promptly_and_honours_offset(tg: FakeTelegram) -> None:
    alice = tg.user(ALICE)
    account = tg.bot()
    async with make_bot(tg.base_url, TOKEN) as bot:
        assert await bot.get_updates(timeout=0) == []
        waiting = asyncio.create_task(bot.get_updates(timeout=20))
        generation = account.poll_generation
        await tg.wait_for(lambda: account.poll_generation > generation, what="the long poll")
        loop = asyncio.get_running_loop()
        started = loop.time()
        tg.enqueue(account, "message", {"message_id": 1, "date": 0, "chat": alice.info.as_chat(),
                                        "from": alice.info.as_user(), "text": "hi"})
        updates = await waiting
        assert loop.time() - started < 2
        assert [u.message.text for u in updates if u.message] == ["hi"]
        first = updates[0].update_id
        tg.enqueue(account, "message", {"message_id": 2, "date": 0, "chat": alice.info.as_chat(),
                                        "from": alice.info.as_user(), "text": "again"})
        assert [u.update_id for u in await bot.get_updates(offset=first)] == [first, first + 1]
        assert [u.update_id for u in await bot.get_updates(offset=first, limit=1)] == [first]
        assert [u.update_id for u in await bot.get_updates(offset=first + 1)] == [first + 1]
        assert await bot.get_updates(offset=first + 2, timeout=0) == []
        tg.enqueue(account, "inline_query", {"id": "1", "from": alice.info.as_user(),
                                             "query": "", "offset": ""})
        assert await bot.get_updates(offset=first + 2, allowed_updates=["message"]) == []
        assert [u["update_id"] for u in account.dropped] == [first + 2]
        await bot.set_webhook("https://shop.example/telegram")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        assert await bot.delete_webhook()


async def test_two_bots_on_one_server(tg: FakeTelegram) -> None:
    tg.add_bot(OTHER_TOKEN, "chatshop_staff_bot")
    staff_router = Router()

    @staff_router.message()
    async def staff_echo(message: Message) -> None:
        await message.answer(f"staff got: {message.text}")

    customer_dp, staff_dp = Dispatcher(), Dispatcher()
    customer_dp.include_router(sample_router())
    staff_dp.include_router(staff_router)
    customer_bot, staff_bot = make_bot(tg.base_url, TOKEN), make_bot(tg.base_url, OTHER_TOKEN)
    async with polling(customer_dp, customer_bot), polling(staff_dp, staff_bot):
        alice = tg.user(ALICE, "Alice")
        boss = tg.user(2002, "Boss", bot="chatshop_staff_bot")
        customer_reply, staff_reply = await asyncio.gather(alice.send("hello"),
                                                           boss.send("orders?"))
        assert customer_reply.text == "You said: hello"
        assert staff_reply.text == "staff got: orders?"
        assert staff_reply.latest is not None
        assert staff_reply.latest.raw["from"]["username"] == "chatshop_staff_bot"
        assert tg.chat(2002) == [] and tg.chat(2002, bot=OTHER_TOKEN) != []
    async with make_bot(tg.base_url, "999:unknown") as stranger:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{tg.base_url}/bot{TOKEN}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404,
                                         "description": "Not Found"}
        async with http.get(f"{tg.base_url}/bot{TOKEN}/getMe") as resp:
            assert (await resp.json())["result"]["username"] == "chatshop_test_bot"


async def test_commands_per_language_and_scope(tg: FakeTelegram) -> None:
    async with make_bot(tg.base_url, TOKEN) as bot:
        await bot.set_my_commands([BotCommand(command="start", description="Start")])
        await bot.set_my_commands([BotCommand(command="start", description="Démarrer")],
                                  language_code="fr", scope=BotCommandScopeAllPrivateChats())
        with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
            await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])
        french = await bot.get_my_commands(language_code="fr",
                                           scope=BotCommandScopeAllPrivateChats())
        assert [c.description for c in french] == ["Démarrer"]
        assert await bot.get_my_commands(language_code="pl") == []
    assert tg.commands()[0]["description"] == "Start"


async def test_users_who_block_or_never_started_cannot_be_messaged(tg: FakeTelegram,
                                                                   shop_bot: Bot) -> None:
    alice = tg.user(ALICE, "Alice", started=False)
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await shop_bot.send_message(ALICE, "Your order shipped")
    await alice.send("hi")
    await shop_bot.send_message(ALICE, "Your order shipped")
    alice.block()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await shop_bot.send_message(ALICE, "Your order was delivered")


async def test_timeouts_say_what_was_awaited(tg: FakeTelegram, shop_bot: Bot) -> None:
    alice = tg.user(ALICE, "Alice")
    await alice.send("/start")
    with pytest.raises(AssertionError, match=r"the bot to answer 'hi'[\s\S]*Hello, Alice"):
        await alice.send("hi", expect=2, timeout=0.3)
    sticker = await alice.send_sticker()
    assert sticker.messages == []
    said = [m for m in tg.chat(ALICE, include_user=True) if not m.from_bot and m.text][-1]
    edited = await alice.edit_message(said.message_id, "hi again")
    assert edited.dropped and said.text == "hi again"  # the bot has no edited_message handler
    photo = await alice.send_photo(caption="my parcel", expect=0)
    assert photo.messages == []
    assert tg.chat(ALICE, include_user=True)[-1].photo_file_id in tg.files


async def test_webhook_delivery_with_secret_and_reply_in_response(tg: FakeTelegram) -> None:
    router = Router()

    @router.message(F.text == "inline reply")
    async def inline_reply(message: Message) -> SendMessage:
        return message.answer("answered in the webhook response")

    @router.message(F.text)
    async def normal(message: Message) -> None:
        await message.answer(f"webhook got: {message.text}")

    dp = Dispatcher()
    dp.include_router(router)
    async with make_bot(tg.base_url, TOKEN) as bot:
        app = web.Application()
        SimpleRequestHandler(dp, bot, handle_in_background=False,
                             secret_token="s3cret").register(app, path="/tg")
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        try:
            await bot.set_webhook(f"http://{host}:{port}/tg", secret_token="s3cret")
            info = await bot.get_webhook_info()
            assert info.url.endswith("/tg")
            alice = tg.user(ALICE, "Alice")
            assert (await alice.send("hello")).text == "webhook got: hello"
            assert (await alice.send("inline reply")).text == "answered in the webhook response"
            await bot.set_webhook(f"http://{host}:{port}/tg", secret_token="wrong")
            lost = alice.send("not authorised", timeout=0.5)
            with pytest.raises(AssertionError, match="is queued"):
                await lost
        finally:
            await runner.cleanup()
