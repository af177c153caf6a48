"""The pages customers land on from a Stripe Checkout link sent in a chat (its success and
cancel URLs): a short note sending them back to the chat, where the receipt arrives once
the payment is confirmed. In the customer's language: the link carries it (`lang`, added by
`shop.payments.stripe_checkout`); else the browser's, else the shop's default."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.channels.web_page import html_page
from bot.i18n import LANGUAGES, Translator, pick_language
from shop.payments.stripe_checkout import CANCEL_PATH, SUCCESS_PATH

Texts = Callable[[Translator], tuple[str, str]]


def _paid(t: Translator) -> tuple[str, str]:
    return (t("Thank you!"),
            t("Your payment is being confirmed. The receipt arrives in the chat; you can close "
              "this page."))


def _cancelled(t: Translator) -> tuple[str, str]:
    return (t("Payment cancelled"),
            t("Nothing was charged. Your order is kept for a while: go back to the chat to pay "
              "or cancel it."))


def page_language(request: web.Request, default: str) -> str:
    """The link's `lang`, else the browser's first choice, else `default`."""
    asked = request.query.get("lang", "")
    if asked in LANGUAGES:
        return asked
    browser = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0]
    return pick_language(browser or None, default)


def stripe_pages(shop_name: str, default_language: str) -> Callable[[web.Application], None]:
    """Mounts the two pages on the HTTP server (a `shop.web.app.Mount`)."""
    def page(texts: Texts) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def show(request: web.Request) -> web.Response:
            language = page_language(request, default_language)
            title, text = texts(Translator(language))
            return html_page(shop_name, language,
                             f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>")
        return show

    def mount(app: web.Application) -> None:
        app.router.add_get(SUCCESS_PATH, page(_paid))
        app.router.add_get(CANCEL_PATH, page(_cancelled))

    return mount
