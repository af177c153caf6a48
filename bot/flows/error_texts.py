"""The shop's typed errors in the customer's language: a heading per error code, and a
sentence built from the error's reason and params (never from its English message).

`explain(t, error)` is what every flow uses; `error_text(t, error)` gives the one line to
show inline (the sentence, else the heading).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_decimal

from bot.flows.input_texts import input_sentence
from bot.flows.status_words import return_word, status_word
from bot.i18n import Translator
from shop.errors import (
    ChatshopError,
    IllegalTransition,
    InvalidInput,
    NotFound,
    OutOfStock,
)
from shop.money import Money


@dataclass(frozen=True, slots=True)
class Explained:
    heading: str
    detail: str | None  # the sentence for this reason and params; None: the heading says it
    generic: bool = False  # no text was made for this error: the catch-all heading


def _headings(t: Translator) -> dict[str, str]:
    return {
        "out_of_stock": t("Sorry, not enough in stock."),
        "not_found": t("Sorry, that is no longer available."),
        "not_your_order": t("Sorry, that is not one of your orders."),
        "not_allowed": t("Sorry, that cannot be done here."),
        "illegal_transition": t("Sorry, that cannot be done at this stage."),
        "cart_empty": t("Your cart is empty."),
        "promo_invalid": t("This promo code does not apply."),
        "shipping_unavailable": t("This shipping method is not available."),
        "reservation_expired": t("Sorry, the reservation of your items has expired."),
        "payment_rejected": t("The payment could not be accepted."),
        "refund_refused": t("The refund could not be made."),
        "provider_error": t("The payment service is not available right now."),
        "invalid_input": t("Please check what you typed."),
        "invalid_query": t("Please check your search."),
        "invalid_money": t("Please check the amount."),
        "import_file": t("This file cannot be imported."),
        "export_file": t("The export cannot be written there."),
        "storage_unavailable": t("Sorry, we could not save that just now. Please try again "
                                 "in a moment."),
    }


def _text(params: Mapping[str, object], key: str) -> str:
    value = params.get(key)
    return "" if value is None else str(value)


def _int(params: Mapping[str, object], key: str) -> int:
    value = params.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _money(t: Translator, params: Mapping[str, object], key: str) -> str:
    value = params.get(key)
    return t.money(value) if isinstance(value, Money) else _text(params, key)


def _date(t: Translator, params: Mapping[str, object], key: str) -> str:
    value = params.get(key)
    if isinstance(value, datetime):
        return format_date(value, "medium", locale=t.language)
    return _text(params, key)


def _kg(t: Translator, grams: int) -> str:
    return t("{weight} kg", weight=format_decimal(Decimal(grams) / 1000, locale=t.language))


def _out_of_stock(t: Translator, error: OutOfStock) -> str | None:
    title = error.title
    if error.available is None:
        return None
    if error.available <= 0:
        return t("{title} is sold out.", title=title) if title else t("This item is sold out.")
    if title and error.in_cart:
        return t("Only {available} × {title} left, and you already have {in_cart} in your "
                 "cart.", available=error.available, title=title, in_cart=error.in_cart)
    if title:
        return t("Only {available} × {title} left; you asked for {requested}.",
                 available=error.available, title=title, requested=error.requested or 0)
    return t("Only {available} left; you asked for {requested}.",
             available=error.available, requested=error.requested or 0)


def _not_found(t: Translator, error: NotFound) -> str | None:
    if error.title:
        return t("{title} is no longer available.", title=error.title)
    return {
        "product": t("This product is no longer sold."),
        "variant": t("This product is no longer sold."),
        "category": t("This category no longer exists."),
        "order": t("We cannot find this order."),
        "return": t("We cannot find this return."),
        "address": t("This address is no longer saved. Choose another one."),
        "support_thread": t("We cannot find this conversation."),
        "support_message": t("We cannot find this conversation."),
        "shipping_method": t("This shipping method is no longer offered."),
    }.get(error.what)


def _not_allowed(t: Translator, error: ChatshopError) -> str | None:
    p = error.params
    if error.reason == "paid_order":
        return t("Order #{number} is already paid, so only we can cancel it. Write to us under "
                 "“Support” and we will sort it out.", number=_int(p, "number"))
    if error.reason == "not_owner":
        if p.get("what") == "support_thread":
            return t("This conversation belongs to another customer.")
        return t("This address belongs to another customer.")
    if error.reason == "permission":
        return t("Only the shop's staff can do this.")
    return None


def _illegal(t: Translator, error: IllegalTransition) -> str | None:
    p = error.params
    if error.reason == "return_window":
        return t("Items can be returned within {days} days of delivery; for order #{number} "
                 "that time is over.", days=_int(p, "days"), number=_int(p, "number"))
    if error.subject == "return":
        return t("Return status: {status}. That cannot be done now.",
                 status=return_word(t, error.current))
    if error.subject == "support":
        return t("This conversation is closed. Write to us again from the menu.")
    if not error.current or error.reason:
        return None
    status = status_word(t, error.current)
    return {
        "pay": t("Order status: {status}. It cannot be paid.", status=status),
        "cancel": t("Order status: {status}. It can no longer be cancelled.", status=status),
        "request_return": t("Order status: {status}. A return cannot be asked for now.",
                            status=status),
    }.get(error.action) or t("Order status: {status}. That cannot be done now.",
                             status=status)


def _promo(t: Translator, error: ChatshopError) -> str | None:
    p, code = error.params, _text(error.params, "code")
    limit = _int(p, "limit")
    if error.reason == "customer_limit" and limit > 1:
        return t("You have already used promo code {code} {limit} times, as often as it "
                 "allows.", code=code, limit=limit)
    if error.reason == "unknown" and not code:
        return t("Type a promo code.")
    sentences: dict[str, Callable[[], str]] = {
        "unknown": lambda: t("There is no promo code {code}.", code=code),
        "inactive": lambda: t("Promo code {code} is no longer active.", code=code),
        "not_yet_valid": lambda: t("Promo code {code} can be used from {date}.", code=code,
                                   date=_date(t, p, "starts_at")),
        "expired": lambda: t("Promo code {code} expired on {date}.", code=code,
                             date=_date(t, p, "ends_at")),
        "currency": lambda: t("Promo code {code} only applies to orders in {currency}.",
                              code=code, currency=_text(p, "currency")),
        "below_minimum": lambda: t("Spend at least {minimum} to use promo code {code}: "
                                   "{missing} more.", minimum=_money(t, p, "minimum"),
                                   code=code, missing=_money(t, p, "missing")),
        "used_up": lambda: t("Promo code {code} has been used up.", code=code),
        "customer_limit": lambda: t("You have already used promo code {code}.", code=code),
    }
    sentence = sentences.get(str(error.reason))
    return sentence() if sentence else None


def _shipping(t: Translator, error: ChatshopError) -> str | None:
    p, method = error.params, _text(error.params, "method")
    sentences: dict[str, Callable[[], str]] = {
        "unknown": lambda: t("This shipping method no longer exists."),
        "inactive": lambda: t("{method} is no longer offered.", method=method),
        "country": lambda: t("{method} does not deliver to {country}.", method=method,
                             country=_text(p, "country")),
        "currency": lambda: t("{method} cannot be used for this order.", method=method),
        "too_heavy": lambda: t("{method} takes parcels up to {limit}; this one weighs "
                               "{weight}.", method=method,
                               limit=_kg(t, _int(p, "max_grams")),
                               weight=_kg(t, _int(p, "weight_grams"))),
        "needs_address": lambda: t("{method} needs a delivery address.", method=method),
    }
    sentence = sentences.get(str(error.reason))
    return sentence() if sentence else None


def _payment(t: Translator, error: ChatshopError) -> str | None:
    p = error.params
    sentences: dict[str, Callable[[], str]] = {
        "order_gone": lambda: t("This order no longer exists. Nothing was charged."),
        "no_delivery": lambda: t("This order needs no delivery address."),
        "country": lambda: t("{method} does not deliver to {country}. Please start the "
                             "checkout again to choose another address.",
                             method=_text(p, "method"), country=_text(p, "country")),
        "amount_changed": lambda: t("The amount of this invoice is out of date. Please start "
                                    "the checkout again."),
        "sold_out": lambda: t("The reservation expired and some items are now sold out. "
                              "Nothing was charged."),
        "settled": lambda: t("Order #{number} was already paid; its status now: {status}.",
                             number=_int(p, "number"),
                             status=status_word(t, _text(p, "status"))),
        "forged": lambda: t("This payment does not belong to an order of this shop."),
    }
    sentence = sentences.get(str(error.reason))
    return sentence() if sentence else None


def _refund(t: Translator, error: ChatshopError) -> str | None:
    p = error.params
    sentences: dict[str, Callable[[], str]] = {
        "nothing_left": lambda: t("Nothing is left to refund on order #{number}.",
                                  number=_int(p, "number")),
        "not_positive": lambda: t("A refund must be more than zero."),
        "too_much": lambda: t("At most {amount} can be refunded.",
                              amount=_money(t, p, "maximum")),
        "stars_partial": lambda: t("Telegram Stars payments can only be refunded in full."),
        "changed": lambda: t("The payment changed meanwhile. Please try again."),
    }
    sentence = sentences.get(str(error.reason))
    return sentence() if sentence else None


def _detail(t: Translator, error: ChatshopError) -> str | None:
    match error:
        case OutOfStock():
            return _out_of_stock(t, error)
        case NotFound():
            return _not_found(t, error)
        case IllegalTransition():
            return _illegal(t, error)
        case InvalidInput():
            return input_sentence(t, error)
    family = {
        "not_allowed": _not_allowed, "promo_invalid": _promo,
        "shipping_unavailable": _shipping, "payment_rejected": _payment,
        "refund_refused": _refund,
    }.get(error.code)
    return family(t, error) if family is not None else None


def explain(t: Translator, error: ChatshopError) -> Explained:
    """The heading for the error's code and the sentence for its reason and params."""
    heading = _headings(t).get(error.code)
    if heading is None:
        return Explained(t("Sorry, that did not work."), None, generic=True)
    detail = _detail(t, error)
    if error.code == "cart_empty":
        detail = t("Add something to your cart first.")
    return Explained(heading, detail)


def error_text(t: Translator, error: ChatshopError) -> str:
    """One line for a screen that shows the refusal inline: the sentence, else the heading."""
    explained = explain(t, error)
    return explained.detail or explained.heading
