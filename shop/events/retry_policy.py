"""How both relays retry a failing consumer: exponential backoff, and one log line per
failure that is an error once an event keeps failing."""

from __future__ import annotations

import logging
import random
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shop.redaction import describe_error

if TYPE_CHECKING:
    from shop.events.delivery import DeliveredEvent


@dataclass(frozen=True)
class RetryPolicy:
    base_backoff_s: float = 1.0
    max_backoff_s: float = 300.0
    jitter: float = 0.1  # stretches each backoff by up to this fraction (0: exact schedules)
    alert_after_attempts: int = 10  # from this attempt on, a failure is logged as an error

    def __post_init__(self) -> None:
        if min(self.base_backoff_s, self.max_backoff_s) <= 0 or self.jitter < 0:
            raise ValueError(f"backoffs must be positive and jitter not negative: {self}")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1 for the first)."""
        delay = min(self.max_backoff_s, self.base_backoff_s * 2.0 ** min(attempt - 1, 60))
        if self.jitter:
            delay *= 1.0 + self.jitter * random.random()
        return delay

    def log_failure(self, log: logging.Logger, consumer: str, event: DeliveredEvent,
                    attempt: int, delay: float, error: Exception, *,
                    expected: bool = False) -> None:
        """One line per failure; the stack once per event, on its first failure, and without
        the raw exception text a standard traceback would repeat (error messages can carry
        URLs with bot tokens)."""
        level = logging.ERROR if attempt >= self.alert_after_attempts else logging.WARNING
        if expected:
            level = logging.DEBUG
        stack = "\n" + "".join(traceback.format_tb(error.__traceback__)) if attempt == 1 else ""
        log.log(level, "consumer %s failed on event %d (%s), attempt %d; retrying in %.1fs: %s%s",
                consumer, event.id, event.topic, attempt, delay, describe_error(error),
                stack.rstrip())


DEFAULT_RETRY = RetryPolicy()
