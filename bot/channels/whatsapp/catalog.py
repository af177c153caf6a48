"""The business catalog on WhatsApp (when WHATSAPP_CATALOG_ID is set): a category's products
as a product-list message beside our own list (a product message when it holds just one),
and a customer's catalog order turned into their cart, matched by SKU (the catalog's
retailer ids are our SKUs)."""

from __future__ import annotations

import logging

from bot.channels.whatsapp.inbound import CatalogOrder
from bot.channels.whatsapp.limits import PRODUCTS_MAX, SECTION_TITLE_MAX, shorten
from bot.channels.whatsapp.outgoing import Outgoing, ProductOut, ProductsOut
from bot.flows.cart import cart_screen
from bot.flows.catalog import PAGE_SIZE
from bot.flows.context import Conversation, Deps
from bot.flows.inputs import Input, Press
from bot.flows.screens import Reply
from shop.errors import InvalidInput, NotFound, OutOfStock

log = logging.getLogger(__name__)
HEADER_MAX = 60


class CatalogMessages:
    def __init__(self, deps: Deps, catalog_id: str | None) -> None:
        self.deps = deps
        self.catalog_id = catalog_id

    async def after(self, convo: Conversation, received: Input) -> tuple[Outgoing, ...]:
        """A product-list message for a category page the customer just opened."""
        if not self.catalog_id or not isinstance(received, Press) or received.action is None:
            return ()
        action = received.action
        if action.name != "cat" or not action.args:
            return ()
        catalog = self.deps.shop.catalog
        try:
            category_id = action.int(0)
            page = action.int(1) if len(action.args) > 1 else 1
        except ValueError:
            return ()
        current = next((c for c in await catalog.categories() if c.id == category_id), None)
        if current is None:
            return ()
        listing = await catalog.products(current.path, page=max(1, page), page_size=PAGE_SIZE)
        sections: list[tuple[str, tuple[str, ...]]] = []
        count = 0
        for summary in listing.items:
            try:
                detail = await catalog.product(product_id=summary.id)
            except NotFound:
                continue
            skus = tuple(v.sku for v in detail.variants if v.in_stock)[: PRODUCTS_MAX - count]
            if skus:
                sections.append((shorten(detail.title, SECTION_TITLE_MAX), skus))
                count += len(skus)
        if not sections:
            return ()
        name = current.path.replace("/", " › ")
        body = convo.t("{category}: tap a product to see it and add it to your cart.",
                       category=name)
        if count == 1:
            return (ProductOut(self.catalog_id, sections[0][1][0], body),)
        return (ProductsOut(self.catalog_id, shorten(name, HEADER_MAX), body, tuple(sections)),)

    async def order_to_cart(self, convo: Conversation, order: CatalogOrder) -> Reply:
        """Put an order from the catalog in the cart; say clearly what could not be."""
        shop = self.deps.shop
        added: list[str] = []
        unknown: list[str] = []
        sold_out: list[str] = []
        for item in order.items:
            try:
                variant = await shop.catalog.variant(sku=item.sku)
                await shop.carts.add(convo.customer_id, variant.id, item.quantity)
            except NotFound:
                unknown.append(item.sku)
            except OutOfStock:
                sold_out.append(f"{item.sku} × {item.quantity}")
            except InvalidInput as refused:
                log.info("catalog order line %s refused: %s", item.sku, refused.message)
                sold_out.append(f"{item.sku} × {item.quantity}")
            else:
                added.append(f"{item.quantity} × {item.sku}")
        lines = []
        t = convo.t
        if added:
            lines.append(t("From your order, added to the cart: {items}.",
                           items=", ".join(added)))
        if unknown:
            lines.append(t("Not sold here (any more): {skus}.", skus=", ".join(unknown)))
        if sold_out:
            lines.append(t("Sold out or not enough in stock: {items}.",
                           items=", ".join(sold_out)))
        if not added:
            lines.append(t("Nothing from that order could be added to your cart."))
        cart = await shop.carts.view(convo.customer_id)
        return Reply.of(cart_screen(convo, cart, note="\n".join(lines)))
