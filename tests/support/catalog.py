"""Seeding products straight through the ORM, for tests that are not about the importer."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.catalog.categories import ensure_category_path
from shop.catalog.models import Product, ProductImage, Variant


@dataclass
class VariantSpec:
    sku: str
    price: int = 1000
    stock: int = 10
    options: tuple[str, ...] = ()
    threshold: int = 5
    digital: bool = False
    currency: str = "EUR"
    weight: int = 100


@dataclass
class ProductSpec:
    handle: str
    title: str
    category: str = ""
    variants: list[VariantSpec] = field(default_factory=list)
    option_names: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    active: bool = True


async def add_products(sessions: async_sessionmaker[AsyncSession], *specs: ProductSpec
                       ) -> dict[str, Product]:
    """Insert the products; returns them by handle (ids filled in)."""
    created: dict[str, Product] = {}
    async with sessions.begin() as session:
        for spec in specs:
            category = await ensure_category_path(session, spec.category) if spec.category else None
            names = [*spec.option_names, None, None, None]
            product = Product(
                handle=spec.handle, title=spec.title, description=f"About {spec.title}.",
                category_id=category.id if category else None, active=spec.active,
                option1_name=names[0], option2_name=names[1], option3_name=names[2],
            )
            product.images = [ProductImage(position=i, url=u) for i, u in enumerate(spec.images)]
            for position, v in enumerate(spec.variants or [VariantSpec(spec.handle.upper())]):
                values = [*v.options, None, None, None]
                product.variants.append(Variant(
                    position=position, sku=v.sku, price=v.price, currency=v.currency,
                    stock=v.stock, low_stock_threshold=v.threshold, weight_grams=v.weight,
                    digital=v.digital, option1=values[0], option2=values[1], option3=values[2],
                ))
            session.add(product)
            created[spec.handle] = product
    return created
