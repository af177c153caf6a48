"""Typed business errors raised by the shop core.

Flows and the CLI turn these into messages for people; nothing else should be
caught broadly. Each error carries a stable ``code`` so callers can map it to a
translated text without parsing English.
"""

from __future__ import annotations


class ChatshopError(Exception):
    """Base of every error the shop core raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ChatshopError):
    code = "not_found"


class InvalidInput(ChatshopError):
    """A value from outside (a person, a file, a setting) is not acceptable."""

    code = "invalid_input"


class InvalidQuery(InvalidInput):
    code = "invalid_query"


class InvalidMoney(InvalidInput):
    code = "invalid_money"


class OutOfStock(ChatshopError):
    code = "out_of_stock"
