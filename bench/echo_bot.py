"""A bare aiogram 3 echo bot in webhook mode: the baseline of ``bench/throughput.py``.

    python bench/echo_bot.py --api-base URL --token TOKEN --base-url URL --secret S
                             [--host 127.0.0.1] [--port 8081] [--background]
                             [--database-url URL]

Serves ``POST {base-url}/telegram/customer`` with aiogram's ``SimpleRequestHandler`` on aiohttp
(the secret checked in ``X-Telegram-Bot-Api-Secret-Token``), calls ``setWebhook`` on the Bot
API server at start, answers every message with ``sendMessage`` and every button press with
``answerCallbackQuery`` then ``sendMessage``. No database, no state, no rate limiter: what
aiogram itself costs per update. ``--background`` answers Telegram at once and handles the
update afterwards (aiogram's default); without it the webhook answers once the update is
handled, as the worker does. ``--database-url`` (SQLite, through Chatshop's engine and
driver) makes each update also read and write one row, the customer's counter, in one
transaction: the least any database-backed bot does, a calibration for the ratio's target.
Stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.db.engine import create_engine, session_factory

PATH = "/telegram/customer"
SEEN = Table("echo_seen", MetaData(), Column("user_id", Integer, primary_key=True),
             Column("updates", Integer, nullable=False))
Handler = Callable[[Any, dict[str, Any]], Awaitable[Any]]


def count_update(sessions: async_sessionmaker[AsyncSession]) -> Callable[..., Awaitable[Any]]:
    """An outer middleware: one transaction per update reading and writing one row."""
    async def middleware(handler: Handler, event: Any, data: dict[str, Any]) -> Any:
        user = data.get("event_from_user")
        if user is not None:
            async with sessions.begin() as session:
                seen = await session.scalar(select(SEEN.c.updates)
                                            .where(SEEN.c.user_id == user.id))
                if seen is None:
                    await session.execute(insert(SEEN).values(user_id=user.id, updates=1))
                else:
                    await session.execute(update(SEEN).where(SEEN.c.user_id == user.id)
                                          .values(updates=seen + 1))
        return await handler(event, data)
    return middleware


def echo_router() -> Router:
    router = Router(name="echo")

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "…")

    @router.callback_query()
    async def pressed(query: CallbackQuery, bot: Bot) -> None:
        await query.answer()
        await bot.send_message(query.from_user.id, f"pressed {query.data or ''}")

    return router


def make_app(args: argparse.Namespace) -> web.Application:
    bot = Bot(args.token, session=AiohttpSession(api=TelegramAPIServer.from_base(args.api_base)))
    dispatcher = Dispatcher()
    dispatcher.include_router(echo_router())
    engine = create_engine(args.database_url) if args.database_url else None
    if engine is not None:
        dispatcher.update.outer_middleware(count_update(session_factory(engine)))
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=args.secret,
                         handle_in_background=args.background).register(app, path=PATH)

    async def on_startup(_: web.Application) -> None:
        if engine is not None:
            async with engine.begin() as connection:
                await connection.run_sync(SEEN.metadata.create_all)
        await bot.set_webhook(args.base_url.rstrip("/") + PATH, secret_token=args.secret,
                              allowed_updates=["message", "callback_query"])

    async def on_shutdown(_: web.Application) -> None:
        await bot.session.close()
        if engine is not None:
            await engine.dispose()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api-base", required=True, help="Bot API server base URL")
    parser.add_argument("--token", required=True)
    parser.add_argument("--base-url", required=True, help="public base URL of this server")
    parser.add_argument("--secret", required=True, help="webhook secret token")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--background", action="store_true",
                        help="answer the webhook at once and handle the update afterwards")
    parser.add_argument("--database-url", default=None,
                        help="read and write one row per update in this database")
    args = parser.parse_args()
    # As `chatshop run`: INFO, so aiogram logs one line per handled update here too.
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    web.run_app(make_app(args), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
