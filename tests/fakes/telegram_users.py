"""Scripted Telegram users: they type, press buttons by label, share things and pay.

Every action queues the real Update object Telegram would deliver (through ``getUpdates`` or
the webhook) and then waits, with a timeout, until the bot has answered: ``expect`` sends or
edits in the chat (failed calls count too, so a "message is not modified" answer is still an
answer), the callback or inline query answered, and then a short quiet period so a multi-part
answer is complete. A timeout raises ``AssertionError`` saying what was awaited and what the
chat shows.
"""

# `timeout=` is this fake's public API (as Telegram's own `timeout` parameters); the waits are
# deadline-bound condition waits, not sleeps.
# ruff: noqa: ASYNC109

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakes.telegram_model import (
    ApiCall,
    BotAccount,
    CallbackAnswer,
    ChatMessage,
    PendingQuery,
    UserInfo,
)

if TYPE_CHECKING:
    from tests.fakes.telegram_server import FakeTelegram

Label = str | re.Pattern[str] | Callable[[str], bool]
_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]+)?")
DEFAULT_ADDRESS = {"country_code": "FR", "state": "", "city": "Paris",
                   "street_line1": "1 Rue de Rivoli", "street_line2": "", "post_code": "75001"}


@dataclass
class Reply:
    """What the bot did in the chat after one user action."""

    update_id: int
    messages: list[ChatMessage]  # bot messages sent or changed, current state, oldest first
    calls: list[ApiCall]  # the bot's calls in this chat, failed ones included
    answer: CallbackAnswer | None = None  # for button presses
    deleted: list[int] = field(default_factory=list)
    dropped: bool = False  # Telegram never delivered it: the bot's allowed_updates exclude it

    @property
    def latest(self) -> ChatMessage | None:
        return self.messages[-1] if self.messages else None

    @property
    def text(self) -> str:
        return self.latest.body if self.latest else ""

    @property
    def errors(self) -> list[ApiCall]:
        return [call for call in self.calls if not call.ok]


@dataclass
class PaymentResult:
    invoice: ChatMessage
    shipping_answer: dict[str, Any] | None = None  # {"ok", "shipping_options"|"error_message"}
    pre_checkout_query: dict[str, Any] | None = None
    pre_checkout_answer: dict[str, Any] | None = None  # {"ok"} or {"ok": False, "error_message"}
    successful_payment: dict[str, Any] | None = None
    reply: Reply | None = None

    @property
    def paid(self) -> bool:
        return self.successful_payment is not None


@dataclass
class InlineAnswer:
    query_id: str
    results: list[dict[str, Any]]
    cache_time: int | None
    is_personal: bool
    next_offset: str | None
    button: dict[str, Any] | None


class TelegramUser:
    """A person chatting with one bot in a private chat (chat id = user id)."""

    def __init__(self, server: FakeTelegram, bot: BotAccount, info: UserInfo, *,
                 timeout: float = 5.0, quiet: float = 0.05) -> None:
        self.server, self.bot, self.info = server, bot, info
        self.timeout, self.quiet = timeout, quiet
        self.payments: list[dict[str, Any]] = []

    @property
    def id(self) -> int:
        return self.info.user_id

    def __repr__(self) -> str:
        return f"<TelegramUser {self.info.first_name} ({self.id}) with @{self.bot.username}>"

    # -- reading the chat ---------------------------------------------------------------------
    def messages(self) -> list[ChatMessage]:
        """The bot's messages in this chat as shown now (edits applied, deleted removed)."""
        return self.server.chat(self.id, bot=self.bot)

    def latest(self, *, with_keyboard: bool = False) -> ChatMessage | None:
        found = [m for m in self.messages() if m.keyboard or not with_keyboard]
        return found[-1] if found else None

    def text(self) -> str:
        latest = self.latest()
        return latest.body if latest else ""

    def buttons(self) -> list[str]:
        latest = self.latest(with_keyboard=True)
        return latest.buttons if latest else []

    def block(self) -> None:
        self.bot.blocked.add(self.id)

    def unblock(self) -> None:
        self.bot.blocked.discard(self.id)

    def describe(self, count: int = 5) -> str:
        shown = [m.describe() for m in self.messages()[-count:]]
        return f"chat with {self!r} shows:\n  " + ("\n  ".join(shown) or "(nothing)")

    # -- messages -----------------------------------------------------------------------------
    async def send(self, text: str, *, expect: int = 1, timeout: float | None = None,
                   reply_to: ChatMessage | int | None = None) -> Reply:
        """Type a message; ``/commands`` carry a ``bot_command`` entity; ``reply_to`` makes it
        a reply to one of the chat's messages (as swiping a message to answer it does)."""
        content: dict[str, Any] = {"text": text}
        command = _COMMAND.match(text)
        if command:
            content["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(command[0])}]
        if reply_to is not None:
            target_id = reply_to.message_id if isinstance(reply_to, ChatMessage) else reply_to
            target = self.server.find_message(self.bot, self.id, target_id)
            if target is None:
                raise AssertionError(f"message #{target_id} is not in the chat to reply to")
            content["reply_to_message"] = {k: v for k, v in target.raw.items()
                                           if k != "reply_to_message"}
        return await self._message(content, expect, timeout, f"the bot to answer {text!r}")

    async def send_photo(self, file_id: str | None = None, caption: str | None = None, *,
                         expect: int = 1, timeout: float | None = None) -> Reply:
        stored = self.server.files.get(file_id or "") or self.server.new_file(
            "photo", data=b"\xff\xd8\xff fake jpeg", ext="jpg", width=1280, height=960)
        if stored.file_id not in self.server.photo_sets:
            self.server.photo_sets[stored.file_id] = [{
                "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": stored.size, "width": stored.width or 1280,
                "height": stored.height or 960}]
        content: dict[str, Any] = {"photo": self.server.photo_sets[stored.file_id]}
        if caption:
            content["caption"] = caption
        return await self._message(content, expect, timeout, "the bot to answer a photo")

    async def send_location(self, latitude: float, longitude: float, *, expect: int = 1,
                            timeout: float | None = None) -> Reply:
        content = {"location": {"latitude": latitude, "longitude": longitude}}
        return await self._message(content, expect, timeout, "the bot to answer a location")

    async def send_sticker(self, emoji: str = "👍", *, expect: int = 0,
                           timeout: float | None = None) -> Reply:
        stored = self.server.new_file("sticker", ext="webp", width=512, height=512)
        content = {"sticker": {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                               "type": "regular", "width": 512, "height": 512,
                               "is_animated": False, "is_video": False, "emoji": emoji}}
        return await self._message(content, expect, timeout, "the bot to handle a sticker")

    async def edit_message(self, message_id: int, new_text: str, *, expect: int = 0,
                           timeout: float | None = None) -> Reply:
        """Edit one of the user's own messages (an ``edited_message`` update)."""
        message = self.server.message(self.id, message_id, bot=self.bot)
        if message is None or message.from_bot or "text" not in message.raw:
            raise AssertionError(f"{self!r} has no text message #{message_id} to edit")
        message.raw = {**message.raw, "text": new_text,
                       "edit_date": message.raw["date"] + 1}
        message.raw.pop("entities", None)
        message.record("edit_text")
        return await self._deliver("edited_message", dict(message.raw), expect, timeout,
                                   "the bot to handle an edited message")

    async def _message(self, content: dict[str, Any], expect: int, timeout: float | None,
                       what: str) -> Reply:
        self.bot.started.add(self.id)
        message = self.server.store_message(self.bot, self.id, from_bot=False, content=content)
        return await self._deliver("message", dict(message.raw), expect, timeout, what)

    # -- buttons ------------------------------------------------------------------------------
    async def press(self, label: Label, *, in_message: ChatMessage | int | None = None,
                    expect: int = 1, timeout: float | None = None) -> Reply:
        """Press the inline button whose text is ``label`` (exact text, a regex searched in the
        text, or a predicate) on ``in_message`` or the latest message with a keyboard."""
        message = self._keyboard_message(in_message)
        matches = [b for row in message.keyboard for b in row if _matches(label, b.text)]
        if not matches:
            raise AssertionError(f"no button {label!r} on message #{message.message_id}; "
                                 f"buttons: {message.buttons}\n{self.describe()}")
        button = matches[0]
        if button.callback_data is None:
            raise AssertionError(f"button {button.text!r} is not a callback button: {button.raw}")
        return await self.press_data(button.callback_data, message.message_id, expect=expect,
                                     timeout=timeout)

    async def press_data(self, data: str, message_id: int | None = None, *, expect: int = 0,
                         timeout: float | None = None, require_answer: bool = True) -> Reply:
        """Send a callback query with any ``data`` (forged, stale, over-long) from a message
        (default: the latest with a keyboard); a missing message is sent as inaccessible."""
        if message_id is None:
            message_id = self._keyboard_message(None).message_id
        query = self.callback_query(data, message_id)
        payload = query.payload
        condition = (lambda: query.answered) if require_answer else None
        reply = await self._deliver("callback_query", payload, expect, timeout,
                                    f"the bot to answer the press of {data!r}", condition)
        reply.answer = query.answer["answer"] if query.answer else None
        return reply

    def callback_query(self, data: str, message_id: int) -> PendingQuery:
        """A press on a button of message ``message_id`` (as inaccessible when it is not in the
        chat), known to the server so the bot can answer it; not delivered."""
        current = self.server.find_message(self.bot, self.id, message_id)
        shown = dict(current.raw) if current else {
            "chat": self.info.as_chat(), "message_id": message_id, "date": 0}
        query_id = str(secrets.randbits(62))
        payload = {"id": query_id, "from": self.info.as_user(), "message": shown,
                   "chat_instance": f"{self.bot.bot_id}{self.id}"[-18:], "data": data}
        return self._query("callback_query", query_id, payload)

    def _keyboard_message(self, in_message: ChatMessage | int | None) -> ChatMessage:
        if isinstance(in_message, ChatMessage):
            in_message = in_message.message_id
        if in_message is not None:
            found = self.server.find_message(self.bot, self.id, in_message)
            if found is None:
                raise AssertionError(f"message #{in_message} is not in the chat\n"
                                     f"{self.describe()}")
            return found
        latest = self.latest(with_keyboard=True)
        if latest is None:
            raise AssertionError(f"no message with an inline keyboard\n{self.describe()}")
        return latest

    # -- inline mode --------------------------------------------------------------------------
    async def inline_query(self, query: str, *, offset: str = "",
                           timeout: float | None = None) -> InlineAnswer:
        query_id = str(secrets.randbits(62))
        payload = {"id": query_id, "from": self.info.as_user(), "query": query,
                   "offset": offset, "chat_type": "sender"}
        pending = self._query("inline_query", query_id, payload)
        await self._deliver("inline_query", payload, 0, timeout,
                            f"the bot to answer the inline query {query!r}",
                            lambda: pending.answered, quiet=False)
        answer = pending.answer or {}
        return InlineAnswer(query_id, answer.get("results", []), answer.get("cache_time"),
                            bool(answer.get("is_personal")), answer.get("next_offset"),
                            answer.get("button"))

    # -- payments -----------------------------------------------------------------------------
    async def pay_invoice(self, message: ChatMessage | int | None = None, *,
                          shipping_address: dict[str, str] | None = None,
                          shipping_option_id: str | None = None, tip_amount: int = 0,
                          total_amount: int | None = None, invoice_payload: str | None = None,
                          currency: str | None = None, order_info: dict[str, Any] | None = None,
                          provider_payment_charge_id: str | None = None, expect: int = 1,
                          timeout: float | None = None) -> PaymentResult:
        """Pay the latest invoice (or ``message``) as Telegram's payment form would: a shipping
        query for flexible invoices, then the pre-checkout query, then ``successful_payment``.
        ``total_amount``/``invoice_payload``/``currency`` tamper with what is claimed."""
        invoice_message = self._invoice_message(message)
        invoice = invoice_message.invoice_request or {}
        result = PaymentResult(invoice_message)
        address = shipping_address or DEFAULT_ADDRESS
        shipping_cost = 0
        if invoice.get("is_flexible"):
            result.shipping_answer = await self._ask("shipping_query", {
                "from": self.info.as_user(), "invoice_payload": invoice["payload"],
                "shipping_address": address}, timeout, "the bot to answer the shipping query")
            if not result.shipping_answer.get("ok"):
                return result
            options = result.shipping_answer["shipping_options"]
            chosen = next((o for o in options if o["id"] == shipping_option_id), None)
            if chosen is None and shipping_option_id is not None:
                raise AssertionError(f"no shipping option {shipping_option_id!r}: {options}")
            chosen = chosen or options[0]
            shipping_option_id = chosen["id"]
            shipping_cost = sum(price["amount"] for price in chosen["prices"])
        info = order_info if order_info is not None else self._order_info(invoice, address)
        query: dict[str, Any] = {
            "from": self.info.as_user(), "currency": currency or invoice["currency"],
            "total_amount": total_amount if total_amount is not None
            else invoice["total_amount"] + shipping_cost + tip_amount,
            "invoice_payload": invoice_payload if invoice_payload is not None
            else invoice["payload"]}
        if shipping_option_id is not None:
            query["shipping_option_id"] = shipping_option_id
        if info:
            query["order_info"] = info
        result.pre_checkout_query = query
        result.pre_checkout_answer = await self._ask(
            "pre_checkout_query", query, timeout, "the bot to answer the pre-checkout query")
        if not result.pre_checkout_answer.get("ok"):
            return result
        stars = query["currency"] == "XTR"
        payment = {key: value for key, value in query.items() if key != "from"}
        payment["telegram_payment_charge_id"] = (
            f"stxp{secrets.token_hex(12)}" if stars else f"{secrets.randbits(40)}_{self.id}")
        payment["provider_payment_charge_id"] = provider_payment_charge_id or (
            "" if stars else f"ch_{secrets.token_hex(12)}")
        if stars:
            self.bot.star_charges[payment["telegram_payment_charge_id"]] = {
                "user_id": self.id, "amount": payment["total_amount"], "refunded": False}
        self.payments.append(payment)
        result.successful_payment = payment
        result.reply = await self._message({"successful_payment": payment}, expect, timeout,
                                           "the bot to answer the successful payment")
        return result

    def _invoice_message(self, message: ChatMessage | int | None) -> ChatMessage:
        if isinstance(message, int):
            message = self.server.message(self.id, message, bot=self.bot)
        if message is None:
            invoices = [m for m in self.messages() if m.invoice_request]
            message = invoices[-1] if invoices else None
        if message is None or message.invoice_request is None:
            raise AssertionError(f"no invoice to pay\n{self.describe()}")
        return message

    def _order_info(self, invoice: dict[str, Any], address: dict[str, str]) -> dict[str, Any]:
        info: dict[str, Any] = {}
        if invoice.get("need_name"):
            info["name"] = self.info.first_name
        if invoice.get("need_phone_number"):
            info["phone_number"] = f"+3360000{self.id % 10000:04d}"
        if invoice.get("need_email"):
            info["email"] = f"{self.info.username or self.id}@example.com"
        if invoice.get("need_shipping_address") or invoice.get("is_flexible"):
            info["shipping_address"] = address
        return info

    async def _ask(self, kind: str, body: dict[str, Any], timeout: float | None,
                   what: str) -> dict[str, Any]:
        query_id = str(secrets.randbits(62))
        payload = {"id": query_id, **body}
        pending = self._query(kind, query_id, payload)
        await self._deliver(kind, payload, 0, timeout, what, lambda: pending.answered,
                            quiet=False)
        return dict(pending.answer or {})

    # -- delivery and waiting -----------------------------------------------------------------
    def _query(self, kind: str, query_id: str, payload: dict[str, Any]) -> PendingQuery:
        query = PendingQuery(kind, query_id, self.id, payload, self.server.now())
        self.bot.queries[query_id] = query
        return query

    async def _deliver(self, kind: str, payload: dict[str, Any], expect: int,
                       timeout: float | None, what: str,
                       condition: Callable[[], bool] | None = None, *,
                       quiet: bool = True) -> Reply:
        server, bot = self.server, self.bot
        start = len(server.requests)
        before = server.chat_activity(bot, self.id)
        update_id = server.enqueue(bot, kind, payload)

        def done() -> bool:
            if update_id in {u["update_id"] for u in bot.dropped}:
                return True
            taken = update_id < bot.confirmed_below or update_id in bot.delivered
            return (taken and server.chat_activity(bot, self.id) - before >= expect
                    and (condition is None or condition()))

        def describe() -> str:
            state = ("queued" if any(u["update_id"] == update_id for u in bot.updates)
                     else "delivered")
            return (f"{self!r}: update {update_id} ({kind}) is {state}; bot calls in this chat "
                    f"since: {server.chat_activity(bot, self.id) - before} (expected {expect})"
                    f"\n{self.describe()}\n{server.describe_recent()}")

        limit = timeout if timeout is not None else self.timeout
        await server.wait_for(done, limit, what=what, describe=describe)
        if update_id in {u["update_id"] for u in bot.dropped}:
            if expect or condition is not None:
                raise AssertionError(f"{what}: update {update_id} ({kind}) was never delivered: "
                                     f"the bot's allowed_updates {sorted(bot.allowed_updates)} "
                                     "exclude it")
            return Reply(update_id, [], [], dropped=True)
        if quiet:
            await server.settle(bot, self.id, self.quiet, limit)
        return self._reply(update_id, start)

    def _reply(self, update_id: int, start: int) -> Reply:
        calls = [c for c in self.server.requests[start:]
                 if c.bot_id == self.bot.bot_id and c.chat_id == self.id
                 and c.key != "getupdates"]
        touched: list[int] = []
        for call in calls:
            results = call.result if isinstance(call.result, list) else [call.result]
            ids = [r["message_id"] for r in results if isinstance(r, dict) and "message_id" in r]
            if not ids and isinstance(call.params.get("message_id"), int):
                ids = [call.params["message_id"]]
            touched += [i for i in ids if i not in touched]
        found = [self.server.message(self.id, i, bot=self.bot) for i in touched]
        messages = [m for m in found if m is not None and m.from_bot and not m.deleted]
        deleted = [m.message_id for m in found if m is not None and m.deleted]
        return Reply(update_id, messages, calls, deleted=deleted)


def _matches(label: Label, text: str) -> bool:
    if isinstance(label, str):
        return text == label
    if isinstance(label, re.Pattern):
        return label.search(text) is not None
    return bool(label(text))
