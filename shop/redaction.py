"""Masking likely secrets (bot tokens, Stripe keys, Bearer tokens, credentials in URLs) in
text that leaves the process: error descriptions stored in the database, log records."""

from __future__ import annotations

import re

REDACTED = "[redacted]"
ERROR_MAX = 300

SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}"),  # Telegram bot token (also inside API URLs)
    re.compile(r"\b(?:sk|rk|pk|whsec)_[A-Za-z0-9_]{8,}"),  # Stripe keys, webhook secrets
    re.compile(r"(?<=://)[^/@\s]+@"),  # credentials in URLs
    re.compile(r"(?i)\bbearer\s+\S+"),
    re.compile(r"(?i)\b[\w-]*(?:token|secret|password|passwd|api_?key|signature)[\w-]*"
               r"\s*[=:]\s*[^\s&,;]+"),
)


def redact(text: str) -> str:
    """`text` with every match of SECRET_PATTERNS replaced by ``[redacted]``."""
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def describe_error(error: BaseException) -> str:
    """A short, single-line description of an error with likely secrets masked."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    text = " ".join(redact(text).split())
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"
