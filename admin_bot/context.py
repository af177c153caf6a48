"""What every staff handler gets: who is acting, in which language and chat, and the shop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from aiogram import Bot

from bot.i18n import Translator
from shop.auth import ROLE_PERMISSIONS, Permission, StaffActor
from shop.bootstrap import Shop


@dataclass(frozen=True, slots=True)
class Staff:
    actor: StaffActor
    t: Translator
    chat_id: int

    def may(self, permission: Permission) -> bool:
        """Only for choosing which buttons to show; the core checks again on every action."""
        return permission in ROLE_PERMISSIONS[self.actor.role]


class CustomerMedia(Protocol):
    """Fetches a photo a customer sent through one channel, by the id that channel gave it."""

    async def fetch(self, file_id: str) -> bytes | None:
        """The bytes; None when the photo is gone or unreachable (it is skipped, not retried)."""
        ...


@dataclass(frozen=True, slots=True)
class AdminDeps:
    shop: Shop
    # The customer bot, to fetch photos customers sent (file ids belong to the bot that got
    # them); None when the customer bot is not configured.
    customer_bot: Bot | None = None
    # Photo fetchers by customer channel ("whatsapp" → its Graph API media); Telegram's is
    # made from customer_bot, WhatsApp's from the settings when not given here.
    media: Mapping[str, CustomerMedia] = field(default_factory=dict)
