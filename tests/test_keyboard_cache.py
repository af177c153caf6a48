"""Telegram keyboards built once and reused, within a bound (bot.handlers.render)."""

from __future__ import annotations

import gc

from aiogram.types import InlineKeyboardButton

from bot.flows.actions import Action
from bot.flows.screens import Button, Row
from bot.handlers.render import KeyboardCache


def _options(product: int) -> tuple[Row, ...]:
    return ((Button("S", Action.make("prod", product, 1)),
             Button("M", Action.make("prod", product, 2))),
            (Button("Back", Action.make("back")), Button("Site", url="https://shop.example/")))


def _cart(customer: int, lines: int) -> tuple[Row, ...]:
    return tuple((Button("−", Action.make("dec", customer, line)),
                  Button("+", Action.make("inc", customer, line)))
                 for line in range(lines))


def test_the_same_keyboard_is_built_once_and_sent_as_telegram_expects() -> None:
    cache = KeyboardCache()
    first = cache.markup(_options(7))
    assert cache.markup(_options(7)) is first  # equal buttons, built again by the flow
    assert cache.markup(_options(8)) is not first
    assert [[b.text for b in row] for row in first.inline_keyboard] == [["S", "M"],
                                                                       ["Back", "Site"]]
    assert first.inline_keyboard[0][1].callback_data == "prod:7:2"
    assert first.inline_keyboard[1][1].url == "https://shop.example/"
    assert first.inline_keyboard[1][1].callback_data is None


def test_the_buttons_held_stay_within_the_bound_whatever_customers_see() -> None:
    cache = KeyboardCache(max_buttons=100, largest=10)
    oldest = cache.markup(_options(0))
    for product in range(1, 500):
        cache.markup(_options(product))
        assert cache.buttons_held <= 100
    assert cache.buttons_held > 90  # full, not emptied
    # The most recently used keyboards are the ones kept.
    recent = cache.markup(_options(499))
    assert cache.markup(_options(499)) is recent
    assert cache.markup(_options(0)) is not oldest  # forgotten long ago, built anew


def test_a_big_keyboard_is_built_but_not_kept() -> None:
    cache = KeyboardCache(max_buttons=100, largest=10)
    kept = cache.markup(_options(1))
    cart = cache.markup(_cart(customer=5, lines=20))
    assert len(cart.inline_keyboard) == 20
    assert cache.markup(_cart(customer=5, lines=20)) is not cart
    assert cache.buttons_held == 4
    assert cache.markup(_options(1)) is kept


def test_many_customers_carts_do_not_grow_the_heap_the_collector_scans() -> None:
    """The regression: a bound in keyboards let 2,000 big cart keyboards (250,000 objects)
    accumulate, and every full collection scanned them (400 ms pauses under load)."""
    cache = KeyboardCache()
    gc.collect()
    before = sum(isinstance(o, InlineKeyboardButton) for o in gc.get_objects())
    for customer in range(3000):
        cache.markup(_cart(customer, lines=customer % 30 + 1))
        cache.markup(_options(customer % 400))
    gc.collect()
    after = sum(isinstance(o, InlineKeyboardButton) for o in gc.get_objects())
    assert after - before <= 2_000
