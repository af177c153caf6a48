"""Shipping methods configured in the database."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from shop.db.base import Base, BigIntPK


class ShippingMethod(Base):
    __tablename__ = "shipping_methods"
    __table_args__ = (
        CheckConstraint("kind IN ('pickup', 'flat', 'weight_bands')", name="kind_known"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    price: Mapped[int] = mapped_column(BigInteger, default=0)  # flat price, minor units
    currency: Mapped[str] = mapped_column(String(3))
    # Free when the goods total (after discount) reaches this; None: never free.
    free_over: Mapped[int | None] = mapped_column(BigInteger)
    # weight_bands: [[max_grams, price], ...] ascending; heavier parcels: not offered.
    bands: Mapped[list[list[int]] | None] = mapped_column(JSON)
    # ISO country codes it delivers to; ["*"] for everywhere.
    countries: Mapped[list[str]] = mapped_column(JSON)
    # False: the customer collects the order (at the shop, a collection point), so checkout
    # asks for no address. Always False for the pickup kind; a priced flat method may be too.
    needs_address: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
