"""The Cloud API's checks on an outgoing message, answered with Meta's codes and details.

Interactive limits (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/
interactive-reply-buttons-messages, …-list-messages, …-cta-url-messages): reply buttons 1–3,
title 1–20, id ≤ 256, body ≤ 1024; lists: button label 1–20, 1–10 sections, 1–10 rows over all
sections, row title ≤ 24, description ≤ 72, row id ≤ 200, body ≤ 4096, section titles ≤ 24 and
required with several sections; CTA URL: display text ≤ 20, body ≤ 1024; headers and footers
≤ 60; text ≤ 4096; captions ≤ 1024; product lists ≤ 30 products in ≤ 10 sections.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tests.fakes.whatsapp_model import (
    GraphError,
    Template,
    invalid_parameter,
    invalid_request,
    missing_parameter,
    template_missing,
    template_params_mismatch,
)

TEXT_MAX = 4096
CAPTION_MAX = 1024
BUTTON_BODY_MAX = 1024
LIST_BODY_MAX = 4096
HEADER_MAX = 60
FOOTER_MAX = 60
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_BUTTON_MAX = 20
SECTIONS_MAX = 10
ROWS_MAX = 10
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
ROW_ID_MAX = 200
PRODUCTS_MAX = 30
MESSAGE_TYPES = ("text", "image", "interactive", "template", "location", "reaction", "document",
                 "audio", "video", "sticker", "contacts")


def _text(value: Any, where: str, maximum: int, *, minimum: int = 1) -> str:
    if not isinstance(value, str) or (minimum and not value.strip()):
        raise missing_parameter(f"{where} is required")
    if len(value) > maximum:
        raise invalid_parameter(f"{where} length invalid. Min length: {minimum}, Max length: "
                                f"{maximum}")
    return value


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise missing_parameter(f"{where} is required")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list | tuple) or not value:
        raise missing_parameter(f"{where} is required")
    return list(value)


def _header(interactive: dict[str, Any], allowed: tuple[str, ...],
            media_ok: Callable[[dict[str, Any]], None]) -> None:
    header = interactive.get("header")
    if header is None:
        return
    header = _dict(header, "header")
    kind = header.get("type")
    if kind not in allowed:
        raise invalid_parameter(f"header type '{kind}' is not supported for this message")
    if kind == "text":
        _text(header.get("text"), "Header text", HEADER_MAX)
    else:
        media_ok(_dict(header.get(kind), f"header {kind}"))


def _body(interactive: dict[str, Any], maximum: int, *, required: bool = True) -> None:
    body = interactive.get("body")
    if body is None and not required:
        return
    _text(_dict(body, "body").get("text"), "Body text", maximum)


def _footer(interactive: dict[str, Any]) -> None:
    footer = interactive.get("footer")
    if footer is not None:
        _text(_dict(footer, "footer").get("text"), "Footer text", FOOTER_MAX)


def _buttons(action: dict[str, Any]) -> None:
    buttons = _list(action.get("buttons"), "action.buttons")
    if len(buttons) > BUTTONS_MAX:
        raise invalid_parameter(f"buttons: Too many elements. Max: {BUTTONS_MAX}, "
                                f"actual: {len(buttons)}")
    seen: set[str] = set()
    for button in buttons:
        reply = _dict(_dict(button, "button").get("reply"), "button.reply")
        _text(reply.get("title"), "Button title", BUTTON_TITLE_MAX)
        ident = _text(reply.get("id"), "Button id", BUTTON_ID_MAX)
        if ident in seen:
            raise invalid_parameter("Button IDs must be unique")
        seen.add(ident)


def _sections(action: dict[str, Any]) -> None:
    _text(action.get("button"), "Button label", LIST_BUTTON_MAX)
    sections = _list(action.get("sections"), "action.sections")
    if len(sections) > SECTIONS_MAX:
        raise invalid_parameter(f"sections: Too many elements. Max: {SECTIONS_MAX}")
    rows = 0
    seen: set[str] = set()
    for section in sections:
        section = _dict(section, "section")
        if len(sections) > 1 or section.get("title") is not None:
            _text(section.get("title"), "Section title", ROW_TITLE_MAX)
        for row in _list(section.get("rows"), "section.rows"):
            row = _dict(row, "row")
            rows += 1
            _text(row.get("title"), "Row title", ROW_TITLE_MAX)
            ident = _text(row.get("id"), "Row id", ROW_ID_MAX)
            if row.get("description") is not None:
                _text(row["description"], "Row description", ROW_DESCRIPTION_MAX, minimum=0)
            if ident in seen:
                raise invalid_parameter("Row IDs must be unique")
            seen.add(ident)
    if rows > ROWS_MAX:
        raise invalid_parameter(f"Total row count exceed max allowed count: {ROWS_MAX}")


def _cta(action: dict[str, Any]) -> None:
    if action.get("name") != "cta_url":
        raise invalid_parameter("action.name must be cta_url")
    parameters = _dict(action.get("parameters"), "action.parameters")
    _text(parameters.get("display_text"), "Display text", BUTTON_TITLE_MAX)
    url = _text(parameters.get("url"), "URL", 2000)
    if not url.startswith(("http://", "https://")):
        raise invalid_parameter("URL must start with http:// or https://")


class MessageRules:
    """Checks one ``POST /{phone_id}/messages`` body against the API's rules."""

    def __init__(self, templates: Mapping[tuple[str, str], Template],
                 media_known: Callable[[str], bool],
                 catalog: Callable[[str], set[str] | None]) -> None:
        self._templates = templates
        self._media_known = media_known
        self._catalog = catalog

    def check(self, body: dict[str, Any]) -> None:
        if body.get("messaging_product") != "whatsapp":
            raise invalid_request("The parameter messaging_product is required.")
        kind = body.get("type", "text")
        if kind not in MESSAGE_TYPES:
            raise invalid_request(f"Unsupported message type: {kind}")
        if kind == "text":
            _text(_dict(body.get("text"), "text").get("body"), "Text body", TEXT_MAX)
        elif kind == "image":
            image = _dict(body.get("image"), "image")
            self._media(image)
            if image.get("caption") is not None:
                _text(image["caption"], "Caption", CAPTION_MAX, minimum=0)
        elif kind == "interactive":
            self._interactive(_dict(body.get("interactive"), "interactive"))
        elif kind == "template":
            self._template(_dict(body.get("template"), "template"))

    def _media(self, media: dict[str, Any]) -> None:
        if "id" in media:
            if not self._media_known(str(media["id"])):
                raise invalid_parameter(f"Media id {media['id']} is not valid")
        elif not str(media.get("link", "")).startswith(("http://", "https://")):
            raise missing_parameter("image must have a link or an id")

    def _interactive(self, interactive: dict[str, Any]) -> None:
        kind = interactive.get("type")
        action = _dict(interactive.get("action"), "action")
        _footer(interactive)
        if kind == "button":
            _header(interactive, ("text", "image", "video", "document"), self._media)
            _body(interactive, BUTTON_BODY_MAX)
            _buttons(action)
        elif kind == "list":
            _header(interactive, ("text",), self._media)
            _body(interactive, LIST_BODY_MAX)
            _sections(action)
        elif kind == "cta_url":
            _header(interactive, ("text", "image", "video", "document"), self._media)
            _body(interactive, BUTTON_BODY_MAX)
            _cta(action)
        elif kind in ("product", "product_list"):
            self._products(kind, interactive, action)
        else:
            raise invalid_parameter(f"Interactive type '{kind}' is not supported")

    def _products(self, kind: str, interactive: dict[str, Any], action: dict[str, Any]) -> None:
        catalog_id = str(action.get("catalog_id") or "")
        skus = self._catalog(catalog_id)
        if skus is None:
            raise invalid_parameter(f"Catalog ID {catalog_id} is not connected to this "
                                    "WhatsApp Business Account")
        if kind == "product":
            wanted = [str(action.get("product_retailer_id") or "")]
            _body(interactive, BUTTON_BODY_MAX, required=False)
        else:
            _header(interactive, ("text",), self._media)
            if interactive.get("header") is None:
                raise missing_parameter("header is required for product_list messages")
            _body(interactive, BUTTON_BODY_MAX)
            sections = _list(action.get("sections"), "action.sections")
            if len(sections) > SECTIONS_MAX:
                raise invalid_parameter(f"sections: Too many elements. Max: {SECTIONS_MAX}")
            wanted = [str(item.get("product_retailer_id")) for section in sections
                      for item in _list(_dict(section, "section").get("product_items"),
                                        "product_items")]
            if len(wanted) > PRODUCTS_MAX:
                raise invalid_parameter(f"Total product count exceed max allowed count: "
                                        f"{PRODUCTS_MAX}")
        for sku in wanted:
            if sku not in skus:
                raise invalid_parameter(f"Product with retailer ID {sku} not found in "
                                        f"catalog {catalog_id}")

    def _template(self, template: dict[str, Any]) -> None:
        name = str(template.get("name") or "")
        language = str(_dict(template.get("language"), "template.language").get("code") or "")
        known = self._templates.get((name, language))
        if known is None:
            raise template_missing(name, language)
        given = [p for c in template.get("components") or [] if c.get("type") == "body"
                 for p in c.get("parameters") or []]
        if len(given) != known.body_params:
            raise template_params_mismatch(known.body_params, len(given))
        for parameter in given:
            text = str(parameter.get("text") or "")
            if not text or "\n" in text or "\t" in text or "     " in text:
                raise GraphError(132018, "(#132018) There was an issue with the parameters in "
                                 "your template.", details="Param text cannot have new-line/"
                                 "tab characters or more than 4 consecutive spaces")
