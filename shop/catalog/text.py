"""Text normalisation shared by catalog search: accent folding and tokenizing."""

from __future__ import annotations

import re
import unicodedata

# Letters that are not composed characters, so NFKD leaves them alone.
_EXTRA_FOLDS = str.maketrans(
    {
        "ł": "l",
        "ß": "ss",
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "đ": "d",
        "ħ": "h",
        "ı": "i",
        "þ": "th",
    }
)

# Letters and digits only: underscore, punctuation, symbols and emoji separate tokens.
_TOKEN_RE = re.compile(r"[^\W_]+")
_HYPHENATED_RE = re.compile(r"[^\W_]+(?:-[^\W_]+)+")
_NOT_ASCII_ALNUM_RE = re.compile(r"[^a-z0-9]+")


def fold(s: str) -> str:
    """Lowercase ``s`` and strip accents, so ``"Żółty"`` becomes ``"zolty"``."""
    if s.isascii():
        return s.lower()
    s = s.casefold().translate(_EXTRA_FOLDS)
    decomposed = unicodedata.normalize("NFKD", s)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # Compatibility decomposition can produce capitals again (e.g. "ℌ" -> "H").
    return stripped.lower().translate(_EXTRA_FOLDS)


def tokenize(s: str) -> list[str]:
    """Fold ``s`` and split it into alphanumeric tokens, in order, duplicates kept."""
    return _TOKEN_RE.findall(fold(s))


def split_folded(folded: str) -> list[str]:
    """Split already folded text into tokens (what :func:`tokenize` does after folding)."""
    return _TOKEN_RE.findall(folded)


def hyphen_compounds(folded: str) -> list[str]:
    """Hyphenated words of folded text written solid: ``"t-shirt"`` -> ``["tshirt"]``."""
    if "-" not in folded:
        return []
    return [m.replace("-", "") for m in _HYPHENATED_RE.findall(folded)]


def compact_key(s: str) -> str:
    """Fold ``s`` and keep only letters and digits: ``"TS-BLK-M"`` becomes ``"tsblkm"``.

    Used for SKUs, so a code is found however its separators were typed.
    """
    if s.isascii():
        return _NOT_ASCII_ALNUM_RE.sub("", s.lower())
    return "".join(tokenize(s))
