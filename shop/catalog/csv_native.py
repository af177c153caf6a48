"""The native catalog CSV (DESIGN.md section 4): reading it into plain objects, writing rows.

One row per variant; rows sharing a `handle` are one product. Product-level
cells (title, description, category, option names) may be left blank on a
product's later rows; when they are filled they must repeat the first row's
value. The optional trailing columns `option3_name,option3_value` carry a third
option. The format has no "active" column: an import leaves an existing
product's active flag alone and creates new products active. Product images are
the distinct `image_url` values of a product's rows, in order of appearance.

Parsing never touches the database; reading the file, the cell parsers and the parsed
types are shared with the Shopify reader (`csv_common`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

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
    parse_bool,
    parse_count,
    parse_currency_cell,
    parse_price,
    quoted,
)

NATIVE_COLUMNS = (
    "handle", "title", "description", "category", "option1_name", "option1_value",
    "option2_name", "option2_value", "sku", "price", "currency", "stock",
    "low_stock_threshold", "weight_grams", "image_url", "digital",
)
OPTION3_COLUMNS = ("option3_name", "option3_value")
T = TypeVar("T")
P = ParamSpec("P")

def parse_native(
    path: Path, *, currency: str, low_stock_threshold: int, progress: Progress | None = None
) -> ParseResult:
    """Read a native catalog CSV into products, with every problem found and its line."""
    source = CsvSource(path, progress)
    result = ParseResult()
    columns = {name.lower(): i for i, name in reversed(list(enumerate(source.header)))}
    missing = [name for name in NATIVE_COLUMNS if name not in columns]
    if missing:
        listed = ", ".join(f'"{name}"' for name in missing)
        result.error(1, f"the header has no {listed} column{'s' if len(missing) > 1 else ''} "
                        f"(expected: {','.join(NATIVE_COLUMNS)})")
    if (OPTION3_COLUMNS[0] in columns) != (OPTION3_COLUMNS[1] in columns):
        result.error(1, 'the header must have both "option3_name" and "option3_value" or neither')
    for name in columns.keys() - {*NATIVE_COLUMNS, *OPTION3_COLUMNS}:
        result.warnings.append(RowWarning(1, f'column "{name}" is not used and is ignored'))
    if result.errors:
        source.close()
        return result
    reader = _NativeRows(result, columns, len(source.header), currency, low_stock_threshold)
    for line, cells in source.records():
        result.rows += 1
        reader.add(line, cells)
    result.products = reader.finish()
    return result


class _NativeRows:
    """Accumulates rows into products, checking each cell and cross-row consistency."""

    def __init__(self, result: ParseResult, columns: dict[str, int], width: int,
                 currency: str, threshold: int) -> None:
        self.result = result
        self.width = width
        self.at = [columns[name] for name in NATIVE_COLUMNS]
        self.option_at = [(columns[f"option{i}_name"], columns[f"option{i}_value"])
                          for i in (1, 2, 3) if f"option{i}_name" in columns]
        self.currency = currency
        self.threshold = threshold
        self.products: dict[str, ParsedProduct] = {}
        self.sku_lines: dict[str, int] = {}

    def add(self, line: int, cells: list[str]) -> None:
        problems: list[str] = []

        def check(parse: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
            try:
                return parse(*args, **kwargs)
            except CellError as error:
                problems.append(str(error))
                return None

        if len(cells) > self.width and any(c.strip() for c in cells[self.width:]):
            # Every later cell is shifted too; its errors would only bury the real one.
            self.result.error(line, f"the row has {len(cells)} values but the header has "
                              f"{self.width} columns (is a comma inside an unquoted value?)")
            return
        cells += [""] * (self.width - len(cells))
        description = cells[self.at[2]]
        (handle, title, _, category_raw, _, _, _, _, sku, price_raw, currency_raw, stock_raw,
         threshold_raw, weight_raw, image, digital_raw) = (cells[i].strip() for i in self.at)
        if not handle:
            problems.append("handle is empty")
        check(check_length, handle, "handle", MAX_HANDLE)
        check(check_length, title, "title", MAX_TITLE)
        category = check(check_category, category_raw)
        names, values = [], []
        for i, (name_at, value_at) in enumerate(self.option_at, start=1):
            names.append(cells[name_at].strip())
            values.append(sys.intern(cells[value_at].strip()))
            if len(names[-1]) > MAX_OPTION_NAME:
                problems.append(f"option{i}_name is longer than {MAX_OPTION_NAME} characters")
            if len(values[-1]) > MAX_OPTION_VALUE:
                problems.append(f"option{i}_value is longer than {MAX_OPTION_VALUE} characters")
        if not sku:
            problems.append("sku is empty")
        check(check_length, sku, "sku", MAX_SKU)
        if sku in self.sku_lines:
            problems.append(f"SKU {quoted(sku)} is already used on line {self.sku_lines[sku]}")
        elif sku:
            self.sku_lines[sku] = line
        currency = check(parse_currency_cell, currency_raw, self.currency)
        price = check(parse_price, price_raw, currency) if currency else None
        stock = check(parse_count, stock_raw, "stock", 0)
        threshold = check(parse_count, threshold_raw, "low_stock_threshold", self.threshold)
        weight = check(parse_count, weight_raw, "weight_grams", 0)
        check(check_length, image, "image_url", MAX_URL)
        digital = check(parse_bool, digital_raw, "digital")

        product = self.products.get(handle)
        if product is None and handle:
            if not title:
                problems.append("title is empty")
            for i in range(1, len(names)):
                if names[i] and not names[i - 1]:
                    problems.append(f"option{i + 1}_name is given but option{i}_name is empty")
            # Registered despite variant problems, so later rows are not blamed for them.
            if not problems or (title and category is not None and len(title) <= MAX_TITLE
                                and len(handle) <= MAX_HANDLE):
                product = self.products[handle] = ParsedProduct(
                    handle=handle, title=title, description=description,
                    category_path=category or "", option_names=tuple(n for n in names if n),
                    active=None, images=[], variants=[], line=line)
        elif product is not None:
            _check_same(product, title, description, category, names, problems)
        options = _options(product, values, problems) if product else ()
        if problems or product is None:
            for message in problems:
                self.result.error(line, message)
            return
        assert currency and price is not None and stock is not None  # no problems: all parsed
        assert threshold is not None and weight is not None and digital is not None
        if image and image not in product.images:
            product.images.append(image)
        product.variants.append(ParsedVariant(
            sku=sku, options=options, price=price, currency=sys.intern(currency), stock=stock,
            low_stock_threshold=threshold, weight_grams=weight, digital=digital,
            image_url=image or None, line=line))

    def finish(self) -> list[ParsedProduct]:
        """The products, once options repeated within a product are reported."""
        for product in self.products.values():
            seen: dict[tuple[str, ...], int] = {}
            for variant in product.variants:
                first = seen.setdefault(variant.options, variant.line)
                if variant.options and first != variant.line:
                    self.result.error(variant.line, f"options {' / '.join(variant.options)} "
                                      f"repeat line {first} of product {quoted(product.handle)}")
        return list(self.products.values())


def _check_same(product: ParsedProduct, title: str, description: str, category: str | None,
                names: list[str], problems: list[str]) -> None:
    here = f"line {product.line} of the same handle"
    if title and title != product.title:
        problems.append(f"title {quoted(title)} differs from {quoted(product.title)} on {here}")
    if description.strip() and description != product.description:
        problems.append(f"description differs from the one on {here}")
    if category and category != product.category_path:
        problems.append(f"category {quoted(category)} differs from "
                        f"{quoted(product.category_path)} on {here}")
    for i, name in enumerate(names):
        known = product.option_names[i] if i < len(product.option_names) else ""
        if name and name != known:
            problems.append(f"option{i + 1}_name {quoted(name)} differs from "
                            f"{quoted(known)} on {here}")


def _options(product: ParsedProduct, values: list[str], problems: list[str]) -> tuple[str, ...]:
    for i, value in enumerate(values):
        if i < len(product.option_names):
            if not value:
                problems.append(f"option{i + 1}_value is empty but the product has the "
                                f"option {quoted(product.option_names[i])}")
        elif value:
            problems.append(f"option{i + 1}_value {quoted(value)} is given but the "
                            f"product has no option{i + 1}_name")
    return tuple(values[: len(product.option_names)])


def native_header(with_option3: bool) -> list[str]:
    """The header row the exporter writes."""
    return list(NATIVE_COLUMNS + OPTION3_COLUMNS) if with_option3 else list(NATIVE_COLUMNS)
