"""Structured logs: JSON lines with the update's context, secrets masked, readable text."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiogram import Dispatcher, Router
from aiogram.types import Message

from bot.handlers.instrument import instrument
from shop.logs import configure_logging, current_context, log_context, make_handler
from shop.settings import load_settings
from shop.web.metrics import Metrics
from tests.fakes.telegram_server import FakeTelegram
from tests.support.monitoring import polling

TOKEN = "654321:AAE-fake-logging-bot-token"
BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"  # shaped like a real one
STRIPE_KEY = "sk_live_51HxYzAbCdEfGhIjKlMnOp"
log = logging.getLogger("tests.logs")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """JSON lines of every record at INFO and above, through the production handler."""
    stream = io.StringIO()
    handler = make_handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def records(stream: io.StringIO, logger: str = "tests.logs") -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line["logger"] == logger]


async def test_records_inside_an_update_carry_its_context(captured: io.StringIO) -> None:
    router = Router()

    @router.message()
    async def answer(message: Message) -> None:
        log.info("handling %s", message.text)
        await message.answer("ok")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    instrument(dispatcher, "customer", Metrics())
    async with FakeTelegram() as server:
        server.add_bot(TOKEN, "logging_bot")
        async with polling(server, dispatcher, TOKEN):
            reply = await server.user(4501, "Alice", bot=TOKEN).send("hi")
    log.info("after the update")

    inside, outside = records(captured)
    assert inside["message"] == "handling hi"
    assert inside["level"] == "INFO"
    assert inside["update_id"] == reply.update_id
    assert inside["bot"] == "customer"
    assert inside["user_id"] == 4501
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", inside["time"])
    assert outside["message"] == "after the update"
    assert not {"update_id", "bot", "user_id"} & outside.keys()


def test_secrets_are_redacted_in_messages_arguments_and_tracebacks(
        captured: io.StringIO) -> None:
    log.warning("GET https://api.telegram.org/bot%s/getMe failed", BOT_TOKEN)
    log.warning("stripe key %s, db postgresql://shop:hunter2@db/shop, "
                "header Authorization: Bearer abc.def", STRIPE_KEY)
    try:
        raise RuntimeError(f"refused {STRIPE_KEY}")
    except RuntimeError:
        log.exception("call with bot%s failed", BOT_TOKEN)
    output = captured.getvalue()
    for secret in (BOT_TOKEN, STRIPE_KEY, "hunter2", "abc.def"):
        assert secret not in output
    first, second, third = records(captured)
    assert first["message"] == "GET https://api.telegram.org/bot[redacted]/getMe failed"
    assert "stripe key [redacted]" in second["message"]
    assert "postgresql://[redacted]db/shop" in second["message"]
    assert "RuntimeError: refused [redacted]" in third["exception"]


def test_text_format_is_one_readable_line() -> None:
    stream = io.StringIO()
    handler = make_handler("text", stream)
    log.addHandler(handler)
    try:
        with log_context(update_id=7, bot="staff"):
            log.warning("order #%s confirmed", 1042)
        log.warning("token=%s", BOT_TOKEN)
    finally:
        log.removeHandler(handler)
    first, second = stream.getvalue().splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING tests\.logs: "
                        r"order #1042 confirmed \[update_id=7 bot=staff\]", first)
    assert second.endswith("WARNING tests.logs: [redacted]")


async def test_log_context_nests_and_follows_tasks() -> None:
    with log_context(bot="customer"):
        with log_context(update_id=1, user_id=None):
            assert current_context() == {"bot": "customer", "update_id": 1}

            async def in_task() -> dict[str, object]:
                return dict(current_context())

            assert await asyncio.create_task(in_task()) == {"bot": "customer", "update_id": 1}
        assert current_context() == {"bot": "customer"}
    assert current_context() == {}


def test_configure_logging_follows_the_settings() -> None:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        configure_logging(load_settings(log_format="json", log_level="warning"), stream,
                          worker=2, pid=None)
        assert root.level == logging.WARNING
        log.info("not shown")
        log.warning("shown")
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "shown"
    assert record["worker"] == 2 and "pid" not in record
