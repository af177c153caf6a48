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


class NotAllowed(ChatshopError):
    """The actor may not do this (wrong customer, or a staff role without the permission)."""

    code = "not_allowed"


class NotYourOrder(NotAllowed):
    code = "not_your_order"


class IllegalTransition(ChatshopError):
    """The order (or return) is not in a state where this can happen."""

    code = "illegal_transition"

    def __init__(self, message: str, *, current: str = "", action: str = "") -> None:
        super().__init__(message)
        self.current = current
        self.action = action


class CartEmpty(ChatshopError):
    code = "cart_empty"


class PromoInvalid(ChatshopError):
    """A promo code that does not exist, expired, is used up or does not apply."""

    code = "promo_invalid"


class ShippingUnavailable(ChatshopError):
    code = "shipping_unavailable"


class ReservationExpired(ChatshopError):
    code = "reservation_expired"


class PaymentRejected(ChatshopError):
    """A payment update that cannot be accepted: forged, mismatched or for a closed order."""

    code = "payment_rejected"


class RefundRefused(ChatshopError):
    code = "refund_refused"


class ProviderError(ChatshopError):
    """A payment provider failed or refused a call (network, API error)."""

    code = "provider_error"
