"""The staff bot on Telegram: dispatcher and handlers, durable alerts from the shop's events,
the daily summary schedule; updates by long polling, or by webhook (see
`bot.handlers.webhook`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from aiogram import Bot
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import BotCommand

from admin_bot.access import StaffMiddleware

# Importing the use-case modules registers their commands, actions and prompt answers.
from admin_bot.actions import orders, reports, returns, staff, stock, support  # noqa: F401
from admin_bot.alerts import CONSUMER, TOPICS, StaffAlerts
from admin_bot.context import AdminDeps
from admin_bot.handlers import staff_router
from admin_bot.refusals import make_refusals
from bot.handlers.in_flight import make_dispatcher
from bot.handlers.polling import poll_until
from bot.handlers.render import Renderer
from bot.i18n import LANGUAGES, Translator
from shop.bootstrap import Shop
from shop.db.base import utcnow
from shop.reports.daily import publish_daily_report

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "callback_query"]
SCHEDULE_EVERY_S = 60.0


def command_list(t: Translator) -> list[BotCommand]:
    return [BotCommand(command=name, description=text) for name, text in (
        ("start", t("Menu")), ("orders", t("Orders to confirm, to ship, recent")),
        ("returns", t("Returns to handle")), ("support", t("Conversations with customers")),
        ("stock", t("Find a product and change its stock")),
        ("lowstock", t("What is running out")), ("report", t("Sales report with a chart")),
        ("staff", t("Staff and roles (owners)")), ("cancel", t("Stop what you were typing")))]


class AdminBot:
    name = "staff"  # its webhook is /telegram/staff
    allowed_updates = ALLOWED_UPDATES

    def __init__(self, shop: Shop, bot: Bot, *, customer_bot: Bot | None = None,
                 storage: BaseStorage | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.shop = shop
        self.bot = bot
        self.deps = AdminDeps(shop, customer_bot)
        self.clock = clock
        self.dispatcher = make_dispatcher(
            storage, chat_lease_s=shop.settings.event_lease_seconds)
        middleware = StaffMiddleware(self.deps, make_refusals(storage))
        self.dispatcher.message.outer_middleware(middleware)
        self.dispatcher.callback_query.outer_middleware(middleware)
        self.dispatcher.include_router(staff_router(Renderer(bot)))
        self.alerts = StaffAlerts(self.deps, bot, clock=clock)
        shop.relay.subscribe(CONSUMER, self.alerts.handle, TOPICS)

    async def set_commands(self) -> None:
        for language in LANGUAGES:
            await self.bot.set_my_commands(command_list(Translator(language)),
                                           language_code=None if language == "en" else language)

    async def schedule_reports(self, stop: asyncio.Event) -> None:
        """Publish the daily summary event once a day at DAILY_REPORT_HOUR."""
        hour = self.shop.settings.daily_report_hour
        if hour is None:
            return
        while not stop.is_set():
            if await publish_daily_report(self.shop.sessions, now=self.clock(), hour=hour,
                                          timezone=self.shop.settings.shop_timezone):
                self.shop.relay.wake()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SCHEDULE_EVERY_S)

    async def run_polling(self, stop: asyncio.Event, *, background: bool = True) -> None:
        """Take updates until `stop` is set. With `background`, also run the shop's event
        relay (alerts) and sweeper; leave it False when the customer bot already runs them
        in this process."""
        await self.set_commands()
        companions = [self.schedule_reports(stop)]
        if background:
            companions.append(self.shop.run_background(stop))
        await poll_until(stop, self.dispatcher, self.bot, ALLOWED_UPDATES, companions)
