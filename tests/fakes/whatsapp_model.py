"""What the fake WhatsApp Graph API keeps: customers, the messages both ways, templates, media,
catalogs, and Meta's error shapes.

Errors follow the Cloud API's envelope: ``{"error": {"message": "(#131009) Parameter value is
not valid", "type": "OAuthException", "code": 131009, "error_data": {"messaging_product":
"whatsapp", "details": "…"}, "fbtrace_id": "…"}}`` with HTTP 400 (401 for a bad token).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class GraphError(Exception):
    """An error answer from the Graph API."""

    def __init__(self, code: int, message: str, *, details: str | None = None,
                 status: int = 400, error_type: str = "OAuthException",
                 subcode: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details
        self.status, self.error_type, self.subcode = status, error_type, subcode

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.error_type,
                                 "code": self.code,
                                 "fbtrace_id": "A" + secrets.token_urlsafe(16)}
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}

    def as_status_error(self) -> dict[str, Any]:
        """The ``errors[]`` item of a failed status webhook."""
        return {"code": self.code, "title": self.message.split(") ", 1)[-1],
                "message": self.message.split(") ", 1)[-1],
                "error_data": {"details": self.details or self.message},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/"
                        "error-codes/"}


def invalid_parameter(details: str) -> GraphError:
    return GraphError(131009, "(#131009) Parameter value is not valid", details=details)


def missing_parameter(details: str) -> GraphError:
    return GraphError(131008, "(#131008) Required parameter is missing", details=details)


def invalid_request(details: str) -> GraphError:
    return GraphError(100, "(#100) Invalid parameter", details=details)


def bad_token() -> GraphError:
    return GraphError(190, "Invalid OAuth access token - Cannot parse access token", status=401)


def rate_limited() -> GraphError:
    return GraphError(130429, "(#130429) Rate limit hit",
                      details="Cloud API message throughput has been reached.")


def pair_rate_limited() -> GraphError:
    return GraphError(131056, "(#131056) (Business Account, Consumer Account) pair rate limit "
                      "hit", details="Too many messages sent from the sender phone number to "
                      "the same recipient phone number in a short period of time.")


def template_missing(name: str, language: str) -> GraphError:
    return GraphError(132001, "(#132001) Template name does not exist in the translation",
                      details=f"template name ({name}) does not exist in {language}")


def template_params_mismatch(expected: int, given: int) -> GraphError:
    return GraphError(132000, "(#132000) Number of parameters does not match the expected "
                      "number of params",
                      details=f"body: number of localizable_params ({given}) does not match "
                              f"the expected number of params ({expected})")


def re_engagement() -> GraphError:
    return GraphError(131047, "(#131047) Re-engagement message",
                      details="Message failed to send because more than 24 hours have passed "
                              "since the customer last replied to this number.")


def undeliverable() -> GraphError:
    return GraphError(131026, "(#131026) Message undeliverable",
                      details="Unable to deliver message. Reasons can include: the recipient "
                              "phone number is not a WhatsApp phone number …")


def unknown_object(ident: str) -> GraphError:
    return GraphError(100, f"Unsupported post request. Object with ID '{ident}' does not exist, "
                      "cannot be loaded due to missing permissions, or does not support this "
                      "operation.", error_type="GraphMethodException", subcode=33)


@dataclass
class Customer:
    """A WhatsApp user of the business: a BSUID always, a phone (wa_id) only sometimes."""

    bsuid: str
    name: str
    wa_id: str | None = None
    username: str | None = None
    last_inbound_at: datetime | None = None  # the customer service window opens here

    def contact(self) -> dict[str, Any]:
        """The ``contacts[]`` item of a webhook, in the BSUID-era shape."""
        profile: dict[str, Any] = {"name": self.name}
        if self.username:
            profile["username"] = self.username
        contact: dict[str, Any] = {"profile": profile, "user_id": self.bsuid}
        if self.wa_id:
            contact["wa_id"] = self.wa_id
        return contact


@dataclass
class Template:
    name: str
    language: str
    body_params: int
    text: str  # with {{1}} … placeholders, as approved

    def render(self, params: list[str]) -> str:
        text = self.text
        for index, value in enumerate(params, start=1):
            text = text.replace(f"{{{{{index}}}}}", value)
        return text


@dataclass
class Media:
    media_id: str
    data: bytes
    mime_type: str
    filename: str


@dataclass
class BotMessage:
    """A message the business sent and the API accepted, as the customer sees it."""

    wamid: str
    bsuid: str
    payload: dict[str, Any]
    sent_at: datetime
    by: str  # "to" or "recipient": how the request addressed the customer
    statuses: list[str] = field(default_factory=list)
    error: GraphError | None = None  # set when a status reported it failed

    @property
    def type(self) -> str:
        return str(self.payload.get("type"))

    @property
    def interactive(self) -> dict[str, Any]:
        value = self.payload.get("interactive")
        return value if isinstance(value, dict) else {}

    @property
    def kind(self) -> str:
        """text, image, template, button, list, cta_url, product, product_list …"""
        return str(self.interactive.get("type")) if self.type == "interactive" else self.type

    @property
    def failed(self) -> bool:
        return "failed" in self.statuses

    @property
    def body(self) -> str:
        if self.type == "text":
            return str(self.payload["text"]["body"])
        if self.type == "image":
            return str(self.payload["image"].get("caption") or "")
        if self.type == "interactive":
            return str((self.interactive.get("body") or {}).get("text") or "")
        return ""

    @property
    def header(self) -> dict[str, Any]:
        value = self.interactive.get("header")
        return value if isinstance(value, dict) else {}

    @property
    def has_image(self) -> bool:
        return self.type == "image" or self.header.get("type") == "image"

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """Reply buttons as (id, title)."""
        if self.kind != "button":
            return []
        return [(b["reply"]["id"], b["reply"]["title"])
                for b in self.interactive["action"]["buttons"]]

    @property
    def rows(self) -> list[tuple[str, str, str | None]]:
        """List rows over all sections as (id, title, description)."""
        if self.kind != "list":
            return []
        return [(r["id"], r["title"], r.get("description"))
                for s in self.interactive["action"]["sections"] for r in s["rows"]]

    @property
    def list_button(self) -> str | None:
        return str(self.interactive["action"]["button"]) if self.kind == "list" else None

    @property
    def url_button(self) -> tuple[str, str] | None:
        """A call-to-action URL button as (label, url)."""
        if self.kind != "cta_url":
            return None
        parameters = self.interactive["action"]["parameters"]
        return str(parameters["display_text"]), str(parameters["url"])

    @property
    def choices(self) -> list[str]:
        """Every label the customer can tap on this message."""
        cta = self.url_button
        return ([title for _, title in self.buttons] + [title for _, title, _ in self.rows]
                + ([cta[0]] if cta else []))

    @property
    def template(self) -> tuple[str, str] | None:
        if self.type != "template":
            return None
        return str(self.payload["template"]["name"]), str(
            self.payload["template"]["language"]["code"])

    @property
    def template_params(self) -> list[str]:
        if self.type != "template":
            return []
        return [str(p.get("text")) for c in self.payload["template"].get("components") or []
                if c.get("type") == "body" for p in c.get("parameters") or []]

    def describe(self) -> str:
        extra = ""
        if self.choices:
            extra = f" {self.choices}"
        if self.template:
            extra = f" template {self.template} {self.template_params}"
        body = self.body.replace("\n", " / ")
        return f"[{self.kind}] {body[:120]!r}{extra} {self.statuses}"


@dataclass
class InboundMessage:
    """A message the customer sent (what the webhook carried)."""

    wamid: str
    bsuid: str
    message: dict[str, Any]
    delivered: bool = False


@dataclass
class ApiRequest:
    method: str
    path: str
    body: dict[str, Any]
    status: int = 0
    error_code: int | None = None


@dataclass
class InjectedError:
    error: GraphError
    bsuid: str | None  # only for messages to this customer; None: any
    after_accept: bool = False  # accept the send, then report it failed by a status webhook
