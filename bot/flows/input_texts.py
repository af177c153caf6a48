"""Why a typed value is refused, in the customer's language: InvalidInput's field, reason and
params made into one sentence (see shop.errors.InputReason)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.i18n import Translator
from shop.errors import InputReason, InvalidInput

R = InputReason


def _int(params: Mapping[str, object], key: str) -> int | None:
    value = params.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(params: Mapping[str, object], key: str) -> str:
    value = params.get(key)
    return "" if value is None else str(value)


def field_label(t: Translator, field: str) -> str:
    """A field's name for people (the raw name for fields only staff ever see)."""
    labels = {
        "name": t("the name"), "street": t("the street"), "city": t("the city"),
        "postcode": t("the postcode"), "country": t("the country"), "phone": t("the phone"),
        "email": t("the email address"), "message": t("the message"), "reason": t("the reason"),
        "quantity": t("the quantity"), "code": t("the code"),
    }
    return labels.get(field, field.replace("_", " "))


def _required(t: Translator, field: str, params: Mapping[str, object]) -> str:
    sentences = {
        "name": t("Please type the full name."),
        "street": t("Please type the street and house number."),
        "city": t("Please type the city."),
        "reason": t("Please say why you are returning the items."),
        "items": t("Choose at least one item to return."),
        "message": t("Please write a message or send a photo."),
        "query": t("Type a word to search for."),
        "shipping_method": t("Please choose a shipping method."),
    }
    if field == "address":
        method = _text(params, "method")
        return (t("{method} needs a delivery address: choose or type one.", method=method)
                if method else t("Please choose or type a delivery address."))
    return sentences.get(field) or t("Please fill in {field}.", field=field_label(t, field))


def _format(t: Translator, field: str, params: Mapping[str, object]) -> str:
    value = _text(params, "value")
    shaped = {
        "postcode": t("“{value}” is not a postcode. Type 2 to 12 letters, digits, spaces or "
                      "hyphens.", value=value),
        "phone": t("“{value}” is not a phone number. Type 6 to 15 digits, optionally starting "
                   "with +.", value=value),
        "email": t("“{value}” is not an email address such as name@example.com.",
                   value=value),
        "country": t("“{value}” is not a country code. Type the two-letter code (FR, DE, PL …) "
                     "or the country's name.", value=value),
        "query": t("Type a word with letters or digits."),
        "language": t("“{value}” is not a language code such as en, fr or pl.", value=value),
    }
    if field in shaped:
        return shaped[field]
    if value:
        return t("“{value}” is not valid for {field}.", value=value,
                 field=field_label(t, field))
    return t("Please check {field}.", field=field_label(t, field))


def _too_many(t: Translator, field: str, params: Mapping[str, object]) -> str:
    limit = _int(params, "limit") or 0
    in_cart = _int(params, "in_cart")
    if field == "quantity" and in_cart:
        return t("At most {limit} of one item per order; you already have {in_cart} in your "
                 "cart.", limit=limit, in_cart=in_cart)
    sentences = {
        "quantity": t("At most {limit} of one item per order.", limit=limit),
        "return_quantity": t("Only {limit} of that item can still be returned.", limit=limit),
        "photos": t("At most {limit} photos can be sent.", limit=limit),
        "addresses": t("You can save at most {limit} addresses. Remove one first.",
                       limit=limit),
    }
    return sentences.get(field) or t("That is too many: at most {limit}.", limit=limit)


def _out_of_range(t: Translator, field: str, params: Mapping[str, object]) -> str:
    low, high = _int(params, "minimum"), _int(params, "maximum")
    if field in ("quantity", "return_quantity") and low is not None:
        if high is None:
            return t("The quantity must be at least {minimum}.", minimum=low)
        return t("Choose a quantity from {minimum} to {maximum}.", minimum=low, maximum=high)
    if low is not None and high is not None:
        return t("Choose a number from {minimum} to {maximum}.", minimum=low, maximum=high)
    if low is not None:
        return t("It must be at least {minimum}.", minimum=low)
    if high is not None:
        return t("It must be at most {maximum}.", maximum=high)
    return t("That number cannot be used here.")


def input_sentence(t: Translator, error: InvalidInput) -> str | None:
    """The sentence for this refusal; None when its reason is unknown (a bare message)."""
    field, params = error.field, error.params
    match error.reason:
        case R.REQUIRED:
            return _required(t, field, params)
        case R.TOO_LONG:
            return t("That is too long: at most {count} characters.",
                     count=_int(params, "max_length") or 0)
        case R.ONE_LINE:
            return t("Please type it on one line.")
        case R.FORMAT:
            return _format(t, field, params)
        case R.TOO_MANY:
            return _too_many(t, field, params)
        case R.OUT_OF_RANGE:
            return _out_of_range(t, field, params)
        case R.NOT_IN_ORDER:
            return t("That item is not part of this order.")
        case R.CURRENCY:
            return t("{title} is priced in {currency}, but this shop sells in {shop_currency}.",
                     title=_text(params, "title"), currency=_text(params, "currency"),
                     shop_currency=_text(params, "shop_currency"))
        case R.DUPLICATE:
            if field == "code" and not params.get("value"):
                return t("Only one promo code can be used per order.")
            return t("That already exists.")
    return None
