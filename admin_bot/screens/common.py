"""Small pieces the staff screens share: status names, dates, money parsing, paging."""

from __future__ import annotations

from datetime import datetime

from bot.flows.actions import Action, Arg
from bot.flows.screens import Button
from bot.i18n import Translator
from shop.errors import InvalidInput, InvalidMoney
from shop.money import to_minor

A = Action.make
MAX_TEXT = 3800  # leave room under Telegram's 4096 characters for markup


def status_label(t: Translator, status: str) -> str:
    return {
        "awaiting_payment": t("awaiting payment"), "paid": t("paid — to confirm"),
        "confirmed": t("confirmed — to ship"), "shipped": t("shipped"),
        "delivered": t("delivered"), "cancelled": t("cancelled"),
        "return_requested": t("return requested"), "return_approved": t("return approved"),
        "return_rejected": t("return rejected"), "returned": t("returned"),
        "refunded": t("refunded"), "requested": t("requested"), "approved": t("approved"),
        "rejected": t("rejected"), "received": t("received"), "open": t("open"),
        "closed": t("closed"),
    }.get(status, status)


def when(moment: datetime) -> str:
    """A timestamp staff can read at a glance (UTC, minutes)."""
    return moment.strftime("%Y-%m-%d %H:%M")


def parse_amount(raw: str, currency: str) -> int:
    """A staff-typed amount in major units (`12.50`, `12,50` or `12`) as minor units."""
    text = raw.strip().replace(",", ".").removesuffix(currency).strip()
    try:
        return to_minor(text, currency)
    except InvalidMoney:
        raise InvalidInput(f"{raw.strip()[:20]!r} is not an amount such as 12.50") from None


def parse_count(raw: str, *, allow_zero: bool = True, signed: bool = False) -> int:
    """A whole number of units typed by staff."""
    text = raw.strip().removeprefix("+")
    digits = text[1:] if signed and text.startswith("-") else text
    if not digits.isdigit() or len(digits) > 7:
        raise InvalidInput(f"{raw.strip()[:20]!r} is not a whole number")
    value = int(text)
    if value == 0 and not allow_zero:
        raise InvalidInput("the number must not be 0")
    return value


def pager(t: Translator, name: str, page: int, has_next: bool, *prefix: Arg) -> list[Button]:
    row = []
    if page > 1:
        row.append(Button(t("‹ Previous"), A(name, *prefix, page - 1)))
    if has_next:
        row.append(Button(t("Next ›"), A(name, *prefix, page + 1)))
    return row


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
