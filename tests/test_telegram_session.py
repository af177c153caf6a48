"""Chatshop's Bot API session against the fake Bot API over real HTTP: requests go as JSON
bodies (files still as multipart forms) with the bot's defaults applied, the screen methods
answer with the message id and photo file id only, and Telegram's errors still raise aiogram's
typed exceptions (a 429 is waited out and retried)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import EditMessageMedia, SendMessage, SendPhoto
from aiogram.types import (
    BufferedInputFile,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    LinkPreviewOptions,
)

from bot.handlers.screen_methods import (
    EditScreenCaption,
    EditScreenText,
    SendScreen,
    SendScreenPhoto,
    SentMessage,
    edited,
    sent,
)
from bot.telegram_app import make_bot
from bot.telegram_session import JsonSession
from tests.fakes.telegram_server import FakeTelegram

TOKEN = "123456:AAE-fake-customer-token"
CHAT = 4242
KEYBOARD = InlineKeyboardMarkup(inline_keyboard=[
    [InlineKeyboardButton(text="T-shirt", callback_data="prod:1")],
    [InlineKeyboardButton(text="Shop", url="https://example.com/shop"),
     InlineKeyboardButton(text="Cart", callback_data="cart")],
])
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7"
       b"\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.add_bot(TOKEN, "chatshop_test_bot")
        server.user(CHAT, "Ada")
        server.bot().started.add(CHAT)
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    made = make_bot(TOKEN, tg.base_url)
    yield made
    await made.session.close()


def body_of(bot: Bot, method: object) -> dict[str, object] | None:
    session = bot.session
    assert isinstance(session, JsonSession)
    encoded = session.json_body(bot, method)  # type: ignore[arg-type]
    return None if encoded is None else json.loads(encoded)


def test_a_message_is_one_json_object_with_the_bots_defaults_and_no_empty_fields(
        bot: Bot) -> None:
    body = body_of(bot, SendMessage(chat_id=CHAT, text="<b>Hi</b>", reply_markup=KEYBOARD,
                                    message_effect_id=""))
    assert body == {
        "chat_id": CHAT, "text": "<b>Hi</b>", "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [
            [{"text": "T-shirt", "callback_data": "prod:1"}],
            [{"text": "Shop", "url": "https://example.com/shop"},
             {"text": "Cart", "callback_data": "cart"}]]},
    }


def test_nested_defaults_are_applied_the_way_aiogram_applies_them(bot: Bot) -> None:
    body = body_of(bot, EditMessageMedia(
        chat_id=CHAT, message_id=3, media=InputMediaPhoto(media="photo-file-id", caption="x")))
    assert body == {"chat_id": CHAT, "message_id": 3, "media": {
        "type": "photo", "media": "photo-file-id", "caption": "x", "parse_mode": "HTML"}}
    body = body_of(bot, SendMessage(chat_id=CHAT, text="see",
                                    link_preview_options=LinkPreviewOptions(is_disabled=True)))
    assert body == {"chat_id": CHAT, "text": "see", "parse_mode": "HTML",
                    "link_preview_options": {"is_disabled": True}}


def test_a_file_to_upload_is_left_to_a_multipart_form(bot: Bot, tmp_path: Path) -> None:
    image = tmp_path / "tee.png"
    image.write_bytes(PNG)
    assert body_of(bot, SendPhoto(chat_id=CHAT, photo=FSInputFile(image))) is None
    assert body_of(bot, EditMessageMedia(chat_id=CHAT, message_id=1, media=InputMediaPhoto(
        media=BufferedInputFile(PNG, "tee.png")))) is None


async def test_requests_arrive_as_json_and_uploads_as_multipart(
        tg: FakeTelegram, bot: Bot) -> None:
    shown = await sent(bot, SendScreen(chat_id=CHAT, text="<b>Results</b>",
                                       reply_markup=KEYBOARD))
    photo = await sent(bot, SendScreenPhoto(chat_id=CHAT, photo=BufferedInputFile(
        PNG, "tee.png"), caption="<i>Tee</i>", reply_markup=KEYBOARD))

    calls = [call for call in tg.requests if call.key in {"sendmessage", "sendphoto"}]
    assert [(call.key, call.body) for call in calls] == [
        ("sendmessage", "json"), ("sendphoto", "multipart")]
    messages = tg.bot().chat_messages(CHAT)
    assert messages[shown.message_id].text == "Results"
    assert messages[shown.message_id].raw["entities"][0]["type"] == "bold"
    assert [[b.callback_data or b.url for b in row]
            for row in messages[shown.message_id].keyboard] == [
                ["prod:1"], ["https://example.com/shop", "cart"]]
    assert messages[photo.message_id].caption == "Tee"


async def test_screen_methods_answer_with_the_id_and_the_largest_photos_file_id(
        tg: FakeTelegram, bot: Bot) -> None:
    text = await sent(bot, SendScreen(chat_id=CHAT, text="hello"))
    assert isinstance(text, SentMessage) and text.photo_file_id is None
    assert tg.bot().chat_messages(CHAT)[text.message_id].text == "hello"

    photo = await sent(bot, SendScreenPhoto(chat_id=CHAT, photo=BufferedInputFile(
        PNG, "tee.png"), caption="tee"))
    stored = tg.bot().chat_messages(CHAT)[photo.message_id]
    assert photo.photo_file_id is not None
    assert photo.photo_file_id == stored.raw["photo"][-1]["file_id"]

    again = await sent(bot, SendScreenPhoto(chat_id=CHAT, photo=photo.photo_file_id))
    assert again.photo_file_id == photo.photo_file_id
    assert [c.body for c in tg.requests if c.key == "sendphoto"][-1] == "json"

    after = await edited(bot, EditScreenCaption(chat_id=CHAT, message_id=photo.message_id,
                                                caption="<b>new</b>", reply_markup=KEYBOARD))
    assert isinstance(after, SentMessage) and after.message_id == photo.message_id
    assert tg.bot().chat_messages(CHAT)[photo.message_id].caption == "new"


async def test_telegrams_errors_still_raise_and_429s_are_waited_out(
        tg: FakeTelegram, bot: Bot) -> None:
    first = await sent(bot, SendScreen(chat_id=CHAT, text="one"))
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await edited(bot, EditScreenText(chat_id=CHAT, message_id=first.message_id,
                                         text="one"))
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await edited(bot, EditScreenText(chat_id=CHAT, message_id=9999, text="two"))

    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    second = await sent(bot, SendScreen(chat_id=CHAT, text="after the wait"))
    assert tg.bot().chat_messages(CHAT)[second.message_id].text == "after the wait"
    assert [c.status for c in tg.requests if c.key == "sendmessage"][-2:] == [429, 200]
