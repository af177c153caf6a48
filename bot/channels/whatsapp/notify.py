"""What the shop tells WhatsApp customers unprompted, within WhatsApp's 24-hour rule.

The same notification screens as Telegram (order confirmed, shipped with tracking, delivered,
returns, refunds, support answers) plus the receipt of an order paid on a payment page (a
Stripe Checkout link, or the test provider's signed page).
While the customer wrote in the last 24 hours they go out as free-form messages; outside that
window as the approved utility template (WHATSAPP_TEMPLATE_ORDER_UPDATE, in the customer's
language from WHATSAPP_TEMPLATE_LANGUAGES) with the order number and the text on one line.

A free-form message can be accepted and still fail later with 131047 (the window had closed):
its status notification makes us send the template instead, once. Transient failures are
raised so the event relay retries them; anything a retry cannot fix is reported to staff as a
`notification.failed` event: a notification is never silently dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pywa.types.templates import TemplateLanguage

from bot.channels.whatsapp.render import CAPABILITIES, choices_to_json, render_reply
from bot.channels.whatsapp.sender import SendFailed
from bot.flows.context import Conversation
from bot.flows.notifications import SYSTEM, notification
from bot.flows.notifications import TOPICS as SCREEN_TOPICS
from bot.flows.payment import receipt_screen
from bot.flows.screens import Screen
from bot.i18n import pick_language
from shop.events.delivery import DeliveredEvent
from shop.events.outbox import event_payload
from shop.events.relay_port import EventRelay
from shop.messaging.inbox import Stored
from shop.settings import Settings

if TYPE_CHECKING:
    from bot.channels.whatsapp.channel import WhatsAppChannel

log = logging.getLogger(__name__)
TOPICS = (*SCREEN_TOPICS, "order.paid")
CONSUMER = "whatsapp_customer_notifications"
RE_ENGAGEMENT = 131047
# Worth another try later: network, throughput, Meta's own trouble, an expired token (fixed
# by the owner). Anything else is final and goes to staff.
RETRY_CODES = frozenset({None, 4, 80007, 130429, 131056, 131000, 131016, 190})
PARAM_MAX = 900


class NotificationRetry(Exception):
    """Raised to the relay so it delivers the event again later."""


@dataclass(frozen=True, slots=True)
class TemplateConfig:
    name: str | None
    languages: dict[str, str] = field(default_factory=dict)  # our language → template's

    @classmethod
    def from_settings(cls, settings: Settings) -> TemplateConfig:
        known = {member.value for member in TemplateLanguage}
        languages: dict[str, str] = {}
        for item in (settings.whatsapp_template_languages or "").split(","):
            ours, _, theirs = item.strip().partition(":")
            if not ours:
                continue
            if theirs.strip() not in known:
                raise ValueError(f"WHATSAPP_TEMPLATE_LANGUAGES: {theirs.strip()!r} is not a "
                                 "WhatsApp template language (e.g. en_US, fr, pl)")
            languages[ours.strip().lower()] = theirs.strip()
        return cls(settings.whatsapp_template_order_update or None, languages)

    def language_for(self, language: str) -> str:
        return self.languages.get(language) or self.languages.get("en") or "en_US"


def one_line(text: str) -> str:
    """Template parameters may not hold new lines, tabs or long runs of spaces."""
    flat = " ".join(text.replace("•", " ").split())
    return flat if len(flat) <= PARAM_MAX else flat[: PARAM_MAX - 1].rsplit(" ", 1)[0] + "…"


class Notifier:
    def __init__(self, channel: WhatsAppChannel, templates: TemplateConfig) -> None:
        self.channel = channel
        self.templates = templates

    def subscribe(self, relay: EventRelay) -> None:
        relay.subscribe(CONSUMER, self.notify, TOPICS)

    async def screen(self, convo: Conversation, topic: str,
                     payload: Mapping[str, Any]) -> Screen | None:
        deps = self.channel.deps
        if topic == "order.paid":
            # Every payment of a WhatsApp customer happens on a web page (Stripe Checkout or
            # the test provider's page), never in the chat: the receipt is this message.
            order = await deps.shop.orders.order(SYSTEM, int(payload["order_id"]))
            return receipt_screen(convo, order)
        return await notification(deps, convo, topic, payload)

    async def notify(self, event: DeliveredEvent) -> None:
        """The relay's handler: tell a WhatsApp customer; other channels' are skipped."""
        customer_id = event.payload.get("customer_id")
        if not isinstance(customer_id, int):
            return
        shop = self.channel.shop
        customer = await shop.customers.get(customer_id)
        if customer.channel != "whatsapp":
            return
        if await self.channel.outbound.for_event(event.id, customer.id) is not None:
            return  # sent before a crash or a lost lease
        convo = Conversation(customer.id, pick_language(customer.language), "whatsapp",
                             capabilities=CAPABILITIES)
        screen = await self.screen(convo, event.topic, event.payload)
        if screen is None:
            return
        contact = await self.channel.contacts.get(customer.id)
        bsuid = contact.bsuid if contact else customer.external_id
        async with self.channel.lock(bsuid):
            if contact is not None and contact.window_open(shop.clock()):
                await self._free_form(bsuid, convo, event, screen)
            else:
                await self._template(bsuid, convo, event.id, event.topic, event.payload, screen)

    async def _free_form(self, bsuid: str, convo: Conversation, event: DeliveredEvent,
                         screen: Screen) -> None:
        rendered = render_reply((screen,), convo.language)
        try:
            for message in rendered.messages:
                await self.channel.sender.send(bsuid, convo.customer_id, message,
                                               event_id=event.id, topic=event.topic)
        except SendFailed as failure:
            await self._failed(convo.customer_id, event.id, event.topic, failure)
            return
        contact = await self.channel.contacts.get(convo.customer_id)
        if contact is not None and rendered.choices:
            await self.channel.contacts.save(convo.customer_id, contact.state,
                                             choices_to_json(rendered))

    async def _template(self, bsuid: str, convo: Conversation, event_id: int, topic: str,
                        payload: Mapping[str, Any], screen: Screen) -> str | None:
        name = self.templates.name
        if not name:
            await self.channel.outbound.report(
                convo.customer_id, topic=topic, event_id=event_id, code=None,
                reason="outside the 24-hour window and WHATSAPP_TEMPLATE_ORDER_UPDATE is not "
                       "set")
            return None
        number = payload.get("number")
        params = [f"#{number}" if number is not None else "—", one_line(screen.text.plain)]
        try:
            return await self.channel.sender.send_template(
                bsuid, convo.customer_id, name, self.templates.language_for(convo.language),
                params, event_id=event_id, topic=topic)
        except SendFailed as failure:
            await self._failed(convo.customer_id, event_id, topic, failure)
            return None

    async def _failed(self, customer_id: int, event_id: int, topic: str,
                      failure: SendFailed) -> None:
        if failure.code in RETRY_CODES:
            raise NotificationRetry(f"WhatsApp send failed with code {failure.code}")
        await self.channel.outbound.report(customer_id, topic=topic, event_id=event_id,
                                           code=failure.code, reason=str(failure))

    # -- statuses -------------------------------------------------------------------------
    async def on_status(self, row: Stored) -> None:
        """A status of one of our messages; a failed notification is re-sent or reported."""
        value = row.payload["entry"][0]["changes"][0]["value"]
        status = value["statuses"][0]
        errors = status.get("errors") or value.get("errors") or []
        code = errors[0].get("code") if errors and isinstance(errors[0], dict) else None
        code = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
        outbound = await self.channel.outbound.status(row.wamid, row.status, code)
        if outbound is None or row.status != "failed":
            return
        title = errors[0].get("title") if errors and isinstance(errors[0], dict) else None
        log.warning("WhatsApp message %s to customer %s failed: code %s %s", row.wamid,
                    outbound.customer_id, code, title or "")
        if outbound.event_id is None or outbound.topic is None:
            return  # a reply in a conversation: the customer is talking to us right now
        if (code == RE_ENGAGEMENT and outbound.kind == "message"
                and await self.channel.outbound.claim_fallback(row.wamid)):
            sent = await self._resend_as_template(outbound.customer_id, outbound.event_id,
                                                  outbound.topic)
            await self.channel.outbound.fallback_sent(row.wamid, sent)
            return
        if outbound.kind == "template" or code != RE_ENGAGEMENT:
            await self.channel.outbound.report(
                outbound.customer_id, topic=outbound.topic, event_id=outbound.event_id,
                code=code, reason=str(title or "delivery failed"))

    async def _resend_as_template(self, customer_id: int, event_id: int,
                                  topic: str) -> str | None:
        shop = self.channel.shop
        payload = await event_payload(shop.sessions, event_id)
        customer = await shop.customers.get(customer_id)
        contact = await self.channel.contacts.get(customer_id)
        if payload is None or contact is None:
            return None
        convo = Conversation(customer.id, pick_language(customer.language), "whatsapp",
                             capabilities=CAPABILITIES)
        screen = await self.screen(convo, topic, payload)
        if screen is None:
            return None
        try:
            return await self._template(contact.bsuid, convo, event_id, topic, payload, screen)
        except NotificationRetry:
            await self.channel.outbound.report(customer_id, topic=topic, event_id=event_id,
                                               code=None, reason="template re-send failed")
            return None
