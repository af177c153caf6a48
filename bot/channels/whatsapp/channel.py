"""The WhatsApp channel: webhook updates in, the same flows as Telegram, screens out.

A notification is verified and split by the webhook route, each update stored once in the
inbox and answered at once; the updates are then handled in the background (worker.py), one
at a time and in order per customer (a lease in the inbox across workers, a lock on the BSUID
within one), a message through pywa's own `webhook_update_handler` (so its
typed Message / CallbackButton / CallbackSelection reach our handlers), a status by the
notifier. Conversation state and the latest numbered choices live in `whatsapp_contacts`, so
any worker, and a restart, continues the same conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from pywa.handlers import CallbackButtonHandler, CallbackSelectionHandler, MessageHandler
from pywa.types.callback import CallbackButton, CallbackSelection
from pywa.types.message import Message as WaMessage
from pywa_async.client import WhatsApp

from bot.channels.pay_page import TestPaymentPages
from bot.channels.whatsapp.catalog import CatalogMessages
from bot.channels.whatsapp.inbound import (
    GREETINGS,
    CatalogOrder,
    More,
    Number,
    Received,
    Unsupported,
    from_callback,
    from_message,
)
from bot.channels.whatsapp.limits import BUTTON_TITLE_MAX, shorten
from bot.channels.whatsapp.notify import Notifier, TemplateConfig
from bot.channels.whatsapp.outgoing import LinkOut, TextOut
from bot.channels.whatsapp.render import (
    CAPABILITIES,
    Rendered,
    choices_from_json,
    choices_to_json,
    render_more,
    render_reply,
)
from bot.channels.whatsapp.sender import BACKOFF_S, Sender, SendFailed
from bot.channels.whatsapp.webhook import add_whatsapp_routes
from bot.channels.whatsapp.worker import InboxWorker
from bot.flows import respond
from bot.flows.actions import decode
from bot.flows.context import Conversation, Deps, ShopInfo
from bot.flows.inputs import Command, Input, Message, Press
from bot.flows.screens import Reply
from bot.i18n import pick_language
from shop.bootstrap import Shop
from shop.messaging.contacts import WhatsAppContacts
from shop.messaging.inbox import Stored, WhatsAppInbox
from shop.messaging.outbound import WhatsAppOutboundLog

log = logging.getLogger(__name__)
# A BSUID starts with the customer's country (`FR.1349…`): a first guess at their language.
COUNTRY_LANGUAGES = {"FR": "fr", "MC": "fr", "PL": "pl"}
NAME_MAX = 200
# pywa logs and swallows what a handler raises: the failure is kept here for _process to see.
_FAILED: contextvars.ContextVar[list[BaseException] | None] = contextvars.ContextVar(
    "whatsapp_update_failures", default=None)


@dataclass(frozen=True, slots=True)
class Who:
    bsuid: str
    wa_id: str | None
    name: str
    username: str | None


class WhatsAppChannel:
    def __init__(self, shop: Shop, client: WhatsApp, *, templates: TemplateConfig | None = None,
                 catalog_id: str | None = None,
                 send_backoff: Sequence[float] = BACKOFF_S) -> None:
        settings = shop.settings
        self.shop = shop
        self.client = client
        self.deps = Deps(shop, ShopInfo(settings.shop_name, settings.shop_terms,
                                        settings.shop_contact))
        self.contacts = WhatsAppContacts(shop.sessions, clock=shop.clock)
        self.inbox = WhatsAppInbox(shop.sessions, clock=shop.clock)
        self.outbound = WhatsAppOutboundLog(shop.sessions, notify=shop.relay.wake,
                                            clock=shop.clock)
        self.sender = Sender(client, self.outbound, backoff=send_backoff)
        self.catalog = CatalogMessages(self.deps, catalog_id or settings.whatsapp_catalog_id)
        self.notifier = Notifier(self, templates or TemplateConfig.from_settings(settings))
        self.worker = InboxWorker(self.inbox, self._process)
        client.add_handlers(MessageHandler(self._on_message),
                            CallbackButtonHandler(self._on_callback),
                            CallbackSelectionHandler(self._on_callback))
        self.notifier.subscribe(shop.relay)

    # -- the webhook side -----------------------------------------------------------------
    def mount(self, app: web.Application) -> None:
        """Add the webhook routes to our HTTP server, and with no Stripe the test provider's
        payment page the payment step links to."""
        add_whatsapp_routes(app, self)
        if self.shop.stripe is None:
            TestPaymentPages(self.shop).mount(app)

    def lock(self, key: str) -> asyncio.Lock:
        """The lock on one customer in this process (replies and notifications in turn)."""
        return self.worker.lock(key)

    def schedule(self, rows: list[Stored]) -> None:
        """Handle stored updates in the background, in order for each customer (see
        worker.py: leases let several workers share the database)."""
        self.worker.schedule(rows)

    async def _process(self, row: Stored) -> None:
        """Handle one stored update; raises what went wrong (the worker retries it)."""
        failures: list[BaseException] = []
        _FAILED.set(failures)
        if row.status:
            await self.notifier.on_status(row)
        else:
            await self.client.webhook_update_handler(json.dumps(row.payload).encode())
        if failures:
            raise failures[0]

    async def resume(self) -> None:
        """Handle what was stored but not handled before a stop (and nobody holds)."""
        await self.worker.resume()

    @property
    def busy(self) -> bool:
        """A customer's message is being answered (statuses do not count)."""
        return self.worker.busy

    async def drain(self) -> None:
        """Wait for the updates in hand (tests, shutdown)."""
        await self.worker.drain()

    async def run(self, stop: asyncio.Event) -> None:
        """Resume stored updates, then serve until `stop` (routes are on the HTTP server),
        looking now and then for updates no worker holds."""
        await self.resume()
        sweeps = asyncio.create_task(self.worker.sweep_until(stop))
        try:
            await stop.wait()
        finally:
            self.worker.closing = True
            await sweeps
            await self.drain()
            await self.aclose()

    async def aclose(self) -> None:
        # pywa has no close of its own; the session is the one make_client gave it.
        session = getattr(self.client.api, "_session", None)
        if session is not None:
            await session.aclose()

    # -- the conversation side ------------------------------------------------------------
    async def _on_message(self, _: Any, message: WaMessage) -> None:
        with _kept_failure():
            await self.converse(self._who(message.from_user), message.timestamp,
                                from_message(message))

    async def _on_callback(self, _: Any,
                           update: CallbackButton[str] | CallbackSelection[str]) -> None:
        with _kept_failure():
            await self.converse(self._who(update.from_user), update.timestamp,
                                from_callback(update))

    @staticmethod
    def _who(user: Any) -> Who:
        return Who(str(user.bsuid), user.wa_id, str(user.name or "")[:NAME_MAX], user.username)

    def language_for(self, bsuid: str) -> str:
        default = self.shop.settings.default_language
        return pick_language(COUNTRY_LANGUAGES.get(bsuid.split(".", 1)[0]), default)

    async def converse(self, who: Who, at: datetime, received: Received) -> None:
        """Answer one thing a customer did; never raises (the customer hears "sorry")."""
        customer = await self.shop.customers.get_or_create(
            "whatsapp", who.bsuid, name=who.name, language=self.language_for(who.bsuid))
        contact = await self.contacts.wrote(customer.id, who.bsuid, wa_id=who.wa_id,
                                            username=who.username, at=at)
        convo = Conversation(customer.id, pick_language(customer.language), "whatsapp",
                             dict(contact.state), CAPABILITIES,
                             name=(who.name.split() or [""])[0])
        first = not contact.state and not contact.choices
        try:
            rendered, keep = await self._answer(convo, contact.choices, received, first)
        except Exception:
            # ChatshopError is answered by the router: anything reaching here is a bug.
            log.exception("WhatsApp: customer %s: %s failed", customer.id,
                          type(received).__name__)  # not the input: it may be an address
            rendered = Rendered((TextOut(convo.t("Sorry, something went wrong. Please try "
                                                 "again.")),), ())
            keep = True
        await self.send(who.bsuid, customer.id, rendered)
        choices = None if keep or not rendered.choices else choices_to_json(rendered)
        await self.contacts.save(customer.id, convo.state, choices)

    async def send(self, bsuid: str, customer_id: int, rendered: Rendered) -> None:
        for message in rendered.messages:
            try:
                await self.sender.send(bsuid, customer_id, message)
            except SendFailed:
                return  # logged with its code; the rest would make no sense alone

    async def _answer(self, convo: Conversation, saved: dict[str, Any], received: Received,
                      first: bool) -> tuple[Rendered, bool]:
        """The messages for an input, and whether the saved choices stay as they were."""
        t = convo.t
        choices, paged = choices_from_json(saved)
        expecting = bool(convo.state.get("expect"))
        match received:
            case More(page=page) if paged:
                return render_more(choices, paged, page, convo.language), True
            case More():
                return await self._flows(convo, Press(None)), False
            case Number(value=value, text=typed) if expecting:
                return await self._flows(convo, Message(typed)), False
            case Number(value=value) if 1 <= value <= len(choices):
                choice = choices[value - 1]
                if choice.url is not None:
                    label = shorten(choice.label, BUTTON_TITLE_MAX)
                    return Rendered((LinkOut(choice.label, label, choice.url),), ()), True
                return await self._flows(convo, Press(decode(choice.action))), False
            case Number(value=value):
                note = (t("There is no button {number}. Choose a number from the list "
                          "(1–{count}).", number=value, count=len(choices)) if choices else
                        t("There are no buttons to press here. Type /start for the menu."))
                return Rendered((TextOut(note),), ()), True
            case CatalogOrder():
                return render_reply((await self.catalog.order_to_cart(convo, received)).screens,
                                    convo.language), False
            case Unsupported(kind="reaction"):
                return Rendered((), ()), True  # an emoji on one of our messages: no answer
            case Unsupported():
                return Rendered((TextOut(t("I can read text, button presses and photos. Type "
                                           "what you are looking for, or send /start for the "
                                           "menu.")),), ()), True
            case Message(text=text) if not expecting and (
                    first or text.strip().lower() in GREETINGS):
                welcome = await respond(self.deps, convo, Command("start"))
                if text.strip().lower() in GREETINGS:
                    return render_reply(welcome.screens, convo.language), False
                found = await respond(self.deps, convo, received)
                return render_reply(welcome.screens + found.screens, convo.language), False
        assert not isinstance(received, More | Number | CatalogOrder | Unsupported)
        return await self._flows(convo, received), False

    async def _flows(self, convo: Conversation, received: Input) -> Rendered:
        reply: Reply = await respond(self.deps, convo, received)
        rendered = render_reply(reply.screens, convo.language)
        extra = await self.catalog.after(convo, received)
        if not extra:
            return rendered
        return Rendered(rendered.messages + extra, rendered.choices, rendered.paged)


@contextlib.contextmanager
def _kept_failure() -> Iterator[None]:
    """Keep what a handler raised for _process (pywa would only log it)."""
    try:
        yield
    except Exception as error:
        kept = _FAILED.get()
        if kept is not None:
            kept.append(error)
        raise
