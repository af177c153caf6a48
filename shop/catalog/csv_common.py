"""What the native and the Shopify catalog CSV readers share: reading the file (`CsvSource`),
parsing and checking cells, and the parsed types the importer takes."""

from __future__ import annotations

import codecs
import csv
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from shop.catalog.categories import category_path_problem, normalize_category_path
from shop.errors import InvalidInput, InvalidMoney
from shop.money import exponent, parse_currency, to_minor

MAX_HANDLE, MAX_TITLE, MAX_SKU, MAX_URL = 200, 300, 100, 2000
MAX_OPTION_NAME, MAX_OPTION_VALUE = 100, 200
_MAX_LINE_BYTES = 1 << 20
_PROGRESS_EVERY = 2000
_INTEGER = re.compile(r"^[+-]?\d+$")
_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0", ""}

Progress = Callable[[int, int], None]


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
