"""Order and return statuses in the customer's words (used by screens and error texts)."""

from __future__ import annotations

from bot.i18n import Translator
from shop.orders.states import OrderStatus

S = OrderStatus


def status_word(t: Translator, status: str) -> str:
    words: dict[str, str] = {
        S.AWAITING_PAYMENT: t("waiting for payment"),
        S.PAID: t("paid"),
        S.CONFIRMED: t("confirmed"),
        S.SHIPPED: t("shipped"),
        S.DELIVERED: t("delivered"),
        S.CANCELLED: t("cancelled"),
        S.RETURN_REQUESTED: t("return requested"),
        S.RETURN_APPROVED: t("return approved"),
        S.RETURN_REJECTED: t("return rejected"),
        S.RETURNED: t("returned"),
        S.REFUNDED: t("refunded"),
    }
    return words.get(status, status)


def return_word(t: Translator, status: str) -> str:
    return {
        "requested": t("requested, waiting for our answer"),
        "approved": t("approved: please send the items back"),
        "rejected": t("not accepted"),
        "received": t("items received"),
        "refunded": t("refunded"),
    }.get(status, status)
