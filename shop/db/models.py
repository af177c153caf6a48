"""Imports every model module so the metadata Alembic compares against is complete."""

from shop.catalog import models as catalog_models
from shop.db.base import Base

metadata = Base.metadata

__all__ = ["catalog_models", "metadata"]
