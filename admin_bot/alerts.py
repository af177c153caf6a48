"""Staff alerts from the shop's events: new paid orders, return requests, low stock, payment
problems, customers' support messages and the daily summary.

Delivery is durable and per recipient. The relay hands each event to `handle` at least once
(and again later if it raises). For every recipient a receipt is written after Telegram
accepted the message, so a retry skips those already served: a network error, Telegram
failing or the process dying mid-way delivers the rest later and nobody twice (except in
the instant between Telegram's answer and the receipt's commit, which no API can close).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import BufferedInputFile, InputMediaPhoto

from admin_bot.actions.reports import daily_report
from admin_bot.context import AdminDeps, CustomerMedia, Staff
from admin_bot.handlers import support_ref
from admin_bot.screens.common import A
from admin_bot.screens.orders import order_alert
from admin_bot.screens.returns import return_alert
from admin_bot.screens.stock import low_stock_alert
from admin_bot.screens.support import support_alert
from bot.channels.whatsapp.client import whatsapp_configured
from bot.channels.whatsapp.media import WhatsAppMedia
from bot.flows.screens import Button, Row, Screen, Text, bold
from bot.handlers.render import keyboard, to_html
from bot.i18n import Translator
from shop.auth import ROLE_PERMISSIONS, Permission, StaffActor, SystemActor
from shop.db.base import utcnow
from shop.events.consumers import claim_receipt, has_receipt
from shop.events.delivery import DeliveredEvent
from shop.settings import StaffRole

log = logging.getLogger(__name__)
CONSUMER = "staff_alerts"
SYSTEM = SystemActor("staff_alerts")
TOPIC_PERMISSION: dict[str, Permission] = {
    "order.paid": Permission.ORDERS,
    "return.requested": Permission.RETURNS,
    "stock.low": Permission.STOCK,
    "payment.problem": Permission.ORDERS,
    "support.message": Permission.MESSAGES,
    "report.daily": Permission.REPORTS,
    "notification.failed": Permission.MESSAGES,
}
TOPICS = tuple(TOPIC_PERMISSION)
# Older events are not alerted when the staff bot first starts on a shop with a long history
# (a week of silence is an outage someone already noticed); they are logged instead.
MAX_AGE = timedelta(days=7)
MAX_PHOTOS = 10


@dataclass
class Alert:
    """What one recipient gets: a message, maybe the customer's photos or a chart."""

    screen: Screen
    photos: tuple[str, ...] = ()
    png: bytes | None = None
    support_message_id: int | None = None
    channel: str = "telegram"  # whose ids the photos are


class TelegramMedia:
    """Photos Telegram customers sent, through the customer bot that received them."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def fetch(self, file_id: str) -> bytes | None:
        try:
            info = await self._bot.get_file(file_id)
            if info.file_path is None:
                return None
            data = io.BytesIO()
            await self._bot.download_file(info.file_path, data)
        except TelegramBadRequest as error:  # the file is gone: say so, don't retry
            log.warning("customer photo %s could not be fetched: %s", file_id, error.message)
            return None
        return data.getvalue()


def media_fetchers(deps: AdminDeps) -> dict[str, CustomerMedia]:
    """Who fetches each channel's customer photos: the customer bot for Telegram, the Graph
    API for WhatsApp (when configured), or what the deps give."""
    found: dict[str, CustomerMedia] = {}
    if deps.customer_bot is not None:
        found["telegram"] = TelegramMedia(deps.customer_bot)
    if "whatsapp" not in deps.media and whatsapp_configured(deps.shop.settings):
        found["whatsapp"] = WhatsAppMedia(deps.shop.settings)
    return {**found, **deps.media}


Compose = Callable[[Staff], Alert]


class StaffAlerts:
    def __init__(self, deps: AdminDeps, bot: Bot, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._deps = deps
        self._bot = bot
        self._clock = clock
        self._language = deps.shop.settings.default_language
        self._media = media_fetchers(deps)

    async def handle(self, event: DeliveredEvent) -> None:
        permission = TOPIC_PERMISSION.get(event.topic)
        if permission is None:
            return
        if self._clock() - event.created_at > MAX_AGE:
            log.warning("staff alert for event %s (%s) skipped: older than %s", event.id,
                        event.topic, MAX_AGE)
            return
        recipients = await self._recipients(permission)
        if not recipients:
            log.warning("no staff member may see %s alerts; event %s not alerted",
                        event.topic, event.id)
            return
        compose: Compose | None = None
        for chat_id, role in recipients:
            name = f"alert:{chat_id}"
            async with self._deps.shop.sessions() as session:
                if await has_receipt(session, name, event.id):
                    continue
            if compose is None:
                compose = await self._composer(event)
                if compose is None:
                    return
            staff = Staff(StaffActor(chat_id, role), Translator(self._language), chat_id)
            await self._deliver(staff, compose(staff), event)
            async with self._deps.shop.sessions.begin() as session:
                await claim_receipt(session, name, event.id)

    async def _recipients(self, permission: Permission) -> list[tuple[int, StaffRole]]:
        group = self._deps.shop.settings.staff_chat_id
        if group is not None:
            return [(group, StaffRole.OWNER)]  # everyone sees every button; the core decides
        members = await self._deps.shop.staff.members(SYSTEM)
        return [(m.telegram_id, m.role) for m in members
                if permission in ROLE_PERMISSIONS[m.role]]

    async def _composer(self, event: DeliveredEvent) -> Compose | None:
        shop, p = self._deps.shop, event.payload
        if event.topic == "order.paid":
            order = await shop.orders.order(SYSTEM, int(p["order_id"]))
            customer = await shop.customers.get(order.customer_id)
            return lambda staff: Alert(order_alert(staff, order, customer))
        if event.topic == "return.requested":
            ret = await shop.returns.get(SYSTEM, int(p["return_id"]))
            customer = await shop.customers.get(ret.customer_id)
            photos = tuple(ret.photo_ids)
            return lambda staff: Alert(return_alert(staff, ret, customer), photos,
                                       channel=customer.channel)
        if event.topic == "stock.low":
            variant = await shop.catalog.variant(variant_id=int(p["variant_id"]))
            product = await shop.catalog.product(product_id=variant.product_id)
            stock, threshold = int(p["stock"]), int(p["threshold"])
            return lambda staff: Alert(low_stock_alert(staff, product, variant, stock,
                                                       threshold))
        if event.topic == "support.message":
            customer = await shop.customers.get(int(p["customer_id"]))
            photos = tuple(p.get("photo_ids") or ())
            return lambda staff: Alert(support_alert(staff, p), photos,
                                       support_message_id=int(p["message_id"]),
                                       channel=customer.channel)
        if event.topic == "payment.problem":
            return lambda staff: Alert(_payment_problem(staff, p))
        if event.topic == "notification.failed":
            customer = await shop.customers.get(int(p["customer_id"]))
            return lambda staff: Alert(_unreachable(staff, customer.name, p))
        if event.topic == "report.daily":
            # One report for every recipient, built with the system's view of the shop.
            staff = Staff(StaffActor(0, StaffRole.OWNER), Translator(self._language), 0)
            report = await daily_report(self._deps, staff, str(p["day"]))
            return lambda _: Alert(report.screen, png=report.png)
        return None

    async def _deliver(self, staff: Staff, alert: Alert, event: DeliveredEvent) -> None:
        chat_id = staff.chat_id
        try:
            sent = await self._bot.send_message(chat_id, to_html(alert.screen.text)[:4096],
                                                reply_markup=keyboard(alert.screen))
            if alert.support_message_id is not None:
                await self._deps.shop.support.set_message_ref(
                    alert.support_message_id, support_ref(chat_id, sent.message_id))
            if alert.photos:
                await self._send_photos(chat_id, alert.channel, alert.photos[:MAX_PHOTOS],
                                        sent.message_id)
            if alert.png is not None:
                await self._bot.send_photo(chat_id, BufferedInputFile(alert.png, "report.png"))
        except TelegramForbiddenError:
            log.warning("staff chat %s blocked the staff bot or never opened it; alert for "
                        "event %s (%s) not delivered there", chat_id, event.id, event.topic)
        except TelegramBadRequest as error:
            log.warning("staff chat %s refused the alert for event %s (%s): %s", chat_id,
                        event.id, event.topic, error.message)

    async def _send_photos(self, chat_id: int, channel: str, file_ids: tuple[str, ...],
                           reply_to: int) -> None:
        source = self._media.get(channel)
        if source is None:
            return  # the text says how many photos there are
        files = []
        for index, file_id in enumerate(file_ids):
            data = await source.fetch(file_id)
            if data is not None:
                files.append(BufferedInputFile(data, f"photo{index + 1}.jpg"))
        if len(files) == 1:
            await self._bot.send_photo(chat_id, files[0], reply_to_message_id=reply_to)
        elif files:
            await self._bot.send_media_group(
                chat_id, [InputMediaPhoto(media=f) for f in files], reply_to_message_id=reply_to)


def _payment_problem(staff: Staff, payload: dict[str, object]) -> Screen:
    t = staff.t
    problem = str(payload.get("problem") or "")
    text = {
        "unknown_order": t("A payment arrived for an order we do not know."),
        "mismatch": t("A payment did not match its order (amount or currency)."),
        "late_payment_refunded": t("A payment arrived after the order expired and the stock "
                                   "was gone; it was refunded automatically."),
        "extra_payment_refunded": t("An order was paid twice; the second payment was "
                                    "refunded automatically."),
        "refund_failed": t("A refund failed at the payment provider."),
    }.get(problem, problem)
    number = payload.get("number")
    parts: list[Text | str] = [Text.of(bold(t("⚠️ Payment problem"))), text]
    if number:
        parts.append(t("Order #{number}", number=number))
    if payload.get("detail"):
        parts.append(str(payload["detail"])[:500])
    buttons: tuple[Row, ...] = ()
    if payload.get("order_id"):
        buttons = ((Button(t("📋 Open order"), A("o.view", int(str(payload["order_id"])))),),)
    return Screen(Text.lines(*parts), buttons, new_message=True)


def _unreachable(staff: Staff, name: str, payload: dict[str, object]) -> Screen:
    """A customer could not be told something (e.g. WhatsApp refused the message)."""
    t = staff.t
    text = Text.lines(
        Text.of(bold(t("⚠️ A message to {name} could not be delivered", name=name or "?"))),
        t("Channel: {channel} · about: {topic}", channel=str(payload.get("channel") or ""),
          topic=str(payload.get("topic") or "")),
        str(payload.get("reason") or "")[:300])
    return Screen(text, (), new_message=True)
