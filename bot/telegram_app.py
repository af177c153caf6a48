"""The customer bot on Telegram: bot and dispatcher built once, notifications from the
shop's events; updates by long polling, or by webhook (see `bot.handlers.webhook`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import BotCommand

from bot.flows.context import Conversation, Deps, ShopInfo
from bot.flows.notifications import TOPICS, notification
from bot.handlers.conversation import TELEGRAM, ConversationMiddleware
from bot.handlers.customer import customer_router
from bot.handlers.in_flight import make_dispatcher
from bot.handlers.inline import inline_router
from bot.handlers.payments import payments_router
from bot.handlers.polling import poll_until
from bot.handlers.render import Renderer
from bot.i18n import LANGUAGES, Translator, pick_language
from bot.telegram_limits import SendLimiter
from bot.telegram_session import make_session
from shop.bootstrap import Shop
from shop.events.delivery import DeliveredEvent

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "callback_query", "inline_query", "shipping_query",
                   "pre_checkout_query"]


def command_list(t: Translator) -> list[BotCommand]:
    """The bot's menu of commands, described in one language."""
    return [BotCommand(command=name, description=text) for name, text in (
        ("start", t("Main menu")), ("cart", t("Your cart")), ("orders", t("Your orders")),
        ("support", t("Write to us")), ("language", t("Change language")),
        ("help", t("How to shop here")), ("terms", t("Terms of sale")),
        ("contact", t("Contact details")))]


def deps_for(shop: Shop) -> Deps:
    settings = shop.settings
    return Deps(shop, ShopInfo(settings.shop_name, settings.shop_terms, settings.shop_contact))


def make_bot(token: str, api_base: str, limiter: SendLimiter | None = None) -> Bot:
    """A bot talking to `api_base` through Chatshop's session (see `make_session`)."""
    return Bot(token, session=make_session(api_base, limiter),
               default=DefaultBotProperties(parse_mode=ParseMode.HTML))


class CustomerBot:
    name = "customer"  # its webhook is /telegram/customer
    allowed_updates = ALLOWED_UPDATES

    def __init__(self, shop: Shop, bot: Bot, storage: BaseStorage | None = None) -> None:
        self.shop = shop
        self.bot = bot
        self.deps = deps_for(shop)
        self.renderer = Renderer(bot)
        self.dispatcher = make_dispatcher(
            storage, chat_lease_s=shop.settings.event_lease_seconds)
        middleware = ConversationMiddleware(self.deps)
        for observer in (self.dispatcher.message, self.dispatcher.callback_query,
                         self.dispatcher.pre_checkout_query, self.dispatcher.shipping_query):
            observer.outer_middleware(middleware)
        self.dispatcher.include_router(payments_router(self.renderer))
        self.dispatcher.include_router(customer_router(self.renderer))
        self.dispatcher.include_router(inline_router(self.deps))
        shop.relay.subscribe("telegram_customer_notifications", self.notify, TOPICS)
        shop.refunds.stars = self.refund_stars

    async def refund_stars(self, user_id: int, charge_id: str) -> None:
        await self.bot.refund_star_payment(user_id, charge_id)

    async def notify(self, event: DeliveredEvent) -> None:
        """Tell a Telegram customer about an event; other channels' customers are skipped."""
        payload: Mapping[str, Any] = event.payload
        customer_id = payload.get("customer_id")
        if not isinstance(customer_id, int):
            return
        customer = await self.shop.customers.get(customer_id)
        if customer.channel != "telegram":
            return
        convo = Conversation(customer.id, pick_language(customer.language), "telegram",
                             capabilities=TELEGRAM)
        screen = await notification(self.deps, convo, event.topic, payload)
        if screen is None:
            return
        try:
            await self.renderer.send(int(customer.external_id), screen)
        except TelegramForbiddenError:
            log.info("customer %s blocked the bot; notification %s not delivered",
                     customer.id, event.id)
        except TelegramBadRequest as error:
            # A message Telegram will never accept: retrying would not help.
            log.warning("notification %s to customer %s refused: %s", event.id, customer.id,
                        error.message)

    async def set_commands(self) -> None:
        for language in LANGUAGES:
            await self.bot.set_my_commands(command_list(Translator(language)),
                                           language_code=None if language == "en" else language)

    async def run_polling(self, stop: asyncio.Event, *, background: bool = True) -> None:
        """Take updates by long polling until `stop` is set. With `background`, the shop's
        events are delivered meanwhile; leave it False when the caller runs them."""
        await self.set_commands()
        companions = [self.shop.run_background(stop)] if background else []
        await poll_until(stop, self.dispatcher, self.bot, ALLOWED_UPDATES, companions)
