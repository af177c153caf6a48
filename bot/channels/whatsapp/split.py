"""One webhook notification into single updates.

Meta may put several entries, changes, messages and statuses in one POST, while pywa reads only
the first of each. Each message and each status becomes a notification of its own, with the
metadata of its change and the contact it came from, so pywa (and our inbox) see exactly one
thing at a time.
"""

from __future__ import annotations

import logging
from typing import Any

from shop.messaging.inbox import Inbound

log = logging.getLogger(__name__)


def _contact(contacts: list[dict[str, Any]], user_id: str | None,
             wa_id: str | None) -> dict[str, Any] | None:
    for contact in contacts:
        if (user_id and contact.get("user_id") == user_id) or (
                wa_id and contact.get("wa_id") == wa_id):
            return contact
    return contacts[0] if len(contacts) == 1 else None


def _single(body: dict[str, Any], entry: dict[str, Any], change: dict[str, Any],
            key: str, item: dict[str, Any], contact: dict[str, Any] | None) -> dict[str, Any]:
    value = {k: v for k, v in change["value"].items()
             if k not in ("messages", "statuses", "contacts", "errors")}
    value[key] = [item]
    if contact is not None:
        value["contacts"] = [contact]
    return {"object": body.get("object"),
            "entry": [{"id": entry.get("id"),
                       "changes": [{"field": change.get("field"), "value": value}]}]}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def split_notification(body: dict[str, Any]) -> list[Inbound]:
    """The messages and statuses of a notification, in order, one per Inbound."""
    found: list[Inbound] = []
    for entry in _dicts(body.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, dict):
                log.info("WhatsApp webhook field %r ignored", change.get("field"))
                continue
            contacts = _dicts(value.get("contacts"))
            for error in _dicts(value.get("errors")):
                log.warning("WhatsApp webhook error %s: %s", error.get("code"),
                            error.get("title") or error.get("message"))
            for message in _dicts(value.get("messages")):
                user_id = message.get("from_user_id")
                contact = _contact(contacts, user_id, message.get("from"))
                sender = user_id or (contact or {}).get("user_id") or message.get("from")
                if not message.get("id"):
                    continue
                found.append(Inbound(str(message["id"]), "", sender and str(sender),
                                     _single(body, entry, change, "messages", message, contact)))
            for status in _dicts(value.get("statuses")):
                user_id = status.get("recipient_user_id")
                contact = _contact(contacts, user_id, status.get("recipient_id"))
                sender = user_id or (contact or {}).get("user_id") or status.get("recipient_id")
                if not status.get("id") or not status.get("status"):
                    continue
                found.append(Inbound(str(status["id"]), str(status["status"])[:20],
                                     sender and str(sender),
                                     _single(body, entry, change, "statuses", status, contact)))
    return found
