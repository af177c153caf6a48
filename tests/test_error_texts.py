"""The core's typed errors reach customers as sentences in their language, built from each
error's code, reason and params (never from its English message).

One test walks every `raise` in shop/: each error class (and each reason given at a raise
site) must have a translated text that is not the catch-all. The others take one family of
errors each through the flows in French or Polish and check the parameters are in the text.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import update

from bot.flows.actions import Action
from bot.flows.error_texts import error_text, explain
from bot.flows.router import error_reply
from bot.i18n import Translator
from shop.bootstrap import Shop
from shop.cart.models import PromoCode
from shop.cart.promo import PromoRefused, create_promo
from shop.cart.types import PromoReason
from shop.customers.service import parse_email, parse_phone
from shop.demo.loader import load_demo
from shop.errors import (
    ChatshopError,
    IllegalTransition,
    InputReason,
    InvalidInput,
    NotAllowed,
    OutOfStock,
    PaymentRejected,
)
from shop.orders.returns import ReturnItem
from tests.conftest import Database
from tests.support.flows import Chat
from tests.support.shop import MANAGER, Clock, make_shop, pay

ROOT = Path(__file__).resolve().parents[1]
TEE = "TEE-CLS-BLK-M"
A = Action.make
# Reasons that only staff, the CLI or a payment provider's webhook ever meet: the heading
# for their code is all a customer could be shown, so no sentence is made for them.
NOT_FOR_CUSTOMERS = {("provider_error", "not_configured"), ("provider_error", "unknown"),
                     ("payment_rejected", "webhook"), ("not_allowed", "staff_setting"),
                     ("illegal_transition", "unknown_status")}


@dataclass(frozen=True)
class Site:
    where: str
    cls: type[ChatshopError]
    reason: str | None  # None: not given, or computed at run time
    field: str | None


def _literal(node: ast.expr | None, module: ModuleType) -> list[Any] | None:
    """The value(s) a keyword argument can take when it is written out in the source."""
    match node:
        case ast.Constant(value=value):
            return [value]
        case ast.Attribute():
            return [eval(ast.unparse(node), vars(module))]  # our own source code
        case ast.IfExp(body=body, orelse=orelse):
            both = (_literal(body, module), _literal(orelse, module))
            return None if None in both else [*(both[0] or []), *(both[1] or [])]
    return None


def raise_sites() -> Iterator[Site]:
    for path in sorted((ROOT / "shop").rglob("*.py")):
        if "migrations" in path.parts or path.name == "__main__.py":
            continue
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            call = node.exc if isinstance(node.exc, ast.Call) else None
            name = (call.func if call else node.exc)
            cls = getattr(module, name.id, None) if isinstance(name, ast.Name) else None
            if not (isinstance(cls, type) and issubclass(cls, ChatshopError)):
                continue
            keywords = {k.arg: k.value for k in call.keywords} if call else {}
            reasons = _literal(keywords.get("reason"), module) if "reason" in keywords else [None]
            fields = _literal(keywords.get("field"), module) if "field" in keywords else [None]
            for reason in reasons or [None]:
                for field in fields or [None]:
                    yield Site(f"{path.relative_to(ROOT)}:{node.lineno}", cls,
                               None if reason is None else str(reason),
                               None if field is None else str(field))


SITES = list(raise_sites())


def test_the_walk_finds_the_raise_sites() -> None:
    classes = {site.cls.__name__ for site in SITES}
    assert {"OutOfStock", "InvalidInput", "NotFound", "IllegalTransition", "PromoRefused",
            "ShippingUnavailable", "PaymentRejected", "NotAllowed", "CartEmpty"} <= classes
    assert len(SITES) > 150


@pytest.mark.parametrize("site", SITES, ids=lambda s: f"{s.where}:{s.cls.__name__}")
def test_every_error_raised_in_shop_has_a_translated_text(site: Site) -> None:
    kwargs: dict[str, Any] = {}
    if site.reason:
        kwargs["reason"] = site.reason
    if site.field is not None and issubclass(site.cls, InvalidInput):
        kwargs["field"] = site.field
    error = site.cls("an English sentence for the log", **kwargs)
    english = explain(Translator("en"), error)
    assert not english.generic, f"{site.where}: no text for code {error.code!r}"
    for language in ("fr", "pl"):
        translated = explain(Translator(language), error)
        assert translated.heading != english.heading, f"{site.where}: heading in {language}"
        if not site.reason or (error.code, site.reason) in NOT_FOR_CUSTOMERS:
            continue
        assert translated.detail is not None, f"{site.where}: no sentence for {site.reason!r}"
        assert translated.detail != english.detail, f"{site.where}: {language} untranslated"
        assert "an English sentence" not in translated.detail


@pytest.mark.parametrize("reason", list(InputReason))
def test_every_input_reason_has_a_sentence(reason: InputReason) -> None:
    error = InvalidInput("x", field="postcode", reason=reason, value="X", max_length=9,
                         limit=3, minimum=1, maximum=9, title="Tee", currency="USD",
                         shop_currency="EUR")
    assert explain(Translator("pl"), error).detail not in (None, "x")


@pytest.mark.parametrize("reason", list(PromoReason))
def test_every_promo_reason_has_a_sentence(reason: PromoReason) -> None:
    refused = PromoRefused("x", reason=reason, code="SAVE5")
    detail = explain(Translator("fr"), refused).detail
    assert detail is not None and "SAVE5" in detail


# -- one family at a time, through the flows ---------------------------------------------------

@pytest.fixture
async def shop(database: Database) -> Shop:
    shop = make_shop(database, Clock())
    await load_demo(shop)
    await shop.catalog.load_index()
    return shop


async def test_out_of_stock_says_how_many_are_left_in_french(shop: Shop) -> None:
    chat = await Chat.open(shop, "300", language="fr")
    tee = await shop.catalog.variant(sku=TEE)
    await shop.catalog.set_stock(tee.id, 2, actor="test", reason="test")
    screen = await chat.press_action(A("add", tee.id, 3))
    assert "Désolé, pas assez de stock." in screen.text.plain
    assert ("Il ne reste que 2 × Classic Organic Cotton Tee ; vous en avez demandé 3."
            in screen.text.plain)
    await shop.carts.add(chat.convo.customer_id, tee.id, 2)
    cart = await chat.send("/cart")
    more = await chat.press("+")
    assert cart.text.plain and "Il ne reste que 2 × Classic Organic Cotton Tee" in (
        more.text.plain)
    # Someone else takes them before the checkout: the order is refused, in French too.
    await shop.catalog.set_stock(tee.id, 0, actor="test", reason="sold elsewhere")
    error = OutOfStock(title="Classic Organic Cotton Tee", available=0, requested=2)
    assert error_text(chat.convo.t, error) == "Classic Organic Cotton Tee est épuisé."


async def test_address_steps_explain_the_problem_in_polish(shop: Shop) -> None:
    chat = await Chat.open(shop, "301", language="pl")
    tee = await shop.catalog.variant(sku=TEE)
    await shop.carts.add(chat.convo.customer_id, tee.id, 1)
    await chat.press_action(A("co"))
    too_long = await chat.send("A" * 201)
    assert "To za długie (maksymalnie znaków: 200)." in too_long.text.plain
    await chat.send("Ewa Nowak")
    await chat.send("Długa 5")
    await chat.send("Gdańsk")
    postcode = await chat.send("!!")
    assert "„!!” to nie jest kod pocztowy." in postcode.text.plain
    await chat.send("80-827")
    country = await chat.send("Atlantyda")
    assert "„Atlantyda” to nie jest kod kraju." in country.text.plain
    t = Translator("pl")
    with pytest.raises(InvalidInput) as phone:
        parse_phone("12ab")
    assert error_text(t, phone.value).startswith("„12ab” to nie jest numer telefonu.")
    with pytest.raises(InvalidInput) as email:
        parse_email("ewa@@example")
    assert error_text(t, email.value).startswith("„ewa@@example” to nie jest adres e-mail")
    empty = InvalidInput("city is required", field="city", reason=InputReason.REQUIRED)
    assert error_text(t, empty) == "Wpisz miasto."


async def test_promo_code_reasons_in_french(shop: Shop) -> None:
    now = shop.clock()
    async with shop.sessions.begin() as session:
        await create_promo(session, code="OLD", kind="percent", value=5,
                           ends_at=now - timedelta(days=3))
        await create_promo(session, code="BIG", kind="fixed", value=500, currency="EUR",
                           min_total=10_000)
        await create_promo(session, code="ONCE", kind="percent", value=5, max_uses=1)
    chat = await Chat.open(shop, "302", language="fr")
    tee = await shop.catalog.variant(sku=TEE)
    await shop.carts.add(chat.convo.customer_id, tee.id, 1)
    await chat.send("/cart")
    await chat.press("🏷 Code promo")
    expired = await chat.send("old")
    assert "Le code promo OLD a expiré le 30 oct. 2026." in expired.text.plain
    minimum = await chat.send("big")
    assert ("Dépensez au moins 100,00\u00a0€ pour utiliser le code promo BIG : encore "
            "75,10\u00a0€.") in minimum.text.plain
    unknown = await chat.send("NOPE")
    assert "Il n’y a pas de code promo NOPE." in unknown.text.plain
    async with shop.sessions.begin() as session:
        await session.execute(update(PromoCode).where(PromoCode.code == "ONCE")
                              .values(used_count=1))
    used = await chat.send("once")
    assert "Le code promo ONCE a été entièrement utilisé." in used.text.plain
    # A code applied to the cart that stops applying says why, in French.
    applied = await chat.send("WELCOME10")
    assert "WELCOME10" in applied.text.plain
    async with shop.sessions.begin() as session:
        await session.execute(update(PromoCode).where(PromoCode.code == "WELCOME10")
                              .values(active=False))
    cart = await chat.send("/cart")
    assert "Le code promo WELCOME10 n’est plus actif." in cart.text.plain


async def test_cart_limit_in_polish(shop: Shop) -> None:
    chat = await Chat.open(shop, "303", language="pl")
    mug = await shop.catalog.variant(sku="HOM-MUG-SGE")
    await shop.catalog.set_stock(mug.id, 500, actor="test", reason="test")
    await shop.carts.add(chat.convo.customer_id, mug.id, 99)
    refused = await chat.press_action(A("add", mug.id, 1))
    assert ("Maksymalnie 99 szt. jednego produktu w zamówieniu; w koszyku masz już 99 szt."
            in refused.text.plain)


async def test_order_errors_in_french(shop: Shop) -> None:
    chat = await Chat.open(shop, "304", language="fr")
    missing = await chat.press_action(A("order", 987654))
    assert "Nous ne trouvons pas cette commande." in missing.text.plain
    bob = await Chat.open(shop, "305")
    tee = await shop.catalog.variant(sku=TEE)
    await shop.carts.add(bob.convo.customer_id, tee.id, 1)
    await bob.press_action(A("co"))
    await bob.press("🏬 Pickup at the shop — free")
    await bob.press("💳 Pay €24.90")
    (listed,) = await shop.orders.orders(bob.convo.actor)
    theirs = await chat.press_action(A("order", listed.id))
    assert "Désolé, ce n’est pas l’une de vos commandes." in theirs.text.plain
    await pay(shop, bob.convo.actor, listed.id)
    with pytest.raises(NotAllowed) as paid:
        await shop.orders.cancel(bob.convo.actor, listed.id)
    bob.convo.language = "fr"
    text = error_reply(bob.convo, paid.value).screens[0].text.plain
    assert f"La commande #{listed.number} est déjà payée" in text
    await shop.orders.confirm(MANAGER, listed.id)
    await shop.orders.ship(MANAGER, listed.id, carrier="DHL", tracking_number="JD1")
    with pytest.raises(IllegalTransition) as shipped:
        await shop.orders.cancel(MANAGER, listed.id)
    text = error_reply(bob.convo, shipped.value).screens[0].text.plain
    assert "Statut de la commande : expédiée. Elle ne peut plus être annulée." in text


async def test_return_window_closed_in_polish(shop: Shop, database: Database) -> None:
    chat = await Chat.open(shop, "306", language="pl")
    tee = await shop.catalog.variant(sku=TEE)
    await shop.carts.add(chat.convo.customer_id, tee.id, 1)
    await chat.press_action(A("co"))
    await chat.press("🏬 Pickup at the shop — gratis")  # method names are the shop's own
    await chat.press(re.compile("^💳"))
    (listed,) = await shop.orders.orders(chat.convo.actor)
    await pay(shop, chat.convo.actor, listed.id)
    await shop.orders.confirm(MANAGER, listed.id)
    await shop.orders.ship(MANAGER, listed.id, carrier="DHL", tracking_number="JD2")
    await shop.orders.deliver(MANAGER, listed.id)
    late = make_shop(database, Clock(shop.clock() + timedelta(days=31)))
    order = await late.orders.order(chat.convo.actor, listed.id)
    with pytest.raises(IllegalTransition) as closed:
        await late.returns.request(chat.convo.actor, order.id,
                                   [ReturnItem(order.lines[0].id, 1)], "za mały")
    text = error_reply(chat.convo, closed.value).screens[0].text.plain
    assert (f"Produkty można zwrócić w ciągu 30 dni od dostawy; dla zamówienia "
            f"#{listed.number} ten czas już minął.") in text


async def test_support_message_problems_in_french(shop: Shop) -> None:
    chat = await Chat.open(shop, "307", language="fr")
    for text, expected in (("x" * 4001, "C’est trop long : 4000 caractères au plus."),
                           ("   ", "Veuillez écrire un message ou envoyer une photo.")):
        with pytest.raises(InvalidInput) as refused:
            await shop.support.customer_message(chat.convo.customer_id, text)
        assert expected in error_reply(chat.convo, refused.value).screens[0].text.plain


async def test_payment_refusals_in_polish(shop: Shop) -> None:
    t = Translator("pl")
    stale = PaymentRejected("x", reason="amount_changed", number=1001)
    assert error_text(t, stale) == ("Kwota na tej fakturze jest nieaktualna. Zacznij "
                                    "zamówienie od nowa.")
    settled = PaymentRejected("x", reason="settled", number=1001, status="shipped")
    assert error_text(t, settled) == ("Zamówienie #1001 zostało już opłacone; jego status: "
                                      "wysłane.")
