"""Screen text in WhatsApp's markup: *bold*, _italic_, links written out (WhatsApp links
bare URLs by itself)."""

from __future__ import annotations

from bot.flows.screens import Span, Text

_MARK = {"bold": "*", "italic": "_"}


def _styled(piece: str, mark: str) -> str:
    """Each line wrapped in the marker; WhatsApp only styles markers touching the words, so
    spaces at the edges stay outside."""
    lines = []
    for line in piece.split("\n"):
        core = line.strip()
        if not core:
            lines.append(line)
            continue
        start = line.index(core)
        lines.append(f"{line[:start]}{mark}{core}{mark}{line[start + len(core):]}")
    return "\n".join(lines)


def span_markup(span: Span) -> str:
    piece = span.text
    if span.style in _MARK:
        piece = _styled(piece, _MARK[span.style])
    if span.url and span.url != span.text:
        piece = f"{piece} ({span.url})" if piece.strip() else span.url
    return piece


def to_markup(text: Text) -> str:
    return "".join(span_markup(span) for span in text.spans)
