"""What the fake Telegram server remembers: bots, chats, messages, calls, queries, files."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

# Update types Telegram sends when ``allowed_updates`` is empty or was never set.
DEFAULT_UPDATE_TYPES = frozenset({
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages",
    "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
    "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member",
    "chat_join_request", "chat_boost", "removed_chat_boost",
})


@dataclass(frozen=True)
class Button:
    """One inline keyboard button as the user sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class ChatMessage:
    """A message in a chat; ``raw`` is the current Message object (edits applied)."""

    chat_id: int
    message_id: int
    from_bot: bool
    raw: dict[str, Any]
    history: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    deleted: bool = False
    invoice_request: dict[str, Any] | None = None  # the sendInvoice parameters, for payments
    reply_keyboard: dict[str, Any] | None = None  # a non-inline reply_markup sent with it

    def record(self, action: str) -> None:
        self.history.append((action, copy.deepcopy(self.raw)))

    @property
    def text(self) -> str | None:
        return self.raw.get("text")

    @property
    def caption(self) -> str | None:
        return self.raw.get("caption")

    @property
    def body(self) -> str:
        """The text, or the caption of a media message, or the invoice title and description."""
        if "text" in self.raw or "caption" in self.raw:
            return str(self.raw.get("text", self.raw.get("caption", "")))
        invoice = self.raw.get("invoice")
        return f"{invoice['title']}\n{invoice['description']}" if invoice else ""

    @property
    def entities(self) -> list[dict[str, Any]]:
        return list(self.raw.get("entities", self.raw.get("caption_entities", [])))

    @property
    def photo(self) -> list[dict[str, Any]] | None:
        return self.raw.get("photo")

    @property
    def photo_file_id(self) -> str | None:
        photo = self.photo
        return photo[-1]["file_id"] if photo else None

    @property
    def invoice(self) -> dict[str, Any] | None:
        return self.raw.get("invoice")

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        return self.raw.get("reply_markup")

    @property
    def keyboard(self) -> list[list[Button]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[Button(b["text"], b.get("callback_data"), b.get("url"), b) for b in row]
                for row in rows]

    @property
    def buttons(self) -> list[str]:
        return [button.text for row in self.keyboard for button in row]

    def describe(self) -> str:
        who = "bot" if self.from_bot else "user"
        extra = ""
        if self.photo:
            extra += " [photo]"
        if self.buttons:
            extra += f" buttons={self.buttons}"
        return f"#{self.message_id} {who}{extra}: {self.body[:300]!r}"


@dataclass
class ApiCall:
    """One request a bot made; ``chat_id`` is set for methods that act in a chat."""

    seq: int
    bot_id: int
    method: str  # as the client spelled it, e.g. "sendMessage"
    params: dict[str, Any]
    chat_id: int | None = None
    status: int = 200
    result: Any = None
    error: str | None = None
    at: float = field(default_factory=time.monotonic)
    webhook_reply: bool = False  # sent back in a webhook's response, not requested
    body: str | None = None  # "json", "urlencoded" or "multipart"; None: none (or a reply)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def key(self) -> str:
        """The method name in lower case (Telegram's method names are case-insensitive)."""
        return self.method.lower()


@dataclass
class CallbackAnswer:
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass
class PendingQuery:
    """A callback, inline, shipping or pre-checkout query waiting for the bot's answer."""

    kind: str
    query_id: str
    user_id: int
    payload: dict[str, Any]
    created: float
    answered: bool = False
    answer: dict[str, Any] | None = None


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes | None = None
    url: str | None = None
    file_path: str | None = None
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else 0


@dataclass
class UserInfo:
    user_id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None

    def as_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.user_id, "is_bot": False,
                                "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                user[key] = getattr(self, key)
        return user

    def as_chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.user_id, "type": "private",
                                "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class FloodLimits:
    per_chat_per_s: float | None
    global_per_s: float | None
    burst: int


@dataclass
class InjectedError:
    method: str
    error_code: int
    description: str
    retry_after: int | None
    chat_id: int | None


@dataclass
class BotAccount:
    """One bot served by the fake: its identity, update queue and everything it showed."""

    token: str
    bot_id: int
    username: str
    first_name: str
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 100_000
    confirmed_below: int = 0  # every update with a smaller id was confirmed by ``offset``
    delivered: set[int] = field(default_factory=set)
    dropped: list[dict[str, Any]] = field(default_factory=list)  # filtered by allowed_updates
    allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
    poll_generation: int = 0
    webhook: dict[str, Any] = field(default_factory=dict)
    chats: dict[int, dict[int, ChatMessage]] = field(default_factory=dict)
    next_message_id: dict[int, int] = field(default_factory=dict)
    queries: dict[str, PendingQuery] = field(default_factory=dict)
    commands: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    menu_buttons: dict[int | None, dict[str, Any]] = field(default_factory=dict)
    star_charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: set[int] = field(default_factory=set)  # users who opened the chat with the bot
    blocked: set[int] = field(default_factory=set)  # users who blocked the bot
    flood: FloodLimits | None = None
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    http_429: int = 0

    def as_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name,
                "username": self.username}

    def get_me(self) -> dict[str, Any]:
        return {**self.as_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": True, "can_connect_to_business": False,
                "has_main_web_app": False}

    def chat_messages(self, chat_id: int) -> dict[int, ChatMessage]:
        return self.chats.setdefault(chat_id, {})

    def take_message_id(self, chat_id: int) -> int:
        message_id = self.next_message_id.get(chat_id, 1)
        self.next_message_id[chat_id] = message_id + 1
        return message_id
