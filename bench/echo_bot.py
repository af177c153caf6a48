"""A bare aiogram 3 echo bot in webhook mode: the baseline of ``bench/throughput.py``.

    python bench/echo_bot.py --api-base URL --token TOKEN --base-url URL --secret S
                             [--host 127.0.0.1] [--port 8081] [--background]

Serves ``POST {base-url}/telegram/customer`` with aiogram's ``SimpleRequestHandler`` on aiohttp
(the secret checked in ``X-Telegram-Bot-Api-Secret-Token``), calls ``setWebhook`` on the Bot
API server at start, answers every message with ``sendMessage`` and every button press with
``answerCallbackQuery`` then ``sendMessage``. No database, no state, no rate limiter: what
aiogram itself costs per update. ``--background`` answers Telegram at once and handles the
update afterwards (aiogram's default); without it the webhook answers once the update is
handled, as the worker does. Stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

PATH = "/telegram/customer"


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
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=args.secret,
                         handle_in_background=args.background).register(app, path=PATH)

    async def on_startup(_: web.Application) -> None:
        await bot.set_webhook(args.base_url.rstrip("/") + PATH, secret_token=args.secret,
                              allowed_updates=["message", "callback_query"])

    async def on_shutdown(_: web.Application) -> None:
        await bot.session.close()

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
    args = parser.parse_args()
    # As `chatshop run`: INFO, so aiogram logs one line per handled update here too.
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    web.run_app(make_app(args), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
