"""Screens rendered for WhatsApp stay within its limits and lose nothing a customer needs."""

from __future__ import annotations

import random

import pytest

from bot.channels.whatsapp.limits import chunks, shorten
from bot.channels.whatsapp.markup import to_markup
from bot.channels.whatsapp.outgoing import (
    ButtonsOut,
    ImageOut,
    LinkOut,
    ListOut,
    Outgoing,
    TextOut,
)
from bot.channels.whatsapp.render import MORE, render_more, render_reply, render_screen
from bot.flows.actions import Action, decode
from bot.flows.screens import Button, Screen, Text, bold, italic, link, rows

A = Action.make


def check_limits(message: Outgoing) -> None:
    """What the Cloud API would refuse (see tests/fakes/whatsapp_limits.py)."""
    match message:
        case TextOut(body=body):
            assert 0 < len(body) <= 4096 and body.strip()
        case ImageOut(caption=caption):
            assert caption is None or len(caption) <= 1024
        case ButtonsOut(body=body, buttons=buttons):
            assert 0 < len(body) <= 1024
            assert 1 <= len(buttons) <= 3
            assert all(1 <= len(title) <= 20 and len(ident) <= 256 for ident, title in buttons)
            assert len({ident for ident, _ in buttons}) == len(buttons)
        case ListOut(body=body, button=button, rows=list_rows):
            assert 0 < len(body) <= 4096 and 1 <= len(button) <= 20
            assert 1 <= len(list_rows) <= 10
            assert len({r.ident for r in list_rows}) == len(list_rows)
            for row in list_rows:
                assert 1 <= len(row.title) <= 24 and len(row.ident) <= 200
                assert row.description is None or len(row.description) <= 72
        case LinkOut(body=body, label=label, url=url):
            assert 0 < len(body) <= 1024 and 1 <= len(label) <= 20 and url.startswith("http")


def labels_of(buttons: list[str]) -> Screen:
    return Screen(Text.of("Pick"), tuple((Button(label, A("pick", i)),)
                                         for i, label in enumerate(buttons)))


def test_three_short_buttons_are_reply_buttons() -> None:
    screen = Screen(Text.of(bold("Cart"), " is ", italic("empty")),
                    rows((Button("🛍 Catalog", A("cats")), Button("« Menu", A("menu"))),
                         Button("🔎 Search", A("find"))))
    rendered = render_screen(screen, "en")
    (message,) = rendered.messages
    assert message == ButtonsOut("*Cart* is _empty_", (("cats", "🛍 Catalog"), ("menu", "« Menu"),
                                                      ("find", "🔎 Search")))
    assert [c.number for c in rendered.choices] == [1, 2, 3]


def test_four_choices_become_a_numbered_list() -> None:
    rendered = render_screen(labels_of(["S", "M", "L", "XL"]), "en")
    (message,) = rendered.messages
    assert isinstance(message, ListOut) and message.button == "Choose"
    assert [r.title for r in message.rows] == ["1. S", "2. M", "3. L", "4. XL"]
    assert [decode(r.ident) for r in message.rows] == [A("pick", i) for i in range(4)]


def test_a_label_too_long_for_a_button_goes_to_a_list_with_the_full_label() -> None:
    label = "📍 Ada Lovelace, 12 Rue de la Paix, 75002 Paris, FR"
    rendered = render_screen(labels_of([label, "➕ New address"]), "en")
    (message,) = rendered.messages
    assert isinstance(message, ListOut)
    first = message.rows[0]
    assert first.title == "1. 📍 Ada Lovelace, 12…"
    assert first.description == label
    check_limits(message)


def test_twenty_five_choices_page_with_more_and_every_one_is_reachable() -> None:
    screen = labels_of([f"Product number {i} · €{i}.00" for i in range(1, 26)])
    rendered = render_screen(screen, "en")
    assert len(rendered.messages) == 1 and rendered.paged == tuple(range(1, 26))
    seen: list[str] = []
    page_message = rendered.messages[0]
    for page in range(1, 5):
        assert isinstance(page_message, ListOut)
        check_limits(page_message)
        *items, nav = page_message.rows
        seen += [r.ident for r in items]
        action = decode(nav.ident)
        assert action is not None and action.name == MORE
        if page == 3:
            assert action.args == (1,) and nav.title == "‹ First choices"
            break
        assert action.args == (page + 1,) and nav.title == "More ›"
        assert nav.description == f"Choices {page * 9 + 1}–{min(page * 9 + 9, 25)} of 25"
        (page_message,) = render_more(rendered.choices, rendered.paged, page + 1,
                                      "en").messages
        assert isinstance(page_message, ListOut)
        assert page_message.body == f"More choices ({page + 1}/3):"
    assert seen == [A("pick", i).encode() for i in range(25)]


def test_symbol_only_buttons_say_what_they_act_on() -> None:
    screen = Screen(Text.of("Your cart"), (
        (Button("−", A("cdec", 7)), Button("2 × Classic Tee", A("prod", 3)),
         Button("+", A("cinc", 7)), Button("🗑", A("crm", 7))),))
    (message,) = render_screen(screen, "fr").messages
    assert isinstance(message, ListOut) and message.button == "Choisir"
    assert [r.title for r in message.rows] == [
        "1. − 2 × Classic Tee", "2. 2 × Classic Tee", "3. + 2 × Classic Tee",
        "4. 🗑 2 × Classic Tee"]


def test_a_url_button_is_a_call_to_action_and_the_actions_follow() -> None:
    screen = Screen(Text.lines(bold("Order #1001 is placed."), "Total to pay: €22.00"), rows(
        Button("💳 Pay €22.00", url="https://checkout.example/c/pay/cs_1"),
        Button("📦 Order status", A("order", 5)),
        (Button("✕ Cancel order", A("ocancel", 5)), Button("« Menu", A("menu")))))
    rendered = render_screen(screen, "pl")
    cta, buttons = rendered.messages
    assert cta == LinkOut("*Order #1001 is placed.*\nTotal to pay: €22.00", "💳 Pay €22.00",
                          "https://checkout.example/c/pay/cs_1")
    assert isinstance(buttons, ButtonsOut) and buttons.body == "Wybierz opcję:"
    assert [title for _, title in buttons.buttons] == ["📦 Order status", "✕ Cancel order",
                                                       "« Menu"]
    assert [(c.number, c.url is not None) for c in rendered.choices] == [
        (1, True), (2, False), (3, False), (4, False)]


def test_photos_carry_the_text_as_caption_or_header() -> None:
    few = Screen(Text.of("Classic Tee"), rows(Button("🛒 Cart", A("cart"))), photo="demo:tee.jpg")
    assert render_screen(few, "en").messages == (
        ButtonsOut("Classic Tee", (("cart", "🛒 Cart"),), "demo:tee.jpg"),)
    many = Screen(Text.of("Classic Tee"), tuple((Button(s, A("prod", 1, i, 0, 0, 1)),)
                                                for i, s in enumerate("S M L XL".split(), 1)),
                  photo="demo:tee.jpg")
    image, choices = render_screen(many, "en").messages
    assert image == ImageOut("demo:tee.jpg", "Classic Tee")
    assert isinstance(choices, ListOut) and choices.body == "Choose an option:"


def test_long_texts_go_first_as_text_then_the_buttons() -> None:
    long_body = "\n".join(f"• line {i} " + "x" * 60 for i in range(100))  # ~7 000 characters
    screen = Screen(Text.of(long_body), rows(Button("« Menu", A("menu"))))
    messages = render_screen(screen, "en").messages
    *texts, buttons = messages
    assert len(texts) == 2 and all(isinstance(m, TextOut) for m in texts)
    assert "\n".join(m.body for m in texts if isinstance(m, TextOut)) == long_body
    assert buttons == ButtonsOut("Choose an option:", (("menu", "« Menu"),))
    for message in messages:
        check_limits(message)


def test_toasts_and_links_are_visible_in_the_text() -> None:
    screen = Screen(Text.of("Your cart: 1 item. See ", link("terms", "https://shop.example/t")),
                    toast="Added to cart")
    assert render_screen(screen, "en").messages == (
        TextOut("_Added to cart_\nYour cart: 1 item. See terms (https://shop.example/t)"),)


def test_markup_keeps_spaces_outside_the_markers() -> None:
    assert to_markup(Text.of(bold(" Total: €12 "), italic("two\nlines"))) == (
        " *Total: €12* _two_\n_lines_")


def test_numbers_run_on_across_the_screens_of_a_reply() -> None:
    first = Screen(Text.of("Receipt"), rows(Button("📦 My orders", A("orders"))))
    second = labels_of(["a", "b", "c", "d"])
    rendered = render_reply((first, second), "en")
    assert [c.number for c in rendered.choices] == [1, 2, 3, 4, 5]
    assert [r.title for r in rendered.messages[1].rows] == ["2. a", "3. b", "4. c", "5. d"]  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("Classic Tee · €20.00", 20, "Classic Tee · €20.00"),
    ("Organic Cotton Hoodie · from €45.00", 24, "Organic Cotton Hoodie…"),
    ("Supercalifragilisticexpialidocious", 10, "Supercali…"),
    ("  spaced   out  ", 20, "spaced out"),
])
def test_shorten_cuts_at_words(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected
    assert len(shorten(text, limit)) <= limit


def test_chunks_split_at_line_ends() -> None:
    text = "\n".join(["a" * 30] * 5)
    assert chunks(text, 65) == ["a" * 30 + "\n" + "a" * 30] * 2 + ["a" * 30]
    assert chunks("word " * 30, 40)[0] == ("word " * 8).strip()


def test_random_screens_always_fit() -> None:
    rng = random.Random(8)
    words = ["Tee", "Hoodie", "Organic", "Cotton", "€19.99", "·", "✓", "−", "+", "Extra-long",
             "Supercalifragilistic", "📦", "Paris", "75002"]
    for _ in range(300):
        buttons = []
        for row in range(rng.randint(0, 6)):
            cells = []
            for cell in range(rng.randint(1, 4)):
                label = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
                if rng.random() < 0.15:
                    cells.append(Button(label, url=f"https://x.example/{row}/{cell}"))
                else:
                    cells.append(Button(label, A("pick", row, cell)))
            buttons.append(tuple(cells))
        body = " ".join(rng.choice(words) for _ in range(rng.randint(0, 900)))
        screen = Screen(Text.of(body), tuple(buttons),
                        photo="demo:tee.jpg" if rng.random() < 0.3 else None)
        rendered = render_screen(screen, rng.choice(["en", "fr", "pl"]))
        for message in rendered.messages:
            check_limits(message)
        shown = {r.ident for m in rendered.messages if isinstance(m, ListOut) for r in m.rows}
        shown |= {i for m in rendered.messages if isinstance(m, ButtonsOut) for i, _ in m.buttons}
        for page in range(2, 6):
            for m in render_more(rendered.choices, rendered.paged, page, "en").messages \
                    if rendered.paged else ():
                check_limits(m)
                shown |= {r.ident for r in m.rows} if isinstance(m, ListOut) else set()
        actions = {c.action for c in rendered.choices if c.action}
        assert actions <= shown, "a choice is not reachable"
        urls = {m.url for m in rendered.messages if isinstance(m, LinkOut)}
        assert urls == {c.url for c in rendered.choices if c.url}
