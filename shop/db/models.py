"""Imports every model module so the metadata Alembic compares against is complete."""

from shop.cart import models as cart_models
from shop.catalog import models as catalog_models
from shop.customers import models as customer_models
from shop.db.base import Base
from shop.events import models as event_models
from shop.messaging import models as messaging_models
from shop.orders import models as order_models
from shop.payments import models as payment_models
from shop.reports import models as report_models
from shop.shipping import models as shipping_models
from shop.staff import models as staff_models
from shop.support import models as support_models

metadata = Base.metadata

__all__ = [
    "cart_models",
    "catalog_models",
    "customer_models",
    "event_models",
    "messaging_models",
    "metadata",
    "order_models",
    "payment_models",
    "report_models",
    "shipping_models",
    "staff_models",
    "support_models",
]
