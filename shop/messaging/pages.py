"""The pages customers land on from payment links sent in a chat (Stripe Checkout's success and
cancel URLs): a short note, in English, French and Polish, sending them back to the chat,
where the receipt arrives as soon as the payment is confirmed."""

from __future__ import annotations

import html

from aiohttp import web

SUCCESS_PATH = "/payments/stripe/success"
CANCEL_PATH = "/payments/stripe/cancel"

_SUCCESS = (
    ("en", "Thank you!", "Your payment is being confirmed. The receipt arrives in the chat; "
                         "you can close this page."),
    ("fr", "Merci !", "Votre paiement est en cours de confirmation. Le reçu arrive dans la "
                      "conversation ; vous pouvez fermer cette page."),
    ("pl", "Dziękujemy!", "Płatność jest potwierdzana. Potwierdzenie przyjdzie na czacie; "
                          "możesz zamknąć tę stronę."),
)
_CANCEL = (
    ("en", "Payment cancelled", "Nothing was charged. Your order is kept for a while: go back "
                                "to the chat to pay or cancel it."),
    ("fr", "Paiement annulé", "Rien n'a été débité. Votre commande est gardée un moment : "
                              "revenez dans la conversation pour la payer ou l'annuler."),
    ("pl", "Płatność anulowana", "Nic nie zostało pobrane. Zamówienie czeka przez chwilę: "
                                 "wróć na czat, aby je opłacić lub anulować."),
)


def _page(shop_name: str, parts: tuple[tuple[str, str, str], ...]) -> web.Response:
    sections = "".join(f'<section lang="{lang}"><h1>{html.escape(title)}</h1>'
                       f"<p>{html.escape(text)}</p></section>" for lang, title, text in parts)
    body = ("<!doctype html><html><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(shop_name)}</title></head><body>{sections}</body></html>")
    return web.Response(text=body, content_type="text/html")


def add_payment_pages(app: web.Application, shop_name: str) -> None:
    async def success(_: web.Request) -> web.Response:
        return _page(shop_name, _SUCCESS)

    async def cancel(_: web.Request) -> web.Response:
        return _page(shop_name, _CANCEL)

    app.router.add_get(SUCCESS_PATH, success)
    app.router.add_get(CANCEL_PATH, cancel)
