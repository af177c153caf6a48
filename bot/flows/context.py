"""What every flow gets: the shop's services, and the conversation with one customer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.i18n import Translator
from shop.auth import CustomerActor
from shop.bootstrap import Shop


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the channel can show, so flows choose without naming the channel."""

    invoices: bool = False        # native payment sheets (Telegram invoices and Stars)
    inline_photos: bool = True    # a photo with a caption and buttons in one message
    max_buttons: int = 100        # choices one screen can carry before the channel pages
    # A pressed button's message is replaced by the answer (Telegram), so a screen's photo
    # changing page after page costs no new messages.
    edits_in_place: bool = False
    # Customers pay on a web page we link to, never by a button in the chat (WhatsApp): with
    # no Stripe, the test provider's signed page; its receipt arrives through the events.
    payment_pages: bool = False


@dataclass
class Conversation:
    """One customer talking through one channel; `state` is saved by the channel."""

    customer_id: int
    language: str
    channel: str
    state: dict[str, Any] = field(default_factory=dict)
    capabilities: Capabilities = field(default_factory=Capabilities)
    name: str = ""

    @property
    def t(self) -> Translator:
        return Translator(self.language)

    @property
    def actor(self) -> CustomerActor:
        return CustomerActor(self.customer_id)

    def expect(self, step: str | None, **data: Any) -> None:
        """Say what the customer's next free text means (None: a search)."""
        if step is None:
            self.state.pop("expect", None)
            self.state.pop("expect_data", None)
        else:
            self.state["expect"] = step
            self.state["expect_data"] = data


@dataclass(frozen=True, slots=True)
class ShopInfo:
    name: str
    terms: str
    contact: str


@dataclass(frozen=True, slots=True)
class Deps:
    shop: Shop
    info: ShopInfo
