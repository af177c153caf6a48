"""Inline mode: `@shopbot blue hoodie` in any chat lists products with a button that opens
the product in the bot."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultUnion,
    InputTextMessageContent,
)

from bot.flows.context import Deps
from bot.flows.search import inline_results
from bot.i18n import pick_language

MAX_DEEP_LINK = 64


def inline_router(deps: Deps) -> Router:
    router = Router(name="inline")

    @router.inline_query()
    async def inline(query: InlineQuery, bot: Bot) -> None:
        language = pick_language(query.from_user.language_code,
                                 deps.shop.settings.default_language)
        items = await inline_results(deps, language, query.query[:200])
        me = await bot.me()
        results: list[InlineQueryResultUnion] = []
        for item in items:
            payload = f"p_{item.handle}"
            markup = None
            if len(payload) <= MAX_DEEP_LINK and me.username:
                markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
                    text="🛍 " + item.title[:60],
                    url=f"https://t.me/{me.username}?start={payload}")]])
            photo = item.photo if item.photo and item.photo.startswith("https://") else None
            results.append(InlineQueryResultArticle(
                id=str(item.product_id), title=item.title, description=item.description,
                input_message_content=InputTextMessageContent(
                    message_text=f"{item.title} — {item.description}"),
                reply_markup=markup, thumbnail_url=photo))
        await query.answer(results, cache_time=30, is_personal=False)

    return router
