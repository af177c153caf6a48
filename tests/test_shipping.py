from __future__ import annotations

import pytest

from shop.errors import InvalidInput, NotFound, ShippingUnavailable
from shop.money import Money
from shop.shipping.admin import (
    create_method,
    default_methods,
    install_methods,
    list_methods,
    update_method,
)
from shop.shipping.rates import quote, shipping_quotes
from shop.shipping.types import ShippingMethodInfo, WeightBand
from tests.conftest import Database


def eur(minor: int) -> Money:
    return Money("EUR", minor)


async def _standard(db: Database) -> dict[str, ShippingMethodInfo]:
    async with db.sessions.begin() as session:
        return {
            "post": await create_method(
                session, code="post", name="Post", kind="weight_bands", currency="EUR",
                bands=[(500, 350), (2000, 690)], countries=["fr", "DE", "pl"], position=2),
            "courier": await create_method(
                session, code="courier", name="Courier", kind="flat", currency="EUR",
                price=600, free_over=5000, countries=["FR"], position=1),
            "pickup": await create_method(
                session, code="pickup", name="Pickup", kind="pickup", currency="EUR",
                position=0),
            "world": await create_method(
                session, code="world", name="World", kind="flat", currency="EUR", price=2500,
                position=3),
        }


async def _quotes(db: Database, country: str, grams: int, goods: int
                  ) -> list[tuple[str, int, bool]]:
    async with db.sessions() as session:
        found = await shipping_quotes(session, country=country, weight_grams=grams,
                                      goods_total=eur(goods))
    return [(q.code, q.price.minor, q.free) for q in found]


async def test_each_kind_in_position_order(database: Database) -> None:
    made = await _standard(database)
    assert made["post"].countries == ("FR", "DE", "PL")
    assert made["post"].bands == (WeightBand(500, eur(350)), WeightBand(2000, eur(690)))
    assert made["post"].max_grams == 2000 and made["world"].max_grams is None
    assert await _quotes(database, "fr", 300, 2000) == [
        ("pickup", 0, True), ("courier", 600, False), ("post", 350, False),
        ("world", 2500, False)]
    async with database.sessions() as session:
        listed = await list_methods(session)
    assert [m.code for m in listed] == ["pickup", "courier", "post", "world"]


async def test_free_over_and_band_edges(database: Database) -> None:
    await _standard(database)
    assert ("courier", 600, False) in await _quotes(database, "FR", 100, 4999)
    assert ("courier", 0, True) in await _quotes(database, "FR", 100, 5000)  # exactly: free
    post = {grams: next((p for c, p, _ in await _quotes(database, "FR", grams, 100)
                         if c == "post"), None)
            for grams in [0, 500, 501, 2000, 2001]}
    assert post == {0: 350, 500: 350, 501: 690, 2000: 690, 2001: None}


async def test_country_filter(database: Database) -> None:
    await _standard(database)
    assert [c for c, _, _ in await _quotes(database, "DE", 100, 100)] == [
        "pickup", "post", "world"]
    assert [c for c, _, _ in await _quotes(database, "US", 100, 100)] == ["pickup", "world"]
    with pytest.raises(InvalidInput, match="country code"):
        await _quotes(database, "Germany", 100, 100)
    with pytest.raises(InvalidInput, match="grams"):
        await _quotes(database, "DE", -1, 100)


async def test_quote_and_its_refusals(database: Database) -> None:
    made = await _standard(database)
    async with database.sessions.begin() as session:
        chosen = await quote(session, made["post"].id, country="pl", weight_grams=1500,
                             goods_total=eur(100))
        assert (chosen.code, chosen.name, chosen.kind, chosen.price, chosen.free) == (
            "post", "Post", "weight_bands", eur(690), False)
        usd_goods = Money("USD", 100)
        refusals = [
            (999_999, "FR", 100, eur(100), "does not exist"),
            (made["courier"].id, "DE", 100, eur(100), "Courier does not deliver to DE"),
            (made["post"].id, "FR", 2001, eur(100),
             "Post takes parcels up to 2 kg; this one weighs 2.001 kg"),
            (made["world"].id, "FR", 100, usd_goods, "priced in EUR, not USD"),
        ]
        for method_id, country, grams, goods, message in refusals:
            with pytest.raises(ShippingUnavailable, match=message):
                await quote(session, method_id, country=country, weight_grams=grams,
                            goods_total=goods)
        await update_method(session, made["world"].id, active=False)
        with pytest.raises(ShippingUnavailable, match="World is no longer offered"):
            await quote(session, made["world"].id, country="FR", weight_grams=1,
                        goods_total=eur(1))
    assert "world" not in [c for c, _, _ in await _quotes(database, "FR", 100, 100)]


async def test_create_validates(database: Database) -> None:
    ok = {"code": "m1", "name": "M", "kind": "flat", "currency": "EUR"}
    bad: list[tuple[dict[str, object], str]] = [
        ({**ok, "code": "x"}, "method code"),
        ({**ok, "code": "has space"}, "method code"),
        ({**ok, "name": " "}, "name"),
        ({**ok, "kind": "drone"}, "unknown shipping kind"),
        ({**ok, "currency": "EURO"}, "unknown currency"),
        ({**ok, "price": -1}, "0 or more"),
        ({**ok, "free_over": -5}, "0 or more"),
        ({**ok, "kind": "pickup", "price": 100}, "no flat price"),
        ({**ok, "bands": [(100, 1)]}, "only weight-band methods"),
        ({**ok, "kind": "weight_bands"}, "at least one band"),
        ({**ok, "kind": "weight_bands", "bands": [(500, 100), (500, 200)]}, "ascending"),
        ({**ok, "kind": "weight_bands", "bands": [(900, 100), (500, 200)]}, "ascending"),
        ({**ok, "kind": "weight_bands", "bands": [(0, 100)]}, "1 or more"),
        ({**ok, "kind": "weight_bands", "bands": [(500, -1)]}, "0 or more"),
        ({**ok, "kind": "weight_bands", "bands": [(500,)]}, "pair"),
        ({**ok, "countries": ["FR", "XX"]}, "not ISO country codes: XX"),
        ({**ok, "countries": ["*", "FR"]}, "cannot be combined"),
        ({**ok, "countries": []}, "needs countries"),
    ]
    async with database.sessions.begin() as session:
        for fields, message in bad:
            with pytest.raises(InvalidInput, match=message):
                await create_method(session, **fields)  # type: ignore[arg-type]
        made = await create_method(session, code=" Express ", name="Express", kind="flat",
                                   currency="eur", price=900, countries="fr")
        assert (made.code, made.currency, made.countries) == ("express", "EUR", ("FR",))
        with pytest.raises(InvalidInput, match="already exists"):
            await create_method(session, code="express", name="Again", kind="flat",
                                currency="EUR")
        # The refused duplicate did not spoil the transaction.
        assert [m.code for m in await list_methods(session)] == ["express"]


async def test_update_revalidates_the_whole_method(database: Database) -> None:
    made = await _standard(database)
    async with database.sessions.begin() as session:
        changed = await update_method(session, made["courier"].id, price=700, free_over=None,
                                      countries=["FR", "BE"], position=9)
        assert (changed.price, changed.free_over, changed.countries, changed.position) == (
            eur(700), None, ("FR", "BE"), 9)
        with pytest.raises(InvalidInput, match="no flat price"):
            await update_method(session, made["courier"].id, kind="weight_bands")
        with pytest.raises(InvalidInput, match="at least one band"):
            await update_method(session, made["courier"].id, kind="weight_bands", price=0)
        banded = await update_method(session, made["courier"].id, kind="weight_bands",
                                     price=0, bands=[(1000, 400)])
        assert banded.bands == (WeightBand(1000, eur(400)),)
        with pytest.raises(NotFound):
            await update_method(session, 999_999, name="x")
    assert await _quotes(database, "BE", 900, 100) == [
        ("pickup", 0, True), ("world", 2500, False), ("courier", 400, False)]


async def test_default_methods_install_once(database: Database) -> None:
    specs = default_methods("EUR")
    assert [s.code for s in specs] == ["pickup", "courier", "post"]
    async with database.sessions.begin() as session:
        assert len(await install_methods(session, specs)) == 3
        assert await install_methods(session, specs) == []
    assert await _quotes(database, "FR", 700, 1000) == [
        ("pickup", 0, True), ("courier", 600, False), ("post", 700, False)]
    assert ("courier", 0, True) in await _quotes(database, "FR", 700, 5000)
    assert default_methods("JPY")[1].price == 6
