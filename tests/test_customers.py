from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from shop.customers.models import Customer
from shop.customers.service import CustomerService, address_for
from shop.customers.types import AddressInput
from shop.errors import InvalidInput, NotAllowed, NotFound
from tests.conftest import Database

HOME = AddressInput("Ada Lovelace", "12 Rue de Rivoli", "Paris", "75001", "fr")


async def test_get_or_create_is_idempotent(database: Database) -> None:
    customers = CustomerService(database.sessions)
    first = await customers.get_or_create("telegram", "42", name="Ada", language="fr")
    again = await customers.get_or_create("Telegram", " 42 ", name="Other", language="pl")
    assert again == first
    assert (first.channel, first.external_id, first.name, first.language) == (
        "telegram", "42", "Ada", "fr")
    other_channel = await customers.get_or_create("whatsapp", "42")
    assert other_channel.id != first.id and other_channel.language == "en"
    assert await customers.get(first.id) == first
    with pytest.raises(NotFound):
        await customers.get(999_999)
    for channel, external in [("fax", "1"), ("telegram", "  "), ("web", "x" * 101)]:
        with pytest.raises(InvalidInput):
            await customers.get_or_create(channel, external)


async def test_concurrent_first_contact_makes_one_customer(database: Database) -> None:
    customers = CustomerService(database.sessions)
    results = await asyncio.gather(
        *(customers.get_or_create("telegram", "777", name=f"n{i}") for i in range(10)))
    assert len({r.id for r in results}) == 1
    async with database.sessions() as session:
        count = (await session.execute(
            select(func.count()).select_from(Customer).where(Customer.external_id == "777"))
        ).scalar_one()
    assert count == 1


async def test_update_profile_validates_and_normalizes(database: Database) -> None:
    customers = CustomerService(database.sessions)
    me = await customers.get_or_create("telegram", "1")
    updated = await customers.update_profile(
        me.id, name=" Ada  ", phone="+33 6 12-34.56 78", email="Ada@Example.COM",
        language="FR", marketing_consent=True)
    assert (updated.name, updated.phone, updated.email, updated.language,
            updated.marketing_consent) == ("Ada", "+33612345678", "Ada@example.com", "fr", True)
    assert await customers.get(me.id) == updated

    bad = [
        ({"email": "not-an-email"}, "email address"),
        ({"email": "a@b"}, "email address"),
        ({"phone": "call me"}, "phone number"),
        ({"phone": "123"}, "phone number"),
        ({"phone": "+1234567890123456"}, "phone number"),
        ({"language": "english"}, "language code"),
        ({"language": "e1"}, "language code"),
        ({"name": ""}, "name is required"),
        ({"name": "x" * 201}, "too long"),
        ({"name": "two\nlines"}, "one line"),
    ]
    for change, message in bad:
        with pytest.raises(InvalidInput, match=message):
            await customers.update_profile(me.id, **change)  # type: ignore[arg-type]
    # A bad field anywhere means nothing is written.
    with pytest.raises(InvalidInput):
        await customers.update_profile(me.id, name="Changed", email="bad")
    assert (await customers.get(me.id)).name == "Ada"

    cleared = await customers.update_profile(me.id, phone=None, email="")
    assert cleared.phone is None and cleared.email is None and cleared.name == "Ada"
    with pytest.raises(NotFound):
        await customers.update_profile(999_999, name="x")


async def test_addresses_are_validated(database: Database) -> None:
    customers = CustomerService(database.sessions)
    me = await customers.get_or_create("telegram", "1")
    saved = await customers.add_address(
        me.id, AddressInput(" Ada ", "1 Main St", "London", "sw1a  1aa", "gb", "+44 20 7946 0000"))
    assert (saved.name, saved.postcode, saved.country, saved.phone) == (
        "Ada", "SW1A 1AA", "GB", "+442079460000")
    assert saved.one_line == "Ada, 1 Main St, SW1A 1AA London, GB"

    def variant(**change: str) -> AddressInput:
        fields = {"name": "Ada", "street": "1 Main St", "city": "Paris", "postcode": "75001",
                  "country": "FR", **change}
        return AddressInput(**fields)

    bad = [
        (variant(postcode="7"), "postcode"),
        (variant(postcode="1234567890123"), "postcode"),
        (variant(postcode="75001!"), "postcode"),
        (variant(postcode="-7500"), "postcode"),
        (variant(country="XX"), "country code"),
        (variant(country="FRA"), "country code"),
        (variant(country=""), "country code"),
        (variant(name=" "), "name is required"),
        (variant(street=""), "street is required"),
        (variant(city="c" * 121), "city is too long"),
        (variant(street="a\tb"), "one line"),
        (variant(phone="phone"), "phone number"),
    ]
    for data, message in bad:
        with pytest.raises(InvalidInput, match=message):
            await customers.add_address(me.id, data)
    assert len(await customers.addresses(me.id)) == 1
    with pytest.raises(NotFound):
        await customers.add_address(999_999, HOME)


async def test_address_book_order_archive_and_owner_check(database: Database) -> None:
    customers = CustomerService(database.sessions)
    me = await customers.get_or_create("telegram", "1")
    other = await customers.get_or_create("telegram", "2")
    home = await customers.add_address(me.id, HOME)
    work = await customers.add_address(me.id, AddressInput("Ada", "5 Bd Haussmann", "Paris",
                                                           "75009", "FR"))
    theirs = await customers.add_address(other.id, HOME)
    assert [a.id for a in await customers.addresses(me.id)] == [work.id, home.id]

    async with database.sessions.begin() as session:
        used = await address_for(session, me.id, home.id)
    assert used.id == home.id and used.last_used_at >= work.last_used_at
    assert [a.id for a in await customers.addresses(me.id)] == [home.id, work.id]

    with pytest.raises(NotAllowed):
        async with database.sessions.begin() as session:
            await address_for(session, me.id, theirs.id)
    with pytest.raises(NotAllowed):
        await customers.archive_address(me.id, theirs.id)
    with pytest.raises(NotAllowed):
        await customers.address(me.id, theirs.id)
    assert [a.id for a in await customers.addresses(other.id)] == [theirs.id]

    await customers.archive_address(me.id, work.id)
    await customers.archive_address(me.id, work.id)  # again: no change, no error
    assert [a.id for a in await customers.addresses(me.id)] == [home.id]
    with pytest.raises(NotFound, match="removed"):
        async with database.sessions.begin() as session:
            await address_for(session, me.id, work.id)
    with pytest.raises(NotFound):
        await customers.archive_address(me.id, 999_999)


async def test_get_or_create_with_max_age_reuses_what_it_read_until_the_profile_changes(
        database: Database) -> None:
    now = [100.0]
    customers = CustomerService(database.sessions, clock=lambda: now[0])
    first = await customers.get_or_create("telegram", "55", language="fr", max_age=15)
    async with database.sessions.begin() as session:  # another process changes the row
        row = (await session.execute(select(Customer).where(Customer.id == first.id))).scalar_one()
        row.language = "pl"
    assert (await customers.get_or_create("telegram", "55", max_age=15)).language == "fr"
    assert (await customers.get_or_create("telegram", "55")).language == "pl"  # no max_age
    now[0] += 15  # too old: read again
    assert (await customers.get_or_create("telegram", "55", max_age=15)).language == "pl"
    # A change made through this service shows at once.
    await customers.update_profile(first.id, language="de")
    assert (await customers.get_or_create("telegram", "55", max_age=15)).language == "de"
