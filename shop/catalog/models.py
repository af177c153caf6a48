"""Catalog tables: categories (a tree), products, their images and variants, stock history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.db.base import Base, BigIntPK, UTCDateTime, utcnow


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # The full path ("Clothing/T-shirts") is stored so lookups and subtree
    # queries (`path LIKE 'Clothing/%'`) need no recursive SQL.
    path: Mapped[str] = mapped_column(String(500), unique=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)

    parent: Mapped[Category | None] = relationship(remote_side=[id])


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    handle: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True
    )
    option1_name: Mapped[str | None] = mapped_column(String(100))
    option2_name: Mapped[str | None] = mapped_column(String(100))
    option3_name: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    category: Mapped[Category | None] = relationship()
    images: Mapped[list[ProductImage]] = relationship(
        order_by="ProductImage.position", cascade="all, delete-orphan"
    )
    variants: Mapped[list[Variant]] = relationship(
        order_by="Variant.position", cascade="all, delete-orphan", back_populates="product"
    )


class ProductImage(Base):
    __tablename__ = "product_images"
    __table_args__ = (UniqueConstraint("product_id", "position"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2000))


class Variant(Base):
    __tablename__ = "variants"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("low_stock_threshold >= 0", name="threshold_not_negative"),
        CheckConstraint("weight_grams >= 0", name="weight_not_negative"),
        Index("ix_variants_product_position", "product_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    sku: Mapped[str] = mapped_column(String(100), unique=True)
    option1: Mapped[str | None] = mapped_column(String(200))
    option2: Mapped[str | None] = mapped_column(String(200))
    option3: Mapped[str | None] = mapped_column(String(200))
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # Units available for sale: reservations take from it, releases give back.
    stock: Mapped[int] = mapped_column(Integer, default=0)
    low_stock_threshold: Mapped[int] = mapped_column(Integer, default=5)
    weight_grams: Mapped[int] = mapped_column(Integer, default=0)
    digital: Mapped[bool] = mapped_column(Boolean, default=False)
    image_url: Mapped[str | None] = mapped_column(String(2000))

    product: Mapped[Product] = relationship(back_populates="variants")


class StockAdjustment(Base):
    """Every change of a variant's stock, with who made it and why."""

    __tablename__ = "stock_adjustments"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    variant_id: Mapped[int] = mapped_column(
        ForeignKey("variants.id", ondelete="CASCADE"), index=True
    )
    delta: Mapped[int] = mapped_column(Integer)
    stock_after: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500))
    # True when this change took the stock from above the low-stock threshold
    # to at or below it: the one moment staff should be alerted.
    crossed_low_threshold: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogChange(Base):
    """A change other processes' search indexes must pick up: one product (by product or
    variant id), or the whole catalog when both are NULL (after an import)."""

    __tablename__ = "catalog_changes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    product_id: Mapped[int | None] = mapped_column(BigInteger)
    variant_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
