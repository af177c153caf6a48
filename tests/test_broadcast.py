"""Broadcasts through the limiter against the fake Bot API with flood control on: every chat
gets an outcome (sent, blocked, failed), none is dropped and Telegram sees no flood."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramMigrateToChat
from aiogram.methods import SendMessage, SendPhoto, TelegramMethod
from aiogram.types import Message

from bot.broadcast import ChatOutcome, Status, broadcast
from bot.telegram_app import make_bot
from bot.telegram_limits import SendLimiter
from bot.telegram_limits.redis_buckets import RedisBuckets
from tests.fakes.telegram_server import FakeTelegram

TOKEN = "123456:AAE-fake-customer-token"
FIRST = 7000


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.add_bot(TOKEN, "chatshop_test_bot")
        server.flood_limits()  # Telegram's: 30/s per bot, 1/s per chat
        yield server


@pytest.fixture(params=["memory", "redis"])
async def bot(request: pytest.FixtureRequest, tg: FakeTelegram) -> AsyncIterator[Bot]:
    if request.param == "memory":
        limiter = SendLimiter.in_process()
    else:
        limiter = SendLimiter(RedisBuckets.from_url(request.getfixturevalue("redis_url")))
    made = make_bot(TOKEN, tg.base_url, limiter)
    yield made
    await made.session.close()
    await limiter.close()


def hello(chat_id: int | str) -> SendMessage:
    return SendMessage(chat_id=chat_id, text=f"Spring sale, <b>{chat_id}</b>!")


async def test_every_chat_gets_an_outcome_and_telegram_sees_no_flood(
        tg: FakeTelegram, bot: Bot) -> None:
    chats = list(range(FIRST, FIRST + 70))
    for chat in chats:
        tg.user(chat, f"C{chat}", started=chat != FIRST + 1)  # FIRST + 1 never opened the chat
    blocked = [FIRST + 2, FIRST + 40]
    for chat in blocked:
        tg.user(chat, f"C{chat}").block()
    gone = 999_999  # no such chat: 400 chat not found
    tg.fail_next("sendMessage", 500, "Internal Server Error", chat_id=FIRST + 3)
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1,
                 chat_id=FIRST + 4)  # waited out, then sent
    finished: list[ChatOutcome] = []

    summary = await broadcast(bot, [*chats, gone, FIRST, FIRST + 5], hello, concurrency=8,
                              on_outcome=finished.append)

    assert list(summary.outcomes) == [*chats, gone]  # every chat, in order, once
    assert summary.duplicates == 2 and len(finished) == len(chats) + 1
    assert summary.chats(Status.BLOCKED) == [FIRST + 1, *blocked]
    assert summary.outcomes[FIRST + 1].error == (
        "Forbidden: bot can't initiate conversation with a user")
    assert summary.chats(Status.FAILED) == [FIRST + 3, gone]
    assert "Internal Server Error" in (summary.outcomes[FIRST + 3].error or "")
    assert "chat not found" in (summary.outcomes[gone].error or "")
    assert summary.counts == {"sent": 66, "blocked": 3, "failed": 2}
    assert str(summary).startswith("71 chats in ")
    for sent in summary.chats(Status.SENT):
        (message,) = tg.chat(int(sent))
        assert summary.outcomes[sent].message_id == message.message_id
        assert message.text == f"Spring sale, {sent}!"
    assert tg.bot().http_429 == 1  # only the injected one: the limiter kept the pace


async def test_messages_may_be_built_per_chat_and_asynchronously(tg: FakeTelegram,
                                                                 bot: Bot) -> None:
    for chat in (FIRST, FIRST + 1):
        tg.user(chat, language_code="fr" if chat == FIRST else "en")

    async def localized(chat_id: int | str) -> TelegramMethod[Any]:
        language = tg.users[int(chat_id)].language_code
        if language == "fr":
            return SendMessage(chat_id=chat_id, text="Soldes de printemps !")
        return SendPhoto(chat_id=chat_id, photo="https://shop.example/sale.png",
                         caption="Spring sale!")

    summary = await broadcast(bot, [FIRST, FIRST + 1], localized)
    assert summary.sent == 2
    assert tg.chat(FIRST)[0].text == "Soldes de printemps !"
    assert tg.chat(FIRST + 1)[0].photo


async def test_a_group_that_became_a_supergroup_gets_it_at_its_new_id() -> None:
    class Migrating:
        """Just enough of a Bot: the old group id answers "migrate to chat"."""

        def __init__(self) -> None:
            self.calls: list[int | str] = []

        async def __call__(self, method: SendMessage) -> Message:
            self.calls.append(method.chat_id)
            if method.chat_id == -100:
                raise TelegramMigrateToChat(method, "Bad Request: group chat was upgraded to "
                                            "a supergroup chat", migrate_to_chat_id=-100777)
            return Message.model_validate({"message_id": 9, "date": 0, "chat": {
                "id": method.chat_id, "type": "supergroup"}, "text": method.text})

    fake = Migrating()
    summary = await broadcast(fake, [-100], hello)  # type: ignore[arg-type]
    assert fake.calls == [-100, -100777]
    assert summary.outcomes[-100] == ChatOutcome(-100, Status.SENT, 9, migrated_to=-100777)


async def test_concurrency_must_be_positive(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await broadcast(bot, [FIRST], hello, concurrency=0)
    assert (await broadcast(bot, [], hello)).counts == {"sent": 0, "blocked": 0, "failed": 0}
