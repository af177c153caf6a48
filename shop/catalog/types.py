"""Plain typed objects the catalog service returns (never ORM rows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from shop.money import Money

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    id: int
    name: str
    path: str
    parent_id: int | None
    depth: int
    # Active products in this category and all its subcategories.
    product_count: int


@dataclass(frozen=True, slots=True)
class VariantInfo:
    id: int
    product_id: int
    sku: str
    options: tuple[tuple[str, str], ...]  # (option name, value) pairs in order
    price: Money
    stock: int
    low_stock_threshold: int
    weight_grams: int
    digital: bool
    image_url: str | None

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    @property
    def is_low(self) -> bool:
        return self.stock <= self.low_stock_threshold

    @property
    def label(self) -> str:
        """The option values for people: `M / Black`, or the SKU when there are none."""
        return " / ".join(value for _, value in self.options) or self.sku


@dataclass(frozen=True, slots=True)
class ProductSummary:
    id: int
    handle: str
    title: str
    category_path: str
    min_price: Money
    max_price: Money
    stock: int  # all variants together
    image_url: str | None
    digital: bool  # every variant is digital

    @property
    def in_stock(self) -> bool:
        return self.stock > 0


@dataclass(frozen=True, slots=True)
class ProductDetail:
    id: int
    handle: str
    title: str
    description: str
    category_path: str
    option_names: tuple[str, ...]
    images: tuple[str, ...]
    active: bool
    variants: tuple[VariantInfo, ...]

    def variant(self, variant_id: int) -> VariantInfo | None:
        return next((v for v in self.variants if v.id == variant_id), None)


@dataclass(frozen=True, slots=True)
class StockChange:
    variant_id: int
    sku: str
    delta: int
    stock_after: int
    low_stock_threshold: int
    # The change took stock from above the threshold to at or below it.
    crossed_low_threshold: bool


@dataclass(frozen=True, slots=True)
class LowStock:
    """Variants under their low-stock threshold: the emptiest first (as many as asked for),
    and how many there are in all."""

    variants: list[VariantInfo]
    total: int
