"""Screens as lines for a terminal: ANSI bold and italic only on a real terminal, links as
"text (url)", photos as the file they show, invoices as their prices, buttons numbered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.flows.screens import Button, Screen, Text
from bot.i18n import Translator
from shop.media import resolve_image
from shop.money import Money
from shop.payments.telegram_invoice import TelegramInvoice

BOLD = "\x1b[1m"
ITALIC = "\x1b[3m"
RESET = "\x1b[0m"


def render_text(text: Text, *, ansi: bool) -> str:
    parts: list[str] = []
    for span in text.spans:
        piece = span.text
        if ansi and piece.strip() and span.style != "plain":
            # Styles end at each line so a newline inside a span never leaks the style.
            style = BOLD if span.style == "bold" else ITALIC
            piece = "\n".join(f"{style}{line}{RESET}" if line else line
                              for line in piece.split("\n"))
        if span.url and span.url != span.text:
            piece = f"{piece} ({span.url})"
        parts.append(piece)
    return "".join(parts)


def render_photo(reference: str) -> str:
    resolved = resolve_image(reference)
    if isinstance(resolved, Path):
        return f"[photo: {reference} → {resolved}]"
    if resolved is not None:
        return f"[photo: {resolved}]"
    return f"[photo: {reference} (not available)]"


def render_invoice(invoice: TelegramInvoice, t: Translator) -> list[str]:
    lines = [t("Invoice: {title}", title=invoice.title)]
    if invoice.description:
        lines.append(f"  {invoice.description}")
    for price in invoice.prices:
        lines.append(f"  {price.label}: {t.money(Money(invoice.currency, price.amount))}")
    lines.append("  " + t("total {amount}", amount=t.money(Money(invoice.currency,
                                                                   invoice.total))))
    lines.append(t("(Payment in the terminal uses the built-in test provider.)"))
    return lines


def render_buttons(screen: Screen, first: int) -> tuple[list[str], list[Button]]:
    """One line per row of buttons, numbered from `first`; the buttons in that order."""
    lines: list[str] = []
    numbered: list[Button] = []
    for row in screen.buttons:
        cells = []
        for button in row:
            numbered.append(button)
            label = f"{button.label} ({button.url})" if button.url else button.label
            cells.append(f"[{first + len(numbered) - 1}] {label}")
        if cells:
            lines.append("  ".join(cells))
    return lines, numbered


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    buttons: list[Button]


def render_screen(screen: Screen, t: Translator, *, ansi: bool, first: int = 1) -> Rendered:
    """A screen as text, its buttons numbered from `first` (numbers go on across a reply)."""
    lines: list[str] = []
    if screen.toast and screen.toast not in screen.text.plain:
        # Telegram shows this as a pop-up on the pressed button; here it is a line.
        lines.append(("⚠ " if screen.alert else "» ") + screen.toast)
    if screen.photo:
        lines.append(render_photo(screen.photo))
    body = render_text(screen.text, ansi=ansi)
    if body.strip():
        lines.append(body)
    if screen.invoice is not None:
        lines += render_invoice(screen.invoice, t)
    button_lines, buttons = render_buttons(screen, first)
    if button_lines:
        lines.append("")
        lines += button_lines
    return Rendered("\n".join(lines), buttons)
