"""The native catalog CSV (DESIGN.md section 4): reading it into plain objects, writing rows.

One row per variant; rows sharing a `handle` are one product. Product-level
cells (title, description, category, option names) may be left blank on a
product's later rows; when they are filled they must repeat the first row's
value. The optional trailing columns `option3_name,option3_value` carry a third
option. The format has no "active" column: an import leaves an existing
product's active flag alone and creates new products active. Product images are
the distinct `image_url` values of a product's rows, in order of appearance.

Parsing never touches the database; the types here are shared with the Shopify
reader (`csv_shopify`) and used by the importer.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar

from shop.catalog.categories import category_path_problem, normalize_category_path
from shop.errors import InvalidInput, InvalidMoney
from shop.money import exponent, parse_currency, to_minor

NATIVE_COLUMNS = (
    "handle", "title", "description", "category", "option1_name", "option1_value",
    "option2_name", "option2_value", "sku", "price", "currency", "stock",
    "low_stock_threshold", "weight_grams", "image_url", "digital",
)
OPTION3_COLUMNS = ("option3_name", "option3_value")
MAX_HANDLE, MAX_TITLE, MAX_SKU, MAX_URL = 200, 300, 100, 2000
MAX_OPTION_NAME, MAX_OPTION_VALUE = 100, 200
_MAX_LINE_BYTES = 1 << 20
_PROGRESS_EVERY = 2000
_INTEGER = re.compile(r"^[+-]?\d+$")
_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0", ""}

Progress = Callable[[int, int], None]
T = TypeVar("T")
P = ParamSpec("P")


class ImportFileError(InvalidInput):
    """The file cannot be read as a CSV at all (missing, a directory, binary, empty …)."""

    code = "import_file"


class CellError(ValueError):
    """One cell's value is unacceptable; the message is a sentence without the line."""


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem that rejects a row (line 1: the header, so the whole file)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class RowWarning:
    """A row imported with an adjustment the person should know about."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(slots=True)
class ParsedVariant:
    sku: str
    options: tuple[str, ...]  # one value per product option name, in order
    price: int  # minor units
    currency: str
    stock: int | None  # None: the file does not say, keep the stock as it is
    low_stock_threshold: int
    weight_grams: int
    digital: bool
    image_url: str | None
    line: int


@dataclass(slots=True)
class ParsedProduct:
    handle: str
    title: str
    description: str
    category_path: str  # normalised, "" for none
    option_names: tuple[str, ...]
    active: bool | None  # None: the file does not say, keep it as it is
    images: list[str]
    variants: list[ParsedVariant]
    line: int


@dataclass(slots=True)
class ParseResult:
    products: list[ParsedProduct] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)
    rows: int = 0
    rejected_lines: set[int] = field(default_factory=set)

    def error(self, line: int, message: str) -> None:
        self.errors.append(RowError(line, message))
        if line > 1:
            self.rejected_lines.add(line)


def quoted(value: str) -> str:
    """A cell value for a message: in double quotes, shortened when long."""
    return f'"{value[:60]}…"' if len(value) > 60 else f'"{value}"'


class CsvSource:
    """Streams `(line, cells)` records from a UTF-8 CSV file, BOM and CRLF tolerated.

    `line` is the physical line where the record starts (the header is line 1),
    right even when quoted cells span several lines. Blank rows are skipped.
    """

    def __init__(self, path: Path, progress: Progress | None = None) -> None:
        self.path = path
        self.progress = progress
        self.size = _check_file(path)
        self.bytes_read = 0
        self._lines_fed = 0
        self._handle = path.open("rb")
        if b"\x00" in self._handle.read(8192):
            self.close()
            raise ImportFileError(f"{path.name} looks like a binary file, not a CSV text file")
        self._handle.seek(0)
        self._reader = csv.reader(self._decoded_lines())
        try:
            header = self._next_row()
        except BaseException:
            self.close()
            raise
        if header is None:
            self.close()
            raise ImportFileError(f"{path.name} is empty: expected a header row and data rows")
        self.header = [cell.strip() for cell in header]

    def close(self) -> None:
        self._handle.close()

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """Data records after the header; the file is closed when they run out."""
        try:
            count = 0
            while (row := self._next_row()) is not None:
                yield self._row_start, row
                count += 1
                if self.progress is not None and count % _PROGRESS_EVERY == 0:
                    self.progress(self.bytes_read, self.size)
            if self.progress is not None:
                self.progress(self.size, self.size)
        finally:
            self.close()

    def _next_row(self) -> list[str] | None:
        while True:
            self._row_start = self._reader.line_num + 1
            try:
                row = next(self._reader)
            except StopIteration:
                return None
            except csv.Error as error:
                raise ImportFileError(
                    f"{self.path.name}, line {self._row_start}: not a valid CSV record ({error})"
                ) from None
            if any(cell.strip() for cell in row):
                return row

    def _decoded_lines(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")()
        name = self.path.name
        while raw := self._handle.readline(_MAX_LINE_BYTES):
            self._lines_fed += 1
            if self._lines_fed == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            self.bytes_read += len(raw)
            if not raw.endswith(b"\n") and len(raw) == _MAX_LINE_BYTES:
                raise ImportFileError(
                    f"{name}, line {self._lines_fed} is longer than 1 MB: is this a CSV file?"
                )
            if b"\x00" in raw:
                raise ImportFileError(f"{name} looks like a binary file, not a CSV text file")
            try:
                yield decoder.decode(raw)
            except UnicodeDecodeError:
                raise ImportFileError(
                    f"{name}, line {self._lines_fed} is not UTF-8 text: save the file as "
                    "CSV UTF-8"
                ) from None


def _check_file(path: Path) -> int:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except OSError as error:
        raise ImportFileError(f"{path}: cannot be read ({error.strerror})") from None
    if path.is_dir():
        raise ImportFileError(f"{path} is a directory, not a CSV file")
    if not os.access(path, os.R_OK):
        raise ImportFileError(f"{path}: permission denied")
    return stat.st_size


def parse_price(raw: str, currency: str) -> int:
    """A decimal string in major units → minor units; refuses anything it would have to guess."""
    text = raw.strip()
    if not text:
        raise CellError("price is empty")
    if text.startswith("-") and _INTEGER.match(text.replace(".", "", 1)):
        raise CellError(f"price {quoted(raw)} is negative")
    try:
        return to_minor(text, currency)
    except InvalidMoney:
        if re.match(r"^\d+\.\d+$", text):
            raise CellError(
                f"price {quoted(raw)} has more than {exponent(currency)} decimal places "
                f"for {currency}"
            ) from None
        raise CellError(f"price {quoted(raw)} is not a plain decimal number such as 19.99") \
            from None


def parse_currency_cell(raw: str, default: str) -> str:
    if not raw.strip():
        return default
    try:
        return parse_currency(raw)
    except InvalidMoney:
        raise CellError(
            f"currency {quoted(raw)} is unknown (expected an ISO 4217 code such as EUR)"
        ) from None


def parse_count(raw: str, what: str, default: int) -> int:
    """A whole number ≥ 0 such as a stock level or a weight in grams."""
    text = raw.strip()
    if not text:
        return default
    if not _INTEGER.match(text):
        raise CellError(f"{what} {quoted(raw)} is not a whole number")
    value = int(text)
    if value < 0:
        raise CellError(f"{what} {value} is negative")
    if value > 2_000_000_000:
        raise CellError(f"{what} {value} is too large")
    return value


def parse_bool(raw: str, what: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError(f"{what} {quoted(raw)} is not true or false")


def check_length(value: str, what: str, limit: int) -> str:
    if len(value) > limit:
        raise CellError(f"{what} is {len(value)} characters long (at most {limit})")
    return value


def check_category(raw: str) -> str:
    path = normalize_category_path(raw)
    problem = category_path_problem(path)
    if problem:
        raise CellError(problem)
    return path


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
