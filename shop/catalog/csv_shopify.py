"""Shopify's product CSV export, read into the same plain objects as the native format.

How Shopify's columns map onto the catalog, and the decisions taken where they
do not map one to one:

- Rows sharing a Handle are one product; its first row carries the product
  fields (Title, Body (HTML), Type, Product Category, Status, option names).
  A later row is a variant row when it has an Option1 Value, a Variant SKU or a
  Variant Price, and otherwise an image row (Image Src, Image Position).
- Body (HTML) becomes plain text: tags dropped, entities unescaped, paragraphs
  and `<br>` kept as line breaks.
- Category: `Type` when filled, else `Product Category` with ` > ` read as `/`.
- Status `active` (or empty) → active; `draft` and `archived` → inactive. Old
  exports without a Status column use Published instead.
- Option1 Name `Title` with value `Default Title` is Shopify's placeholder for a
  product without options: it gets no options.
- Images are ordered by Image Position; a Variant Image becomes that variant's
  image (and is added to the product's images when missing there).
- Digital: a variant whose `Variant Requires Shipping` is FALSE is digital
  (gift cards, downloads and services are exported that way by Shopify).
- Shopify exports carry no currency: prices are read in the shop currency.
- A blank Variant SKU gets a stable generated SKU from the handle and option
  values (`CLASSIC-TEE-M-BLACK`), with a warning.
- A negative Variant Inventory Qty (Shopify lets a shop oversell) is imported
  as 0 with a warning. Without a Variant Inventory Qty column (recent exports
  keep inventory in a separate file) existing stock is kept and new variants
  start at 0.
- Weight comes from Variant Grams (decimals rounded to the gram).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import TypeVar

from shop.catalog.csv_common import (
    MAX_HANDLE,
    MAX_OPTION_NAME,
    MAX_OPTION_VALUE,
    MAX_SKU,
    MAX_TITLE,
    MAX_URL,
    CellError,
    CsvSource,
    ParsedProduct,
    ParsedVariant,
    ParseResult,
    Progress,
    RowWarning,
    check_category,
    check_length,
    parse_price,
    quoted,
)

REQUIRED = ("Handle", "Title", "Variant Price")
_BLOCKS = frozenset("p div h1 h2 h3 h4 h5 h6 ul ol li tr table blockquote pre section".split())
_SIGNED = re.compile(r"^[+-]?\d+$")
_GRAMS = re.compile(r"^\d+(\.\d+)?$")
T = TypeVar("T")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
            if tag == "li":
                self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            # ASCII whitespace only: a no-break space (`30&nbsp;°C`) is meant to stay.
            self.parts.append(re.sub(r"[ \t\r\n\f\v]+", " ", data))


def html_to_text(html: str) -> str:
    """Shopify's Body (HTML) as plain text with paragraph and line breaks kept."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = [line.strip() for line in "".join(extractor.parts).split("\n")]
    text = "\n".join(lines)
    # List items are blocks too; keep consecutive items on consecutive lines.
    text = re.sub(r"\n{2,}(?=- )", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def generated_sku(handle: str, options: tuple[str, ...]) -> str:
    """`classic-tee`, (`M`, `Black`) → `CLASSIC-TEE-M-BLACK`."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", "-".join((handle, *options))).strip("-").upper()
    return slug[:MAX_SKU].rstrip("-") or "SKU"


def parse_shopify(
    path: Path, *, currency: str, low_stock_threshold: int, progress: Progress | None = None
) -> ParseResult:
    """Read a Shopify product CSV export into products, with every problem and its line."""
    source = CsvSource(path, progress)
    result = ParseResult()
    columns: dict[str, int] = {}
    for i, name in enumerate(source.header):
        columns.setdefault(name.lower(), i)
    missing = [name for name in REQUIRED if name.lower() not in columns]
    if missing:
        listed = ", ".join(f'"{name}"' for name in missing)
        result.error(1, f"the header has no {listed} column{'s' if len(missing) > 1 else ''}; "
                        "is this a Shopify product export?")
    if result.errors:
        source.close()
        return result
    if "variant inventory qty" not in columns:
        result.warnings.append(RowWarning(1, 'there is no "Variant Inventory Qty" column: stock '
                                             "of existing variants is kept, new ones start at 0"))
    reader = _ShopifyRows(result, columns, currency, low_stock_threshold)
    for line, cells in source.records():
        result.rows += 1
        reader.add(line, cells)
    result.products = reader.finish()
    return result


class _ShopifyRows:
    def __init__(self, result: ParseResult, columns: dict[str, int], currency: str,
                 threshold: int) -> None:
        self.result = result
        self.col = columns
        self.currency = currency
        self.threshold = threshold
        self.products: dict[str, ParsedProduct] = {}
        # (position or None, order seen, url) per handle; sorted at the end.
        self.images: dict[str, list[tuple[float, int, str]]] = {}
        self.sku_lines: dict[str, int] = {}

    def cell(self, cells: list[str], name: str) -> str:
        index = self.col.get(name.lower())
        return cells[index].strip() if index is not None and index < len(cells) else ""

    def add(self, line: int, cells: list[str]) -> None:
        problems: list[str] = []

        def check(parse: Callable[[], T]) -> T | None:
            try:
                return parse()
            except CellError as error:
                problems.append(str(error))
                return None

        def get(name: str) -> str:
            return self.cell(cells, name)

        handle = get("Handle")
        if not handle:
            self.result.error(line, "Handle is empty")
            return
        check(lambda: check_length(handle, "Handle", MAX_HANDLE))
        product = self.products.get(handle)
        if product is None:
            product = self._product(line, handle, get, check, problems)
        image = get("Image Src")
        if image and check(lambda: check_length(image, "Image Src", MAX_URL)):
            position = get("Image Position")
            order = float(position) if position.isdigit() else float("inf")
            images = self.images.setdefault(handle, [])
            images.append((order, len(images), image))
        if get("Option1 Value") or get("Variant SKU") or get("Variant Price"):
            self._variant(line, product, get, check, problems)
        for message in problems:
            self.result.error(line, message)

    def _product(self, line: int, handle: str, get: Callable[[str], str],
                 check: Callable[[Callable[[], str]], str | None],
                 problems: list[str]) -> ParsedProduct:
        title = get("Title")
        if not title:
            problems.append("Title is empty on the first row of this handle")
        check(lambda: check_length(title, "Title", MAX_TITLE))
        category_raw = get("Type") or get("Product Category").replace(" > ", "/")
        category = check(lambda: check_category(category_raw)) or ""
        names = [get(f"Option{i} Name") for i in (1, 2, 3)]
        if names[0] == "Title" and get("Option1 Value") == "Default Title":
            names[0] = ""
        for i, name in enumerate(names, start=1):
            if len(name) > MAX_OPTION_NAME:
                problems.append(f"Option{i} Name is longer than {MAX_OPTION_NAME} characters")
        status = get("Status").lower()
        if "status" in self.col:
            active = status not in ("draft", "archived")
        else:
            active = get("Published").lower() != "false"
        product = ParsedProduct(
            handle=handle, title=title, description=html_to_text(get("Body (HTML)")),
            category_path=category, option_names=tuple(n for n in names if n), active=active,
            images=[], variants=[], line=line,
        )
        self.products[handle] = product
        return product

    def _variant(self, line: int, product: ParsedProduct, get: Callable[[str], str],
                 check: Callable[[Callable[[], int]], int | None],
                 problems: list[str]) -> None:
        options = tuple(get(f"Option{i} Value") for i in range(1, len(product.option_names) + 1))
        for i, value in enumerate(options, start=1):
            if not value:
                problems.append(f"Option{i} Value is empty but the product has the option "
                                f"{quoted(product.option_names[i - 1])}")
            elif len(value) > MAX_OPTION_VALUE:
                problems.append(f"Option{i} Value is longer than {MAX_OPTION_VALUE} characters")
        sku = get("Variant SKU")
        if not sku:
            sku = generated_sku(product.handle, options)
            base, n = sku, 2
            while sku in self.sku_lines:
                sku, n = f"{base[: MAX_SKU - 4]}-{n}", n + 1
            self.result.warnings.append(RowWarning(line, f"Variant SKU is empty; using {sku}"))
        elif len(sku) > MAX_SKU:
            problems.append(f"Variant SKU is {len(sku)} characters long (at most {MAX_SKU})")
        elif sku in self.sku_lines:
            problems.append(f"SKU {quoted(sku)} is already used on line {self.sku_lines[sku]}")
        self.sku_lines.setdefault(sku, line)
        price = check(lambda: parse_price(get("Variant Price"), self.currency))
        stock = self._stock(line, get("Variant Inventory Qty"), problems)
        grams_raw = get("Variant Grams") or "0"
        grams = 0
        if _GRAMS.match(grams_raw):
            grams = int(Decimal(grams_raw).to_integral_value(ROUND_HALF_UP))
        else:
            problems.append(f"Variant Grams {quoted(grams_raw)} is not a number of grams")
        image = get("Variant Image")
        check(lambda: len(check_length(image, "Variant Image", MAX_URL)))
        if problems or price is None:
            return
        if image:
            images = self.images.setdefault(product.handle, [])
            images.append((float("inf"), len(images), image))
        product.variants.append(ParsedVariant(
            sku=sku, options=options, price=price, currency=self.currency, stock=stock,
            low_stock_threshold=self.threshold, weight_grams=grams,
            digital=get("Variant Requires Shipping").lower() == "false",
            image_url=image or None, line=line,
        ))

    def _stock(self, line: int, raw: str, problems: list[str]) -> int | None:
        if "variant inventory qty" not in self.col:
            return None
        if not raw:
            return 0
        if not _SIGNED.match(raw):
            problems.append(f"Variant Inventory Qty {quoted(raw)} is not a whole number")
            return 0
        value = int(raw)
        if value < 0:
            self.result.warnings.append(RowWarning(
                line, f"Variant Inventory Qty is {value} (oversold in Shopify); imported as 0"))
            return 0
        return value

    def finish(self) -> list[ParsedProduct]:
        for handle, product in self.products.items():
            seen: set[str] = set()
            for _, _, url in sorted(self.images.get(handle, [])):
                if url not in seen:
                    seen.add(url)
                    product.images.append(url)
            if not product.variants and product.line not in self.result.rejected_lines:
                self.result.error(product.line, f"product {quoted(handle)} has no variant row "
                                                "(no Variant Price)")
        return [p for p in self.products.values() if p.variants]
