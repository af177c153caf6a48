"""Logging for the whole process: JSON lines in production (`LOG_FORMAT=json`), readable
one-liners in development, each record carrying the current log context (`update_id`, `bot`,
`user_id` …) and with likely secrets masked in its final text."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

from shop.redaction import redact
from shop.settings import Settings

_EMPTY: Mapping[str, object] = MappingProxyType({})
_CONTEXT: ContextVar[Mapping[str, object]] = ContextVar("chatshop_log_context", default=_EMPTY)
# Keys of the JSON record itself: context fields never overwrite them.
_RESERVED = frozenset({"time", "level", "logger", "message", "exception", "stack"})
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add `fields` to every record logged inside the block (in this task and the tasks it
    starts); None values are left out. Nested blocks add to the outer ones."""
    added = {key: value for key, value in fields.items() if value is not None}
    token = _CONTEXT.set(MappingProxyType({**_CONTEXT.get(), **added}))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_context() -> Mapping[str, object]:
    """The log context fields in force here."""
    return _CONTEXT.get()


class ContextFilter(logging.Filter):
    """Stores the log context on each record as `record.context` (a dict), after `static`
    fields that every record carries (such as a worker's number)."""

    def __init__(self, static: Mapping[str, object] | None = None) -> None:
        super().__init__()
        self._static = dict(static or {})

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(getattr(record, "context", None), dict):
            record.context = {**self._static, **_CONTEXT.get()}
        return True


class RedactingFilter(logging.Filter):
    """Masks secrets in each record's final message, exception text and stack."""

    def __init__(self) -> None:
        super().__init__()
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the context
    fields, and `exception`/`stack` when present."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _context_of(record).items():
            if key not in _RESERVED:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [key=value …]` for reading in a terminal."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        context = _context_of(record)
        if context:
            line += " [" + " ".join(f"{key}={value}" for key, value in context.items()) + "]"
        return line


def _context_of(record: logging.LogRecord) -> Mapping[str, object]:
    context = getattr(record, "context", None)
    return context if isinstance(context, dict) else _CONTEXT.get()


def make_handler(log_format: str, stream: TextIO | None = None,
                 static: Mapping[str, object] | None = None) -> logging.Handler:
    """A stream handler (stderr by default) with the context and redaction filters and the
    formatter for `log_format` (``json`` or ``text``); `static` fields go on every record."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter(static))
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


def configure_logging(settings: Settings, stream: TextIO | None = None,
                      **static: object) -> logging.Handler:
    """Send every log record to stderr (or `stream`) in LOG_FORMAT at LOG_LEVEL, replacing
    the root logger's handlers; `static` fields (``worker=2``) go on every record, None ones
    are left out. Returns the handler installed."""
    handler = make_handler(settings.log_format, stream,
                           {key: value for key, value in static.items() if value is not None})
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    return handler
