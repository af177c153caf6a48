"""Send one message to many chats: through the bot's rate limiter, a bounded number at a
time, with an outcome recorded for every chat.

The pace is the limiter's (``bot.telegram_limits``, in the bot's session): ``concurrency``
only bounds how many sends wait for their slot at once. Telegram errors are outcomes, never
silence: 403 (blocked, deactivated, never started) is ``blocked``; anything else that is
still failing after the retry middleware's attempts (429 beyond its patience, network and
server errors, 400 such as "chat not found") is ``failed`` with Telegram's description. A
group that became a supergroup is sent to at its new id. Exceptions that are not Telegram's
(a bug in ``make_message``) propagate and stop the broadcast.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
)
from aiogram.methods import TelegramMethod

log = logging.getLogger(__name__)
ChatId = int | str
MessageFactory = Callable[[ChatId], TelegramMethod[Any] | Awaitable[TelegramMethod[Any]]]
DEFAULT_CONCURRENCY = 16


class Status(StrEnum):
    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"


@dataclass(frozen=True)
class ChatOutcome:
    chat_id: ChatId
    status: Status
    message_id: int | None = None
    error: str | None = None
    migrated_to: int | None = None  # the supergroup the message went to instead


@dataclass
class BroadcastSummary:
    """Every chat's outcome, in the order the chats were given."""

    outcomes: dict[ChatId, ChatOutcome] = field(default_factory=dict)
    seconds: float = 0.0
    duplicates: int = 0  # repeated chat ids, sent to once

    def chats(self, status: Status) -> list[ChatId]:
        return [chat for chat, outcome in self.outcomes.items() if outcome.status == status]

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(outcome.status for outcome in self.outcomes.values())
        return {status.value: counted.get(status, 0) for status in Status}

    @property
    def sent(self) -> int:
        return self.counts[Status.SENT]

    @property
    def blocked(self) -> int:
        return self.counts[Status.BLOCKED]

    @property
    def failed(self) -> int:
        return self.counts[Status.FAILED]

    def __str__(self) -> str:
        counts = self.counts
        return (f"{len(self.outcomes)} chats in {self.seconds:.1f} s: {counts['sent']} sent, "
                f"{counts['blocked']} blocked, {counts['failed']} failed")


def _message_id(result: Any) -> int | None:
    if isinstance(result, list):  # sendMediaGroup, copyMessages, forwardMessages
        result = result[0] if result else None
    message_id = getattr(result, "message_id", None)
    return message_id if isinstance(message_id, int) else None


async def _send(bot: Bot, chat_id: ChatId, make_message: MessageFactory) -> ChatOutcome:
    made = make_message(chat_id)
    # An aiogram method is awaitable itself (when mounted on a bot): test for it first.
    method = made if isinstance(made, TelegramMethod) else await made
    migrated_to: int | None = None
    try:
        try:
            result = await bot(method)
        except TelegramMigrateToChat as moved:
            migrated_to = moved.migrate_to_chat_id
            result = await bot(method.model_copy(update={"chat_id": migrated_to}))
    except TelegramForbiddenError as error:
        return ChatOutcome(chat_id, Status.BLOCKED, error=error.message,
                           migrated_to=migrated_to)
    except TelegramAPIError as error:  # network, server, 400, 429 beyond the retries
        log.warning("broadcast to chat %s failed: %s", chat_id, error.message)
        return ChatOutcome(chat_id, Status.FAILED, error=error.message, migrated_to=migrated_to)
    return ChatOutcome(chat_id, Status.SENT, _message_id(result), migrated_to=migrated_to)


async def broadcast(bot: Bot, chat_ids: Iterable[ChatId], make_message: MessageFactory, *,
                    concurrency: int = DEFAULT_CONCURRENCY,
                    on_outcome: Callable[[ChatOutcome], Any] | None = None,
                    ) -> BroadcastSummary:
    """Send ``make_message(chat_id)`` (an aiogram method, e.g. ``SendMessage(chat_id=…,
    text=…)``, or an awaitable of one) to every chat once; returns every chat's outcome.

    ``on_outcome`` is called as each chat finishes (to store progress, say)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    summary = BroadcastSummary()
    queue: list[ChatId] = []
    seen: set[ChatId] = set()
    for chat_id in chat_ids:
        if chat_id in seen:
            summary.duplicates += 1
            continue
        seen.add(chat_id)
        queue.append(chat_id)
    pending = iter(queue)
    finished: dict[ChatId, ChatOutcome] = {}
    started = time.perf_counter()

    async def worker() -> None:
        for chat_id in pending:  # shared iterator: each chat is taken by one worker
            outcome = await _send(bot, chat_id, make_message)
            finished[chat_id] = outcome
            if on_outcome is not None:
                on_outcome(outcome)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(queue))):
            group.create_task(worker())
    summary.outcomes = {chat_id: finished[chat_id] for chat_id in queue}
    summary.seconds = time.perf_counter() - started
    log.info("broadcast: %s", summary)
    return summary
