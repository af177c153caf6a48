"""Request parameters of the fake Telegram Bot API, decoded the way Telegram decodes them.

Bot API methods accept a GET query string, ``application/json``, urlencoded forms and
``multipart/form-data`` (aiogram sends forms: nested objects as JSON strings, files as
``attach://<name>`` pointing at another multipart part).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tests.fakes.telegram_markup import bad_request

JSON_FIELDS = frozenset({
    "reply_markup", "entities", "caption_entities", "prices", "media", "commands", "scope",
    "results", "shipping_options", "allowed_updates", "link_preview_options",
    "reply_parameters", "suggested_tip_amounts", "menu_button", "button", "message_ids",
    "provider_data", "reaction",
})
TEXT_FIELDS = frozenset({
    "text", "caption", "title", "description", "payload", "query", "error_message",
    "start_parameter", "inline_message_id", "callback_query_id", "inline_query_id",
    "shipping_query_id", "pre_checkout_query_id", "next_offset", "url", "secret_token",
    "telegram_payment_charge_id", "provider_token", "file_id", "language_code", "currency",
    "photo", "document", "sticker", "video", "audio", "action", "parse_mode", "emoji",
})
_INT = re.compile(r"^-?\d+$")


@dataclass
class Upload:
    """A file part of a multipart request."""

    filename: str
    data: bytes
    content_type: str

    def __repr__(self) -> str:  # keep recorded requests readable
        return f"Upload({self.filename!r}, {len(self.data)} bytes)"


def decode_value(name: str, value: Any) -> Any:
    """One form or query value to the type Telegram reads it as."""
    if not isinstance(value, str):
        return value
    if name in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError as error:
            raise bad_request(f"can't parse {name} JSON object") from error
    if name in TEXT_FIELDS:
        return value
    if _INT.match(value):
        return int(value)
    if value in ("true", "false"):
        return value == "true"
    return value


class Params:
    """Typed access to a request's parameters; missing or ill-typed ones raise ``ApiError``."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def __contains__(self, name: str) -> bool:
        return self.values.get(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None:
            if required:
                raise bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if not isinstance(value, str):
            raise bad_request(f"field \"{name}\" must be of type String")
        return value

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str) and _INT.match(value):
            return int(value)
        raise bad_request(f"invalid {name} specified")

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def json(self, name: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            return decode_value(name if name in JSON_FIELDS else "reply_markup", value)
        return value

    def upload(self, reference: str) -> Upload | None:
        """The uploaded part an ``attach://name`` reference (or a field name) points at."""
        name = reference.removeprefix("attach://")
        value = self.values.get(name)
        return value if isinstance(value, Upload) else None
