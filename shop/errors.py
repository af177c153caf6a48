"""Typed business errors raised by the shop core.

Flows and the CLI turn these into messages for people; nothing else should be
caught broadly. Every error carries what a caller needs to say it in any language
without parsing English:

- ``code``: stable per class (``"out_of_stock"``), inherited by subclasses that only
  refine the English wording;
- ``reason``: a stable finer cause within the code, ``""`` when the code says it all
  (InvalidInput's ``"too_long"``, PromoInvalid's ``"expired"`` …);
- ``params``: the values a sentence needs, plain ``str``/``int``/``datetime``/``Money``
  (``{"title": "Tee", "available": 2, "requested": 3}``); the typed keyword arguments
  of each class are also attributes (``error.available``);
- ``message`` and ``str(error)``: a readable English sentence for logs, the CLI and staff.

A caller picks its translated text by ``(code, reason)`` and fills it in from ``params``
(see ``bot/flows/error_texts.py``). Raising with only a message still works; such an
error has no reason and no params, so people get the text for its code alone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class InputReason(StrEnum):
    """Why a value is refused (InvalidInput.reason); `field` says which value."""

    REQUIRED = "required"          # missing or empty
    TOO_LONG = "too_long"          # params: max_length
    ONE_LINE = "one_line"          # line breaks or control characters in a one-line field
    FORMAT = "format"              # not shaped like the field (a postcode, a phone …); value
    TOO_MANY = "too_many"          # params: limit (and in_cart for a cart line)
    OUT_OF_RANGE = "out_of_range"  # a number outside minimum..maximum
    NOT_IN_ORDER = "not_in_order"  # an order line that is not part of the order
    CURRENCY = "currency"          # priced in another currency; title, currency, shop_currency
    DUPLICATE = "duplicate"        # already exists (a code), or already used


class ChatshopError(Exception):
    """Base of every error the shop core raises on purpose."""

    code: ClassVar[str] = "error"

    def __init__(self, message: str | None = None, /, *, reason: str = "",
                 **params: object) -> None:
        self.reason = reason
        self.params: dict[str, object] = {k: v for k, v in params.items() if v is not None}
        self.message = message if message is not None else self.describe()
        super().__init__(self.message)

    def describe(self) -> str:
        """The English sentence used when the raiser gave none."""
        return self.code.replace("_", " ")


class StorageUnavailable(ChatshopError):
    """The database could not take a write just now; the caller should have it retried."""

    code = "storage_unavailable"


class NotFound(ChatshopError):
    """`what` names the kind of thing ("product", "order", "address" …), `ref` its id or
    handle; `title` the product's name when it exists but is no longer sold."""

    code = "not_found"

    def __init__(self, message: str | None = None, /, *, what: str = "",
                 ref: str | int | None = None, title: str = "", reason: str = "") -> None:
        self.what, self.ref, self.title = what, ref, title
        super().__init__(message, reason=reason, what=what or None, ref=ref,
                         title=title or None)

    def describe(self) -> str:
        if self.title:
            return f"{self.title} is no longer available"
        return f"{self.what or 'it'} {'' if self.ref is None else f'{self.ref} '}does not exist"


class InvalidInput(ChatshopError):
    """A value from outside (a person, a file, a setting) is not acceptable.

    `field` names the value (``"postcode"``, ``"message"``), `reason` is an `InputReason`,
    and params such as ``max_length`` or ``limit`` give the numbers of the rule.
    """

    code = "invalid_input"

    def __init__(self, message: str | None = None, /, *, field: str = "",
                 reason: str = "", **params: object) -> None:
        self.field = field
        super().__init__(message, reason=reason, field=field or None, **params)

    def describe(self) -> str:
        return f"{self.field or 'the value'} is not valid ({self.reason or 'invalid'})"


class InvalidQuery(InvalidInput):
    code = "invalid_query"


class InvalidMoney(InvalidInput):
    code = "invalid_money"


class OutOfStock(ChatshopError):
    """Fewer units than wanted: `available` (0: sold out) of `title`, `requested` asked for,
    `in_cart` of them already in the customer's cart."""

    code = "out_of_stock"

    def __init__(self, message: str | None = None, /, *, title: str = "",
                 available: int | None = None, requested: int | None = None,
                 in_cart: int = 0) -> None:
        self.title, self.available, self.requested, self.in_cart = (
            title, available, requested, in_cart)
        super().__init__(message, reason="sold_out" if available == 0 else "",
                         title=title or None, available=available, requested=requested,
                         in_cart=in_cart or None)

    def describe(self) -> str:
        head = f"{self.title}: " if self.title else ""
        if self.available is None:
            return f"{head}not enough in stock"
        left = "sold out" if self.available <= 0 else f"only {self.available} left"
        wanted = (f", cannot take {self.requested}"
                  if self.requested is not None and self.available > 0 else "")
        held = f" (you already have {self.in_cart} in your cart)" if self.in_cart else ""
        return f"{head}{left}{wanted}{held}"


class NotAllowed(ChatshopError):
    """The actor may not do this (wrong customer, or a staff role without the permission).

    Reasons: ``permission`` (params permission), ``paid_order`` (a customer cancelling a
    paid order), ``not_owner`` (someone else's address or conversation; params what).
    """

    code = "not_allowed"


class NotYourOrder(NotAllowed):
    """Another customer's order (or return; `what`)."""

    code = "not_your_order"

    def __init__(self, message: str | None = None, /, *, what: str = "order",
                 ref: int | None = None) -> None:
        self.what, self.ref = what, ref
        super().__init__(message, what=what, ref=ref)

    def describe(self) -> str:
        return f"{self.what} {'' if self.ref is None else f'{self.ref} '}is not one of yours"


class IllegalTransition(ChatshopError):
    """The order (or return, or conversation: `subject`) is not in a state where `action`
    can happen; `current` is its status. Reason ``return_window`` (params days, number):
    the order was delivered too long ago to be returned."""

    code = "illegal_transition"

    def __init__(self, message: str | None = None, /, *, current: str = "", action: str = "",
                 subject: str = "order", reason: str = "", **params: object) -> None:
        self.current, self.action, self.subject = str(current), str(action), subject
        super().__init__(message, reason=reason, current=self.current or None,
                         action=self.action or None, subject=subject, **params)

    def describe(self) -> str:
        return f"a {self.subject} that is {self.current or '?'} cannot {self.action or 'change'}"


class CartEmpty(ChatshopError):
    code = "cart_empty"

    def describe(self) -> str:
        return "your cart is empty"


class PromoInvalid(ChatshopError):
    """A promo code that does not exist, expired, is used up or does not apply.

    `reason` is a `shop.cart.types.PromoReason`; params: code, and by reason starts_at,
    ends_at (datetime), currency, minimum (Money), limit.
    """

    code = "promo_invalid"


class ShippingUnavailable(ChatshopError):
    """Reasons: ``unknown`` (method_id), ``inactive``, ``country`` (country), ``currency``,
    ``too_heavy`` (max_grams, weight_grams), ``needs_address``; params method (its name)."""

    code = "shipping_unavailable"


class ReservationExpired(ChatshopError):
    code = "reservation_expired"


class PaymentRejected(ChatshopError):
    """A payment update that cannot be accepted: forged, mismatched or for a closed order.

    Reasons a customer can meet: ``order_gone``, ``no_delivery``, ``country`` (method,
    country), ``amount_changed``, ``sold_out``, ``settled`` (number, status); others
    (``forged``, ``webhook``) are about the provider's messages.
    """

    code = "payment_rejected"


class RefundRefused(ChatshopError):
    """Reasons: ``nothing_left``, ``not_positive``, ``too_much`` (maximum: Money),
    ``stars_partial``, ``changed``."""

    code = "refund_refused"


class ProviderError(ChatshopError):
    """A payment provider failed or refused a call (network, API error); reason
    ``not_configured`` when the shop has no account for it."""

    code = "provider_error"
