"""Stock as staff see it: search results by variant, a variant's card, the low-stock list and
the low-stock alert."""

from __future__ import annotations

from admin_bot.context import Staff
from admin_bot.screens.common import A, clip
from bot.flows.screens import Button, Row, Screen, Text, bold
from shop.auth import Permission
from shop.catalog.types import ProductDetail, VariantInfo

QUICK_RESTOCK = (1, 5, 10)


def variant_name(product: ProductDetail, variant: VariantInfo) -> str:
    options = " / ".join(value for _, value in variant.options)
    return f"{product.title}" + (f" — {options}" if options else "")


def _mark(variant: VariantInfo) -> str:
    if variant.stock == 0:
        return "⛔"
    return "⚠️" if variant.stock <= variant.low_stock_threshold else "✅"


def variant_button(product: ProductDetail, variant: VariantInfo) -> Button:
    label = f"{_mark(variant)} {variant.sku} · {variant_name(product, variant)} · {variant.stock}"
    return Button(clip(label, 60), A("s.v", variant.id))


def stock_results(staff: Staff, query: str, found: list[tuple[ProductDetail, VariantInfo]],
                  more: bool) -> Screen:
    t = staff.t
    if not found:
        return Screen(Text.of(t("Nothing in the catalog matches “{query}”.", query=query)))
    heading = t("Stock for “{query}”:", query=query)
    text = Text.lines(Text.of(bold(heading)),
                      t("✅ in stock · ⚠️ at or under its threshold · ⛔ sold out"))
    if more:
        text = Text.lines(text, t("Only the first matches are shown; search more precisely."))
    return Screen(text, tuple((variant_button(p, v),) for p, v in found))


def variant_card(staff: Staff, product: ProductDetail, variant: VariantInfo, note: str = ""
                 ) -> Screen:
    t = staff.t
    parts: list[Text | str] = []
    if note:
        parts += [Text.of(bold(note)), ""]
    parts += [Text.of(bold(variant_name(product, variant))),
              t("SKU: {sku}", sku=variant.sku),
              t("In stock: {count}", count=variant.stock),
              t("Low-stock threshold: {count}", count=variant.low_stock_threshold),
              t("Price: {price}", price=t.money(variant.price))]
    buttons: list[Row] = []
    if staff.may(Permission.STOCK):
        buttons.append(tuple(Button(f"+{n}", A("s.add", variant.id, n)) for n in QUICK_RESTOCK))
        buttons.append((Button(t("Restock +N…"), A("s.addn", variant.id)),
                        Button(t("Set stock…"), A("s.set", variant.id))))
        buttons.append((Button(t("Threshold…"), A("s.thr", variant.id)),))
    buttons.append((Button(t("🔄 Refresh"), A("s.v", variant.id)),
                    Button(t("« Low stock"), A("s.low"))))
    return Screen(Text.lines(*parts), tuple(buttons), toast=note or None)


def low_stock_list(staff: Staff, found: list[tuple[ProductDetail, VariantInfo]],
                   total: int) -> Screen:
    """The emptiest variants under their threshold (`found`) of `total` in all."""
    t = staff.t
    if not found:
        return Screen(Text.of(t("Nothing is under its low-stock threshold. 👍")))
    title = (t("Under the low-stock threshold ({count}):", count=total) if total <= len(found)
             else t("Under the low-stock threshold: {count}, the emptiest {shown} here:",
                    count=total, shown=len(found)))
    return Screen(Text.of(bold(title)), tuple((variant_button(p, v),) for p, v in found))


def low_stock_alert(staff: Staff, product: ProductDetail, variant: VariantInfo,
                    stock: int, threshold: int) -> Screen:
    t = staff.t
    text = Text.lines(
        Text.of(bold(t("⚠️ Low stock: {name}", name=variant_name(product, variant)))),
        t("SKU {sku}: {count} left (threshold {threshold}).", sku=variant.sku, count=stock,
          threshold=threshold))
    buttons: list[Row] = []
    if staff.may(Permission.STOCK):
        buttons.append((Button(t("📦 Restock…"), A("s.addn", variant.id)),
                        Button(t("Set stock…"), A("s.set", variant.id))))
    buttons.append((Button(t("📋 Open"), A("s.v", variant.id)),))
    return Screen(text, tuple(buttons), new_message=True)
