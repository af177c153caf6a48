"""The HTML document of the pages customers open from a chat (payment pages): small, mobile
sized, in one language."""

from __future__ import annotations

import html

from aiohttp import web


def html_page(shop_name: str, language: str, body: str, status: int = 200) -> web.Response:
    """`body` (HTML, already escaped) as a page titled with the shop's name."""
    document = ("<!doctype html><html><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{html.escape(shop_name)}</title></head>"
                f'<body lang="{html.escape(language)}">{body}</body></html>')
    return web.Response(text=document, content_type="text/html", status=status)
