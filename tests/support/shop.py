"""A whole shop (every service wired as in production) on a test database, with a clock
the test moves by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shop.auth import CustomerActor, StaffActor
from shop.bootstrap import Shop, build_shop
from shop.customers.types import AddressInput
from shop.orders.checkout import CheckoutRequest
from shop.orders.types import OrderView
from shop.settings import StaffRole, load_settings
from shop.shipping.admin import default_methods, install_methods
from tests.conftest import Database
from tests.support.catalog import ProductSpec, VariantSpec, add_products

OWNER = StaffActor(1, StaffRole.OWNER)
MANAGER = StaffActor(2, StaffRole.MANAGER)
SUPPORT = StaffActor(3, StaffRole.SUPPORT)


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 2, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_shop(database: Database, clock: Clock, **settings: Any) -> Shop:
    return build_shop(load_settings(database_url=database.url, **settings), database.engine,
                      clock=clock)


async def seed_basics(shop: Shop) -> dict[str, int]:
    """A tee (2 sizes), a mug with little stock, an e-book; the demo shipping methods.
    Returns variant ids by SKU and shipping method ids by code."""
    await add_products(
        shop.sessions,
        ProductSpec("tee", "Classic Tee", "Clothing", option_names=("Size",), variants=[
            VariantSpec("TEE-M", 2000, 50, ("M",), weight=200),
            VariantSpec("TEE-L", 2200, 50, ("L",), weight=220)]),
        ProductSpec("mug", "Enamel Mug", "Home", variants=[
            VariantSpec("MUG", 1250, 3, threshold=2, weight=300)]),
        ProductSpec("ebook", "Python E-book", "Digital", variants=[
            VariantSpec("EBOOK", 900, 9999, digital=True, threshold=0, weight=0)]),
    )
    async with shop.sessions.begin() as session:
        methods = await install_methods(session, default_methods("EUR"))
    ids = {m.code: m.id for m in methods}
    for sku in ("TEE-M", "TEE-L", "MUG", "EBOOK"):
        ids[sku] = (await shop.catalog.variant(sku=sku)).id
    return ids


async def customer(shop: Shop, external_id: str) -> tuple[CustomerActor, int]:
    """A customer with one address in France; returns the actor and the address id."""
    info = await shop.customers.get_or_create("telegram", external_id, name=f"C {external_id}")
    address = await shop.customers.add_address(info.id, AddressInput(
        name=f"C {external_id}", street="1 rue de la Paix", city="Paris", postcode="75002",
        country="FR"))
    return CustomerActor(info.id), address.id


async def buy(shop: Shop, actor: CustomerActor, address_id: int, method_id: int,
              items: dict[int, int]) -> OrderView:
    """Cart → checkout (awaiting payment)."""
    for variant_id, quantity in items.items():
        await shop.carts.add(actor.customer_id, variant_id, quantity)
    return await shop.orders.checkout(CheckoutRequest(actor.customer_id, address_id, method_id))


async def pay(shop: Shop, actor: CustomerActor, order_id: int) -> str:
    """Pay with the built-in test provider; returns the confirmation token."""
    token = await shop.payments.test_confirmation(actor, order_id)
    await shop.payments.confirm_test_payment(token)
    return token
