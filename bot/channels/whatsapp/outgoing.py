"""What the adapter sends, before it becomes API calls: plain data the renderer returns and
tests read, each within WhatsApp's limits by construction of the renderer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Choice:
    """One button of a screen, numbered across the screen for customers who type numbers."""

    number: int
    label: str
    action: str | None = None  # the encoded flow action
    url: str | None = None
    completed: bool = False  # a symbol-only label completed with its row's main label


@dataclass(frozen=True, slots=True)
class Row:
    ident: str
    title: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class TextOut:
    body: str


@dataclass(frozen=True, slots=True)
class ImageOut:
    image: str  # a URL or `demo:<file>` (see shop.media)
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class ButtonsOut:
    """Up to three reply buttons (id, title), maybe under an image."""

    body: str
    buttons: tuple[tuple[str, str], ...]
    image: str | None = None


@dataclass(frozen=True, slots=True)
class ListOut:
    body: str
    button: str
    rows: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class LinkOut:
    """A call-to-action URL button, maybe under an image."""

    body: str
    label: str
    url: str
    image: str | None = None


@dataclass(frozen=True, slots=True)
class ProductsOut:
    """A catalog product-list message (SKUs of the business catalog)."""

    catalog_id: str
    header: str
    body: str
    sections: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class ProductOut:
    """A catalog product message: one item of the business catalog, by SKU."""

    catalog_id: str
    sku: str
    body: str


Outgoing = TextOut | ImageOut | ButtonsOut | ListOut | LinkOut | ProductsOut | ProductOut
