"""Bot API methods that answer queries and take payments: callback and inline query answers,
invoices (provider currencies and Telegram Stars), shipping and pre-checkout answers, refunds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.fakes.telegram_markup import (
    bad_request,
    check_reply_markup,
    format_text,
    utf16_len,
)
from tests.fakes.telegram_methods import Method, send_content
from tests.fakes.telegram_model import BotAccount, CallbackAnswer, PendingQuery
from tests.fakes.telegram_params import Params

if TYPE_CHECKING:
    from tests.fakes.telegram_server import FakeTelegram

QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
CURRENCIES = frozenset({
    "AED", "AUD", "BGN", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF",
    "IDR", "ILS", "INR", "JPY", "KRW", "MXN", "NOK", "NZD", "PLN", "RON", "RUB", "SEK", "SGD",
    "THB", "TRY", "UAH", "USD", "UZS", "ZAR", "XTR",
})
MAX_TOTAL = 10**10


def _pending(srv: FakeTelegram, bot: BotAccount, p: Params, field: str, kind: str,
             timeout: float | None) -> PendingQuery:
    query = bot.queries.get(p.text(field) or "")
    if query is None or query.kind != kind or query.answered:
        raise bad_request(QUERY_TOO_OLD if kind in ("callback_query", "inline_query",
                                                    "pre_checkout_query") else "QUERY_ID_INVALID")
    if timeout is not None and srv.now() - query.created > timeout:
        raise bad_request(QUERY_TOO_OLD)
    return query


def answer_callback_query(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    query = _pending(srv, bot, p, "callback_query_id", "callback_query", srv.callback_timeout)
    text = p.text("text")
    if text is not None and utf16_len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    query.answered = True
    answer = CallbackAnswer(text=text, show_alert=p.flag("show_alert"), url=p.text("url"),
                            cache_time=p.integer("cache_time") or 0)
    query.answer = {"answer": answer}
    return True


def _prices(value: Any, field: str = "prices") -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise bad_request(f"{field} must be non-empty")
    for price in value:
        if (not isinstance(price, dict) or not isinstance(price.get("label"), str)
                or not price["label"] or type(price.get("amount")) is not int):
            raise bad_request(f"can't parse {field}: LabeledPrice needs a label and an integer "
                              "amount")
    return value


def _check_invoice(p: Params) -> dict[str, Any]:
    title = p.text("title", required=True) or ""
    description = p.text("description", required=True) or ""
    payload = p.text("payload", required=True) or ""
    currency = (p.text("currency", required=True) or "").upper()
    if not 1 <= len(title) <= 32:
        raise bad_request("INVOICE_TITLE_INVALID")
    if not 1 <= len(description) <= 255:
        raise bad_request("INVOICE_DESCRIPTION_INVALID")
    if not 1 <= len(payload.encode("utf-8")) <= 128:
        raise bad_request("INVOICE_PAYLOAD_INVALID")
    if currency not in CURRENCIES:
        raise bad_request("CURRENCY_INVALID")
    prices = _prices(p.json("prices"))
    total = sum(price["amount"] for price in prices)
    provider_token = p.text("provider_token") or ""
    flags = {name: p.flag(name) for name in (
        "need_name", "need_phone_number", "need_email", "need_shipping_address",
        "send_phone_number_to_provider", "send_email_to_provider", "is_flexible")}
    max_tip = p.integer("max_tip_amount") or 0
    if currency == "XTR":
        if len(prices) != 1 or provider_token or max_tip or any(flags.values()):
            raise bad_request("STARS_INVOICE_INVALID")
    elif not provider_token:
        raise bad_request("PAYMENT_PROVIDER_INVALID")
    if not 0 < total <= MAX_TOTAL or any(price["amount"] < 0 for price in prices):
        raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
    tips = p.json("suggested_tip_amounts") or []
    if tips and (len(tips) > 4 or any(not 0 < tip <= max_tip for tip in tips)
                 or tips != sorted(tips)):
        raise bad_request("SUGGESTED_TIP_AMOUNTS_INVALID")
    return {"title": title, "description": description, "payload": payload,
            "currency": currency, "prices": prices, "total_amount": total,
            "provider_token": provider_token, "max_tip_amount": max_tip,
            "start_parameter": p.text("start_parameter") or "", "photo_url": p.text("photo_url"),
            **flags}


def send_invoice(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    chat_id = srv.resolve_chat(bot, p)
    invoice = _check_invoice(p)
    markup = check_reply_markup(p.json("reply_markup"), allow_pay=True)
    rows = (markup or {}).get("inline_keyboard", [])
    if rows and not rows[0][0].get("pay"):
        raise bad_request("REPLY_MARKUP_BUY_EMPTY")
    content = {"invoice": {key: invoice[key] for key in (
        "title", "description", "start_parameter", "currency", "total_amount")}}
    message = send_content(srv, bot, chat_id, p, content, allow_pay=True)
    message.invoice_request = invoice
    return message.raw


def create_invoice_link(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    invoice = _check_invoice(p)
    slug = srv.new_id("invoice")
    srv.invoice_links[slug] = invoice
    return f"https://t.me/${slug}"


def answer_shipping_query(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    query = _pending(srv, bot, p, "shipping_query_id", "shipping_query", None)
    if p.flag("ok"):
        options = p.json("shipping_options")
        if not isinstance(options, list) or not options:
            raise bad_request("SHIPPING_OPTIONS_EMPTY")
        seen: set[str] = set()
        for option in options:
            if (not isinstance(option, dict) or not option.get("id") or not option.get("title")
                    or option["id"] in seen):
                raise bad_request("SHIPPING_OPTION_INVALID")
            seen.add(option["id"])
            _prices(option.get("prices"), "shipping option prices")
        query.answer = {"ok": True, "shipping_options": options}
    else:
        if not p.text("error_message"):
            raise bad_request("ERROR_MESSAGE_EMPTY")
        query.answer = {"ok": False, "error_message": p.text("error_message")}
    query.answered = True
    return True


def answer_pre_checkout_query(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    query = _pending(srv, bot, p, "pre_checkout_query_id", "pre_checkout_query",
                     srv.pre_checkout_timeout)
    if p.flag("ok"):
        query.answer = {"ok": True}
    else:
        if not p.text("error_message"):
            raise bad_request("ERROR_MESSAGE_EMPTY")
        query.answer = {"ok": False, "error_message": p.text("error_message")}
    query.answered = True
    return True


def refund_star_payment(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    user_id = p.integer("user_id", required=True)
    charge = bot.star_charges.get(p.text("telegram_payment_charge_id", required=True) or "")
    if charge is None or charge["user_id"] != user_id:
        raise bad_request("CHARGE_NOT_FOUND")
    if charge["refunded"]:
        raise bad_request("CHARGE_ALREADY_REFUNDED")
    charge["refunded"] = True
    return True


def _check_inline_result(srv: FakeTelegram, result: Any, seen: set[str]) -> None:
    if not isinstance(result, dict) or not result.get("type"):
        raise bad_request("RESULT_TYPE_INVALID")
    result_id = str(result.get("id", ""))
    if not 1 <= len(result_id.encode("utf-8")) <= 64:
        raise bad_request("RESULT_ID_INVALID")
    if result_id in seen:
        raise bad_request("RESULT_ID_DUPLICATE")
    seen.add(result_id)
    check_reply_markup(result.get("reply_markup"))
    content = result.get("input_message_content")
    kind = result["type"]
    if kind == "article":
        if not result.get("title"):
            raise bad_request("RESULT_TITLE_EMPTY")
        if not isinstance(content, dict):
            raise bad_request("MESSAGE_EMPTY")
    if kind == "photo":
        if not result.get("photo_url") and not result.get("photo_file_id"):
            raise bad_request("PHOTO_CONTENT_URL_EMPTY")
        if result.get("photo_url") and not result.get("thumbnail_url"):
            raise bad_request("PHOTO_THUMB_URL_EMPTY")
        if result.get("photo_file_id") and result["photo_file_id"] not in srv.files:
            raise bad_request("wrong file identifier/HTTP URL specified")
    if isinstance(content, dict) and "message_text" in content:
        text, _ = format_text(str(content["message_text"]), content.get("parse_mode"),
                              content.get("entities"))
        if not text.strip():
            raise bad_request("MESSAGE_EMPTY")


def answer_inline_query(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    query = _pending(srv, bot, p, "inline_query_id", "inline_query", None)
    results = p.json("results")
    if not isinstance(results, list) or len(results) > 50:
        raise bad_request("RESULTS_TOO_MUCH")
    seen: set[str] = set()
    for result in results:
        _check_inline_result(srv, result, seen)
    query.answered = True
    query.answer = {"results": results, "cache_time": p.integer("cache_time"),
                    "is_personal": p.flag("is_personal"), "next_offset": p.text("next_offset"),
                    "button": p.json("button")}
    return True


METHODS: dict[str, Method] = {
    "answercallbackquery": answer_callback_query, "sendinvoice": send_invoice,
    "createinvoicelink": create_invoice_link, "answershippingquery": answer_shipping_query,
    "answerprecheckoutquery": answer_pre_checkout_query,
    "refundstarpayment": refund_star_payment, "answerinlinequery": answer_inline_query,
}
