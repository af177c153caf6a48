"""Helpers to drive the fake Telegram server with real aiogram: a Bot on the fake's URL, a tiny
sample shop bot (echo, in-place edits, Stars and provider invoices, inline mode), polling in a
task, and PNG bytes for uploads.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandStart
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
    ShippingOption,
    ShippingQuery,
)
from aiogram.utils.text_decorations import html_decoration


def make_bot(base_url: str, token: str) -> Bot:
    """A real aiogram Bot whose real HTTP session talks to the fake server at ``base_url``."""
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=text, callback_data=data) for text, data in row]
        for row in rows])


def sample_router() -> Router:
    """A tiny shop bot: echo, a counter button edited in place, invoices, inline mode."""
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        assert message.from_user is not None
        await message.answer(f"Hello, <b>{message.from_user.first_name}</b>!", parse_mode="HTML",
                             reply_markup=keyboard([("Count: 0", "count:0")], [("Same", "same")]))

    @router.callback_query(F.data.startswith("count:"))
    async def count(callback: CallbackQuery) -> None:
        if not isinstance(callback.message, Message) or not callback.data:
            await callback.answer("This button is no longer valid", show_alert=True)
            return
        value = int(callback.data.split(":")[1]) + 1
        await callback.message.edit_text(
            f"Count: {value}", reply_markup=keyboard([(f"Count: {value}", f"count:{value}")],
                                                     [("Same", "same")]))
        await callback.answer("+1")

    @router.callback_query(F.data == "same")
    async def same(callback: CallbackQuery) -> None:
        assert isinstance(callback.message, Message)
        try:
            await callback.message.edit_text(callback.message.text or "",
                                             reply_markup=callback.message.reply_markup)
        except TelegramBadRequest as error:
            assert "message is not modified" in error.message
            await callback.answer("unchanged")
            return
        await callback.answer("changed?!")

    @router.callback_query()
    async def unknown(callback: CallbackQuery) -> None:
        await callback.answer("This button is no longer valid", show_alert=True)

    @router.message(Command("stars"))
    async def stars(message: Message) -> None:
        await message.answer_invoice("Sticker pack", "Digital stickers", "order:42", "XTR",
                                     [LabeledPrice(label="Stickers", amount=50)])

    @router.message(Command("ship"))
    async def ship(message: Message) -> None:
        await message.answer_invoice("T-shirt", "Blue, size M", "order:7", "EUR",
                                     [LabeledPrice(label="T-shirt", amount=1999)],
                                     provider_token="284685063:TEST:fake", is_flexible=True,
                                     need_name=True)

    @router.shipping_query()
    async def shipping(query: ShippingQuery) -> None:
        if query.shipping_address.country_code != "FR":
            await query.answer(ok=False, error_message="We only ship to France")
            return
        await query.answer(ok=True, shipping_options=[
            ShippingOption(id="post", title="La Poste",
                           prices=[LabeledPrice(label="Post", amount=490)]),
            ShippingOption(id="express", title="Express",
                           prices=[LabeledPrice(label="Express", amount=990)])])

    @router.pre_checkout_query()
    async def pre_checkout(query: PreCheckoutQuery) -> None:
        if query.invoice_payload not in ("order:42", "order:7"):
            await query.answer(ok=False, error_message="This order has expired")
            return
        await query.answer(ok=True)

    @router.message(F.successful_payment)
    async def paid(message: Message) -> None:
        payment = message.successful_payment
        assert payment is not None
        await message.answer(f"Paid {payment.total_amount} {payment.currency} "
                             f"for {payment.invoice_payload}")

    @router.inline_query()
    async def inline(query: InlineQuery) -> None:
        await query.answer([InlineQueryResultArticle(
            id=f"p{i}", title=f"{query.query} #{i}",
            input_message_content=InputTextMessageContent(message_text=f"Product {i}"))
            for i in range(3)], cache_time=1, is_personal=True)

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"You said: <b>{html_decoration.quote(message.text or '')}</b>",
                             parse_mode="HTML")

    return router


@asynccontextmanager
async def polling(dp: Dispatcher, *bots: Bot) -> AsyncIterator[None]:
    """Run ``dp`` with long polling for the duration of the block, then stop it cleanly."""
    task = asyncio.create_task(dp.start_polling(*bots, handle_signals=False, polling_timeout=5))
    try:
        yield
    finally:
        await dp.stop_polling()
        await task


def png(width: int, height: int) -> bytes:
    """A valid black RGB PNG of the given size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    raw = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0,
                                                              0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
