"""Text and markup rules of the fake Telegram Bot API: errors, HTML entities, keyboards.

Telegram parses ``parse_mode=HTML`` into plain text plus ``entities`` (offsets in UTF-16 code
units) and refuses malformed markup with ``can't parse entities: …``; inline keyboards are
checked button by button. The error texts are the ones the real Bot API answers with.
"""

from __future__ import annotations

import html
import re
from typing import Any


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": …, "description": …, "parameters"?}``."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code,
                                "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


NOT_MODIFIED = ("message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")
TEXT_LIMIT, CAPTION_LIMIT, CALLBACK_DATA_LIMIT = 4096, 1024, 64


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_SIMPLE_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "code": "code", "pre": "pre", "blockquote": "blockquote",
}
_OTHER_TAGS = {"a", "span", "tg-emoji"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTR = re.compile(r"\s*([A-Za-z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_ENTITY = re.compile(r"&(#\d{1,7}|#x[0-9A-Fa-f]{1,6}|lt|gt|amp|quot);")


def _fail(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML subset to ``(text, entities)``; raises ``ApiError`` like Telegram does."""
    out: list[str] = []
    out_len = 0  # UTF-16 length of the text produced so far
    stack: list[tuple[str, int, dict[str, Any]]] = []  # tag name, start offset, entity stub
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "&":
            match = _ENTITY.match(source, i)
            piece = html.unescape(match[0]) if match else "&"
            i += len(match[0]) if match else 1
            out.append(piece)
            out_len += utf16_len(piece)
            continue
        if char != "<":
            out.append(char)
            out_len += utf16_len(char)
            i += 1
            continue
        start = i
        end = source.find(">", i)
        if source.startswith("</", i):
            if end < 0:
                raise _fail(f"Unclosed end tag at byte offset {_byte_offset(source, start)}")
            name = source[i + 2:end].strip().lower()
            if not stack:
                raise _fail(f"Unexpected end tag at byte offset {_byte_offset(source, start)}")
            open_name, offset, stub = stack.pop()
            if name and name != open_name:
                raise _fail(f'Unmatched end tag at byte offset {_byte_offset(source, start)}, '
                            f'expected "</{open_name}>", found "</{name}>"')
            if out_len > offset and stub:
                entities.append({**stub, "offset": offset, "length": out_len - offset})
            i = end + 1
            continue
        match = _NAME.match(source, i + 1)
        name = match[0].lower() if match else ""
        if name not in _SIMPLE_TAGS and name not in _OTHER_TAGS:
            raise _fail(f'Unsupported start tag "{name}" at byte offset '
                        f"{_byte_offset(source, start)}")
        if end < 0:
            raise _fail(f"Unclosed start tag at byte offset {_byte_offset(source, start)}")
        attrs = {m[1].lower(): m[2] or m[3] or m[4] or ""
                 for m in _ATTR.finditer(source[i + 1 + len(name):end].rstrip("/"))}
        stub = _entity_stub(name, attrs, stack, source, start)
        stack.append((name, out_len, stub))
        i = end + 1
    if stack:
        raise _fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _entity_stub(name: str, attrs: dict[str, str], stack: list[tuple[str, int, dict[str, Any]]],
                 source: str, start: int) -> dict[str, Any]:
    if name in _SIMPLE_TAGS:
        kind = _SIMPLE_TAGS[name]
        if name == "blockquote" and "expandable" in attrs:
            kind = "expandable_blockquote"
        if name == "code" and stack and stack[-1][0] == "pre" and attrs.get("class", ""):
            stack[-1][2]["language"] = attrs["class"].removeprefix("language-")
            return {}
        return {"type": kind}
    if name == "a":
        href = attrs.get("href", "")
        if href.startswith("tg://user?id="):
            return {"type": "text_mention", "user": {"id": int(href.split("=", 1)[1] or 0),
                                                       "is_bot": False, "first_name": ""}}
        return {"type": "text_link", "url": href} if href else {}
    if name == "span":
        if attrs.get("class") != "tg-spoiler":
            raise _fail(f'Tag "span" must have class "tg-spoiler" at byte offset '
                        f"{_byte_offset(source, start)}")
        return {"type": "spoiler"}
    emoji_id = attrs.get("emoji-id", "")
    if not emoji_id:
        raise _fail(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                    f"{_byte_offset(source, start)}")
    return {"type": "custom_emoji", "custom_emoji_id": emoji_id}


def format_text(raw: str, parse_mode: str | None,
                entities: list[dict[str, Any]] | None) -> tuple[str, list[dict[str, Any]]]:
    """The text a message will show, with its entities. Only HTML is parsed; Markdown modes
    are passed through as they are (their text is kept verbatim)."""
    if parse_mode and parse_mode.lower() == "html":
        return parse_html(raw)
    return raw, list(entities or [])


_BUTTON_KINDS = ("url", "callback_data", "web_app", "login_url", "switch_inline_query",
                 "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
                 "copy_text", "callback_game", "pay")
_URL = re.compile(r"^(https?|tg)://[^\s]+$|^t\.me/[^\s]+$")


def check_reply_markup(markup: Any, *, allow_pay: bool = False) -> dict[str, Any] | None:
    """Validate a ``reply_markup`` the way Telegram does; returns it unchanged."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("can't parse inline keyboard: field \"inline_keyboard\" must be "
                              "an Array of Arrays")
        if sum(len(row) for row in rows) > 100:
            raise bad_request("reply markup is too long")
        for row in rows:
            for button in row:
                _check_button(button, allow_pay=allow_pay)
        return markup
    if "keyboard" in markup:
        for row in markup["keyboard"]:
            for button in row:
                text = button if isinstance(button, str) else button.get("text")
                if not text:
                    raise bad_request("can't parse keyboard button: Field \"text\" must be of "
                                      "type String")
        return markup
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def _check_button(button: Any, *, allow_pay: bool) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Can't find field \"text\"")
    if not button["text"]:
        raise bad_request("BUTTON_TEXT_INVALID")
    kinds = [kind for kind in _BUTTON_KINDS if kind in button]
    if not kinds:
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in "
                          "the inline keyboard")
    if len(kinds) > 1:
        raise bad_request("BUTTON_TYPE_INVALID")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not _URL.match(str(button["url"])):
        raise bad_request("BUTTON_URL_INVALID")
    if "pay" in button and not allow_pay:
        raise bad_request("BUTTON_TYPE_INVALID")


def inline_keyboard(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of a sent markup that the returned Message carries (inline keyboards only)."""
    return markup if markup and "inline_keyboard" in markup else None
