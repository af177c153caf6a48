"""Screens to Telegram: HTML text, inline keyboards, photos, invoices; edit in place when
the customer pressed a button on the message, else send."""

from __future__ import annotations

import html
import logging
from collections import OrderedDict
from pathlib import Path

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    LabeledPrice,
    Message,
)

from bot.flows.screens import Row, Screen, Text
from bot.handlers.screen_methods import (
    EditScreenCaption,
    EditScreenMedia,
    EditScreenText,
    SendScreen,
    SendScreenPhoto,
    SentMessage,
    edited,
    sent,
)
from shop.media import resolve_image

log = logging.getLogger(__name__)
CAPTION_MAX = 1024
TEXT_MAX = 4096


def to_html(text: Text) -> str:
    parts = []
    for span in text.spans:
        piece = html.escape(span.text, quote=False)
        if span.style == "bold":
            piece = f"<b>{piece}</b>"
        elif span.style == "italic":
            piece = f"<i>{piece}</i>"
        if span.url:
            piece = f'<a href="{html.escape(span.url)}">{piece}</a>'
        parts.append(piece)
    return "".join(parts) or "…"


def keyboard(screen: Screen) -> InlineKeyboardMarkup | None:
    return _KEYBOARDS.markup(screen.buttons) if screen.buttons else None


class KeyboardCache:
    """Each distinct keyboard built once: customers see the same ones again and again (a
    product's options, a page of results), and building one is a pydantic model per button.
    aiogram only reads a markup to send it, so one instance serves every call.

    Bounded by buttons held, not keyboards: every object kept here is scanned by each full
    garbage collection, and with a bound of 4,096 keyboards, customers' big cart keyboards
    filled it with 250,000 objects and full collections paused the worker for 400 ms.
    """

    def __init__(self, max_buttons: int = 2_000, largest: int = 32) -> None:
        self._max_buttons = max_buttons
        self._largest = largest  # bigger keyboards are somebody's own cart: not kept
        self._held = 0
        self._markups: OrderedDict[tuple[Row, ...], tuple[InlineKeyboardMarkup, int]] = (
            OrderedDict())

    @property
    def buttons_held(self) -> int:
        return self._held

    def markup(self, buttons: tuple[Row, ...]) -> InlineKeyboardMarkup:
        cached = self._markups.get(buttons)
        if cached is not None:
            self._markups.move_to_end(buttons)
            return cached[0]
        built = _build(buttons)
        size = sum(len(row) for row in buttons)
        if size <= self._largest:
            self._markups[buttons] = (built, size)
            self._held += size
            while self._held > self._max_buttons:
                _, (_, dropped) = self._markups.popitem(last=False)
                self._held -= dropped
        return built


def _build(buttons: tuple[Row, ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=b.label, url=b.url) if b.url else
         InlineKeyboardButton(text=b.label, callback_data=b.action.encode() if b.action else "")
         for b in row]
        for row in buttons
    ])


_KEYBOARDS = KeyboardCache()


def _not_modified(error: TelegramBadRequest) -> bool:
    return "message is not modified" in error.message


class Renderer:
    """Sends screens for one bot; remembers uploaded photos' file ids to send them again."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._file_ids: dict[Path, str] = {}

    def _photo(self, reference: str) -> str | FSInputFile | None:
        resolved = resolve_image(reference)
        if isinstance(resolved, Path):
            return self._file_ids.get(resolved) or FSInputFile(resolved)
        return resolved

    def _remember(self, reference: str, message: SentMessage | bool) -> None:
        resolved = resolve_image(reference)
        if (isinstance(resolved, Path) and isinstance(message, SentMessage)
                and message.photo_file_id):
            self._file_ids[resolved] = message.photo_file_id

    async def show(self, chat_id: int, screens: tuple[Screen, ...],
                   pressed: Message | None = None) -> None:
        """Show the screens in order; the first replaces `pressed` when it can."""
        for index, screen in enumerate(screens):
            if index == 0 and pressed is not None and not screen.new_message and (
                    screen.invoice is None and await self._edit(pressed, screen)):
                continue
            await self.send(chat_id, screen)

    async def send(self, chat_id: int, screen: Screen) -> None:
        body = to_html(screen.text)
        markup = keyboard(screen)
        if screen.invoice is not None:
            # An invoice's own keyboard must start with Telegram's Pay button, so the
            # screen's buttons go with its text, just before the invoice.
            if screen.text.plain.strip() or markup:
                await sent(self.bot, SendScreen(chat_id=chat_id, text=body[:TEXT_MAX],
                                                reply_markup=markup))
            await self._invoice(chat_id, screen)
            return
        photo = self._photo(screen.photo) if screen.photo else None
        if photo is not None and screen.photo is not None:
            if len(body) <= CAPTION_MAX:
                self._remember(screen.photo, await sent(self.bot, SendScreenPhoto(
                    chat_id=chat_id, photo=photo, caption=body, reply_markup=markup)))
                return
            self._remember(screen.photo, await sent(
                self.bot, SendScreenPhoto(chat_id=chat_id, photo=photo)))
        await sent(self.bot, SendScreen(chat_id=chat_id, text=body[:TEXT_MAX],
                                        reply_markup=markup))

    async def _edit(self, message: Message, screen: Screen) -> bool:
        """Replace the message in place; False when Telegram cannot (then send anew)."""
        body = to_html(screen.text)
        markup = keyboard(screen)
        photo = self._photo(screen.photo) if screen.photo else None
        try:
            where = {"chat_id": message.chat.id, "message_id": message.message_id,
                     "business_connection_id": message.business_connection_id}
            if message.photo and photo is not None and len(body) <= CAPTION_MAX:
                if self._same_photo(message, screen):
                    await edited(self.bot, EditScreenCaption(
                        **where, caption=body, reply_markup=markup))
                else:
                    now = await edited(self.bot, EditScreenMedia(
                        **where, media=InputMediaPhoto(media=photo, caption=body),
                        reply_markup=markup))
                    if screen.photo:
                        self._remember(screen.photo, now)
                return True
            if not message.photo and photo is None and len(body) <= TEXT_MAX:
                await edited(self.bot, EditScreenText(**where, text=body, reply_markup=markup))
                return True
        except TelegramBadRequest as error:
            if _not_modified(error):
                return True
            log.info("could not edit message %s: %s", message.message_id, error.message)
            return False
        # A text message cannot become a photo (or back): replace it.
        try:
            await message.delete()
        except TelegramBadRequest as error:
            log.info("could not delete message %s: %s", message.message_id, error.message)
        return False

    def _same_photo(self, message: Message, screen: Screen) -> bool:
        resolved = resolve_image(screen.photo) if screen.photo else None
        known = self._file_ids.get(resolved) if isinstance(resolved, Path) else None
        return bool(message.photo) and known is not None and any(
            size.file_id == known for size in message.photo or ())

    async def _invoice(self, chat_id: int, screen: Screen) -> None:
        invoice = screen.invoice
        assert invoice is not None
        await self.bot.send_invoice(
            chat_id, title=invoice.title, description=invoice.description,
            payload=invoice.payload, currency=invoice.currency,
            prices=[LabeledPrice(label=p.label, amount=p.amount) for p in invoice.prices],
            provider_token=invoice.provider_token or "",
            need_shipping_address=invoice.need_shipping_address or None,
            is_flexible=invoice.is_flexible or None,
        )
