"""Screens as WhatsApp messages, within WhatsApp's limits.

* Up to three action buttons whose labels fit (20 characters) become reply buttons, under
  the screen's photo when it has one.
* More choices, or longer labels, become a list message: numbered rows (title up to 24
  characters, the full label as the description when the title had to be shortened), ten
  rows at most, so longer lists are paged with a "More" row (and a way back to the first
  page on the last one).
* URL buttons become call-to-action URL messages, one per link.
* Every button is numbered across the reply, so typing its number works like a tap; a
  symbol-only label ("−", "+", "🗑") is completed with its row's main label so it still says
  what it does on its own.
* Texts too long for a message are sent as text first, then the buttons with a short body:
  nothing a customer needs is lost to a limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.channels.whatsapp.limits import (
    BUTTON_TITLE_MAX,
    BUTTONS_BODY_MAX,
    CAPTION_MAX,
    LIST_BODY_MAX,
    LIST_ROWS_MAX,
    REPLY_BUTTONS_MAX,
    ROW_DESCRIPTION_MAX,
    ROW_TITLE_MAX,
    TEXT_MAX,
    chunks,
    shorten,
    squeeze,
)
from bot.channels.whatsapp.markup import to_markup
from bot.channels.whatsapp.outgoing import (
    ButtonsOut,
    Choice,
    ImageOut,
    LinkOut,
    ListOut,
    Outgoing,
    Row,
    TextOut,
)
from bot.flows.actions import Action
from bot.flows.context import Capabilities
from bot.flows.screens import Screen
from bot.i18n import Translator

# No native payment sheet: the payment step sends a Stripe Checkout link, or with no Stripe
# the test provider's signed page; either way the receipt comes from the `order.paid` event.
CAPABILITIES = Capabilities(invoices=False, inline_photos=True, max_buttons=LIST_ROWS_MAX,
                            payment_pages=True)
MORE = "wa.more"  # the adapter's own action: another page of the latest list
PAGE_ROWS = LIST_ROWS_MAX - 1  # rows per page when paging: one row is left for "More"


@dataclass(frozen=True, slots=True)
class Rendered:
    messages: tuple[Outgoing, ...]
    choices: tuple[Choice, ...]  # every button of the reply, numbered
    paged: tuple[int, ...] = ()  # numbers of the choices a "More" row pages through


def _has_word(label: str) -> bool:
    return any(ch.isalnum() for ch in label)


def numbered(screen: Screen, first: int = 1) -> list[Choice]:
    """The screen's buttons in order, numbered from `first`, each label meaningful alone."""
    found: list[Choice] = []
    for row in screen.buttons:
        main = max((b.label for b in row if _has_word(b.label)), key=len, default="")
        for button in row:
            label = squeeze(button.label)
            completed = not _has_word(label) and bool(main)
            if completed:
                label = f"{label} {main}"
            found.append(Choice(first + len(found), label,
                                button.action.encode() if button.action else None,
                                button.url, completed))
    return found


def screen_body(screen: Screen) -> str:
    body = to_markup(screen.text).strip("\n")
    if screen.toast and screen.toast not in screen.text.plain:
        body = f"{'⚠️ ' if screen.alert else ''}_{screen.toast}_\n{body}"
    return body.strip() or "…"


def fits_buttons(actions: list[Choice]) -> bool:
    return 0 < len(actions) <= REPLY_BUTTONS_MAX and all(
        len(c.label) <= BUTTON_TITLE_MAX for c in actions) and len(
        {c.action for c in actions}) == len(actions)


def _row(choice: Choice) -> Row:
    full = f"{choice.number}. {choice.label}"
    title = shorten(full, ROW_TITLE_MAX)
    description = None if title == full else shorten(choice.label, ROW_DESCRIPTION_MAX)
    assert choice.action is not None
    return Row(choice.action, title, description)


def page_count(actions: list[Choice]) -> int:
    if len(actions) <= LIST_ROWS_MAX:
        return 1
    return -(-len(actions) // PAGE_ROWS)


def unique_actions(choices: list[Choice]) -> list[Choice]:
    """Action choices, once per action (row ids must be unique): of two buttons doing the
    same, the first stays, unless only a symbol ("−" that does nothing at quantity 1)."""
    best: dict[str, Choice] = {}
    for choice in choices:
        if choice.action is None:
            continue
        kept = best.get(choice.action)
        if kept is None or (kept.completed and not choice.completed):
            best[choice.action] = choice
    return [c for c in choices if c.action is not None and best[c.action] is c]


def list_page(actions: list[Choice], page: int, language: str, body: str) -> ListOut:
    """Page `page` (1-based, clamped) of a list of action choices."""
    t = Translator(language)
    unique = unique_actions(actions)
    pages = page_count(unique)
    page = min(max(page, 1), pages)
    if pages == 1:
        return ListOut(body, t("Choose"), tuple(_row(c) for c in unique))
    shown = unique[(page - 1) * PAGE_ROWS: page * PAGE_ROWS]
    rows = [_row(c) for c in shown]
    if page < pages:
        upcoming = unique[page * PAGE_ROWS: (page + 1) * PAGE_ROWS]
        # A list row's title holds 24 characters, its description 72.
        rows.append(Row(Action.make(MORE, page + 1).encode(), t("More ›"),
                        t("Choices {first}–{last} of {count}", first=upcoming[0].number,
                          last=upcoming[-1].number, count=unique[-1].number)))
    else:
        rows.append(Row(Action.make(MORE, 1).encode(), t("‹ First choices")))
    return ListOut(body, t("Choose"), tuple(rows))


def _texts(body: str) -> list[Outgoing]:
    return [TextOut(piece) for piece in chunks(body, TEXT_MAX)]


def _with_image(body: str, photo: str | None) -> tuple[list[Outgoing], str | None]:
    """The photo (captioned when the body fits), and what body is left to send."""
    if photo is None:
        return [], body
    if len(body) <= CAPTION_MAX:
        return [ImageOut(photo, body)], None
    return [ImageOut(photo)], body


def _links(body: str | None, photo: str | None, links: list[Choice]) -> list[Outgoing]:
    """One call-to-action message per link; the first carries the body and photo."""
    messages: list[Outgoing] = []
    for index, link in enumerate(links):
        assert link.url is not None
        label = shorten(link.label, BUTTON_TITLE_MAX)
        if index == 0 and body is not None and len(body) > BUTTONS_BODY_MAX:
            messages += _texts(body)
            body = None
        own = body if index == 0 and body is not None else link.label
        messages.append(LinkOut(own, label, link.url, photo if index == 0 else None))
    return messages


def _actions(body: str | None, photo: str | None, actions: list[Choice], language: str,
             page: int) -> list[Outgoing]:
    """The action choices as reply buttons or a list page, with whatever body is left."""
    messages: list[Outgoing] = []
    t = Translator(language)
    short = t("Choose an option:")
    if fits_buttons(actions):
        if body is not None and len(body) > BUTTONS_BODY_MAX:
            messages += ([ImageOut(photo)] if photo else []) + _texts(body)
            body, photo = None, None
        buttons = tuple((c.action or "", c.label) for c in actions)
        return [*messages, ButtonsOut(body or short, buttons, photo)]
    if photo is not None:
        image, body = _with_image(body or "", photo)
        messages += image
    if body is not None and len(body) > LIST_BODY_MAX:
        messages += _texts(body)
        body = None
    return [*messages, list_page(actions, page, language, body or short)]


def render_screen(screen: Screen, language: str, *, first: int = 1,
                  page: int = 1) -> Rendered:
    """One screen as messages; its buttons numbered from `first`."""
    body: str | None = screen_body(screen)
    photo = screen.photo
    choices = numbered(screen, first)
    actions = [c for c in choices if c.action is not None]
    links = [c for c in choices if c.url is not None]
    messages: list[Outgoing] = []
    if not choices:
        image, rest = _with_image(body or "", photo)
        return Rendered(tuple(image + (_texts(rest) if rest else [])), ())
    if links:
        messages += _links(body, photo, links)
        body, photo = None, None
    if actions:
        messages += _actions(body, photo, actions, language, page)
    unique = unique_actions(actions)
    paged = tuple(c.number for c in unique) if page_count(unique) > 1 and not fits_buttons(
        actions) else ()
    return Rendered(tuple(messages), tuple(choices), paged)


def render_more(choices: tuple[Choice, ...], paged: tuple[int, ...], page: int,
                language: str) -> Rendered:
    """Another page of the latest paged list (the customer chose "More")."""
    actions = [c for c in choices if c.number in paged]
    pages = page_count(actions)
    page = min(max(page, 1), pages)
    t = Translator(language)
    body = t("More choices ({page}/{pages}):", page=page, pages=pages)
    return Rendered((list_page(actions, page, language, body),), choices, paged)


def render_reply(screens: tuple[Screen, ...], language: str) -> Rendered:
    """Every screen of a reply, buttons numbered on across them."""
    messages: list[Outgoing] = []
    choices: list[Choice] = []
    paged: tuple[int, ...] = ()
    for screen in screens:
        rendered = render_screen(screen, language, first=len(choices) + 1)
        messages += rendered.messages
        choices += rendered.choices
        paged = rendered.paged or paged
    return Rendered(tuple(messages), tuple(choices), paged)


def choices_to_json(rendered: Rendered) -> dict[str, Any]:
    """The numbered choices and the paged list, as saved with the conversation."""
    return {"items": [[c.number, c.label, c.action, c.url, c.completed]
                      for c in rendered.choices],
            "paged": list(rendered.paged)}


def choices_from_json(saved: dict[str, Any]) -> tuple[tuple[Choice, ...], tuple[int, ...]]:
    try:
        items = tuple(Choice(int(n), str(label), action, url, bool(completed))
                      for n, label, action, url, completed in saved.get("items") or [])
        return items, tuple(int(n) for n in saved.get("paged") or [])
    except (TypeError, ValueError):
        return (), ()
