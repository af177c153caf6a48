"""WhatsApp's UI limits (pywa does not check them, so we do) and label shortening.

Figures from Meta's Cloud API reference for interactive messages: reply buttons, list
messages and call-to-action URL messages.
"""

from __future__ import annotations

import re

TEXT_MAX = 4096             # a text message body
CAPTION_MAX = 1024          # an image caption
BUTTONS_BODY_MAX = 1024     # the body of a reply-button or call-to-action message
LIST_BODY_MAX = 4096        # the body of a list message
REPLY_BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20       # a reply button's title, a CTA's display text, a list's button
LIST_ROWS_MAX = 10          # rows over all sections of one list
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
ROW_ID_MAX = 200
BUTTON_ID_MAX = 256
PRODUCTS_MAX = 30           # products in one product-list message
SECTION_TITLE_MAX = 24
HEADER_MAX = 60
_TRAILING = " ·,;:-–—(/"
_SPACES = re.compile(r"[ \t\r\n]+")


def squeeze(text: str) -> str:
    """Runs of spaces and line breaks as one space; no-break spaces (in prices) stay."""
    return _SPACES.sub(" ", text).strip()


def shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: whole words where possible, `…` when cut.

    A word is only cut when it alone is longer than half the room, so a label keeps
    meaningful words instead of losing its end mid-word.
    """
    clean = squeeze(text)
    if len(clean) <= limit:
        return clean
    if limit <= 1:
        return "…"[:limit]
    cut = clean[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(_TRAILING) + "…"


def chunks(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, split at line ends (a longer line at
    a space); blank pieces are dropped."""
    lines: list[str] = []
    for line in text.split("\n"):
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            lines.append(line[:cut])
            line = line[cut:].lstrip()
        lines.append(line)
    pieces: list[str] = []
    current: str | None = None
    for line in lines:
        if current is None:
            current = line
        elif len(current) + 1 + len(line) <= limit:
            current += "\n" + line
        else:
            pieces.append(current)
            current = line
    if current is not None:
        pieces.append(current)
    return [piece.strip("\n") for piece in pieces if piece.strip()]
