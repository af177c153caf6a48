"""Promo codes: creation, evaluation against a cart total, and atomic redemption.

Every function works inside a session the caller owns, so the checkout redeems
a code in the same transaction that creates the order.

Discounts are integer minor units. A percent discount is `subtotal × percent /
100` rounded half up (0.5 of a cent goes to the customer); a fixed discount is
capped at the subtotal, so a total never goes below zero.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shop.cart.models import PromoCode, PromoRedemption
from shop.cart.types import PromoInfo, PromoKind, PromoReason
from shop.errors import InputReason, InvalidInput, PromoInvalid
from shop.money import Money, parse_currency

_CODE = re.compile(r"^[A-Z0-9_-]{3,40}$")


class PromoRefused(PromoInvalid):
    """A promo code that does not apply, with a machine-readable reason for translations."""

    def __init__(self, message: str, *, reason: PromoReason, **params: object) -> None:
        super().__init__(message, reason=reason, **params)


def normalize_code(raw: str) -> str:
    """Codes are case-insensitive and typed with stray spaces: ` save10 ` → `SAVE10`."""
    return raw.strip().upper()


def percent_of(amount: int, percent: int) -> int:
    """`amount × percent / 100` in integers, rounded half up (amount ≥ 0)."""
    return (amount * percent + 50) // 100


def promo_info(row: PromoCode) -> PromoInfo:
    return PromoInfo(
        id=row.id,
        code=row.code,
        kind=row.kind,
        value=row.value,
        currency=row.currency,
        min_total=row.min_total,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        max_uses=row.max_uses,
        max_uses_per_customer=row.max_uses_per_customer,
        used_count=row.used_count,
        active=row.active,
    )


def _positive_or_none(value: int | None, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{field} must be a whole number of 1 or more, or none",
                           field=field, reason=InputReason.OUT_OF_RANGE, minimum=1)
    return value


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput(f"{field} needs a time zone (use datetime.now(UTC))", field=field,
                           reason=InputReason.FORMAT)
    return value


async def create_promo(
    session: AsyncSession,
    *,
    code: str,
    kind: str,
    value: int,
    currency: str | None = None,
    min_total: int = 0,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    max_uses: int | None = None,
    max_uses_per_customer: int | None = None,
) -> PromoInfo:
    """Create a promo code after validating every field; InvalidInput names the bad one.

    A fixed amount needs a currency; so does a minimum total (it is an amount),
    and a code with a currency only applies to carts in that currency.
    """
    clean_code = normalize_code(code)
    if not _CODE.match(clean_code):
        raise InvalidInput(
            f"{code.strip()!r} is not a usable promo code: 3 to 40 letters A–Z, digits, "
            "- or _", field="code", reason=InputReason.FORMAT, value=code.strip()
        )
    try:
        promo_kind = PromoKind(kind)
    except ValueError:
        raise InvalidInput(f"unknown promo kind {kind!r} (expected percent or fixed)",
                           field="kind", reason=InputReason.FORMAT, value=kind) from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput("a promo value must be a whole number of 1 or more", field="value",
                           reason=InputReason.OUT_OF_RANGE, minimum=1)
    if promo_kind is PromoKind.PERCENT and value > 100:
        raise InvalidInput(f"a percent discount is 1 to 100, not {value}", field="value",
                           reason=InputReason.OUT_OF_RANGE, minimum=1, maximum=100)
    clean_currency = parse_currency(currency) if currency else None
    if promo_kind is PromoKind.FIXED and clean_currency is None:
        raise InvalidInput("a fixed-amount promo code needs a currency", field="currency",
                           reason=InputReason.REQUIRED)
    if isinstance(min_total, bool) or not isinstance(min_total, int) or min_total < 0:
        raise InvalidInput("a minimum total must be 0 or more (minor units)",
                           field="min_total", reason=InputReason.OUT_OF_RANGE, minimum=0)
    if min_total and clean_currency is None:
        raise InvalidInput("a minimum total needs a currency", field="currency",
                           reason=InputReason.REQUIRED)
    _aware(starts_at, "the start")
    _aware(ends_at, "the end")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise InvalidInput("a promo code must end after it starts", field="ends_at",
                           reason=InputReason.OUT_OF_RANGE)
    row = PromoCode(
        code=clean_code,
        kind=promo_kind.value,
        value=value,
        currency=clean_currency,
        min_total=min_total,
        starts_at=starts_at,
        ends_at=ends_at,
        max_uses=_positive_or_none(max_uses, "the overall use limit"),
        max_uses_per_customer=_positive_or_none(max_uses_per_customer,
                                                "the per-customer use limit"),
        used_count=0,
        active=True,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise InvalidInput(f"promo code {clean_code} already exists", field="code",
                           reason=InputReason.DUPLICATE, value=clean_code) from None
    return promo_info(row)


async def find_promo(session: AsyncSession, code: str) -> PromoInfo:
    """The promo code (case-insensitive, trimmed); PromoRefused(UNKNOWN) when there is none."""
    clean = normalize_code(code)
    row = (
        await session.execute(select(PromoCode).where(PromoCode.code == clean))
    ).scalar_one_or_none()
    if row is None:
        shown = clean if len(clean) <= 40 else clean[:40] + "…"
        message = f"promo code {shown} does not exist" if clean else "no promo code given"
        raise PromoRefused(message, reason=PromoReason.UNKNOWN, code=shown)
    return promo_info(row)


async def set_promo_active(session: AsyncSession, code: str, active: bool) -> PromoInfo:
    """Switch a code off (or back on) without deleting its history."""
    found = await find_promo(session, code)
    row = await session.get(PromoCode, found.id)
    assert row is not None
    row.active = active
    await session.flush()
    return promo_info(row)


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def check_promo(promo: PromoInfo, *, subtotal: Money, now: datetime) -> int:
    """The discount for this subtotal, checking everything but per-customer use (no I/O).

    Raises PromoRefused with the first reason it fails, in the order a customer
    can act on: state, dates, currency, minimum, overall use.
    """
    code = promo.code
    if not promo.active:
        raise PromoRefused(f"promo code {code} is no longer active", reason=PromoReason.INACTIVE,
                           code=code)
    if promo.starts_at is not None and now < promo.starts_at:
        raise PromoRefused(f"promo code {code} is valid from {_when(promo.starts_at)}",
                           reason=PromoReason.NOT_YET_VALID, code=code,
                           starts_at=promo.starts_at)
    if promo.ends_at is not None and now >= promo.ends_at:
        raise PromoRefused(f"promo code {code} expired on {_when(promo.ends_at)}",
                           reason=PromoReason.EXPIRED, code=code, ends_at=promo.ends_at)
    if promo.currency is not None and promo.currency != subtotal.currency:
        raise PromoRefused(f"promo code {code} only applies to orders in {promo.currency}",
                           reason=PromoReason.CURRENCY, code=code, currency=promo.currency)
    if subtotal.minor < promo.min_total:
        minimum = Money(subtotal.currency, promo.min_total)
        raise PromoRefused(f"spend at least {minimum} to use promo code {code}",
                           reason=PromoReason.BELOW_MINIMUM, code=code, minimum=minimum,
                           missing=Money(subtotal.currency, promo.min_total - subtotal.minor))
    if promo.max_uses is not None and promo.used_count >= promo.max_uses:
        raise PromoRefused(f"promo code {code} has been used up", reason=PromoReason.USED_UP,
                           code=code)
    if promo.kind == PromoKind.PERCENT:
        return percent_of(subtotal.minor, promo.value)
    return min(promo.value, subtotal.minor)


async def _uses_by(session: AsyncSession, promo_id: int, customer_id: int) -> int:
    return (
        await session.execute(
            select(func.count()).select_from(PromoRedemption).where(
                PromoRedemption.promo_code_id == promo_id,
                PromoRedemption.customer_id == customer_id)
        )
    ).scalar_one()


def _customer_limit(promo_code: str, limit: int) -> PromoRefused:
    times = "once" if limit == 1 else f"{limit} times"
    return PromoRefused(f"you have already used promo code {promo_code} ({times} per customer)",
                        reason=PromoReason.CUSTOMER_LIMIT, code=promo_code, limit=limit)


async def evaluate(
    session: AsyncSession,
    code_or_promo: str | PromoInfo,
    *,
    customer_id: int | None,
    subtotal: Money,
    now: datetime,
) -> int:
    """The discount in minor units this code gives on `subtotal`, or PromoRefused saying why.

    `customer_id` None skips the per-customer limit (nobody to count for).
    Evaluation reserves nothing: `redeem` enforces the limits atomically.
    """
    promo = code_or_promo if isinstance(code_or_promo, PromoInfo) else (
        await find_promo(session, code_or_promo))
    discount = check_promo(promo, subtotal=subtotal, now=now)
    limit = promo.max_uses_per_customer
    if customer_id is not None and limit is not None and (
            await _uses_by(session, promo.id, customer_id) >= limit):
        raise _customer_limit(promo.code, limit)
    return discount


async def redeem(session: AsyncSession, promo_id: int, *, customer_id: int, order_id: int
                 ) -> None:
    """Count one use of the code by this order, atomically, or PromoRefused.

    The overall limit is one conditional UPDATE, so concurrent checkouts can
    never exceed it. That UPDATE also locks the code's row until commit (SQLite
    serializes writers anyway), which is what makes the per-customer count read
    after it exact. On refusal nothing stays changed, even if the caller goes on
    with its transaction. Redeeming again for the same order changes nothing.
    """
    existing = (
        await session.execute(
            select(PromoRedemption.promo_code_id).where(PromoRedemption.order_id == order_id)
        )
    ).scalar_one_or_none()
    if existing is not None:
        if existing != promo_id:
            raise InvalidInput(f"order {order_id} already used another promo code",
                               field="code", reason=InputReason.DUPLICATE)
        return
    row = (
        await session.execute(
            update(PromoCode)
            .where(PromoCode.id == promo_id, PromoCode.active.is_(True),
                   or_(PromoCode.max_uses.is_(None), PromoCode.used_count < PromoCode.max_uses))
            .values(used_count=PromoCode.used_count + 1)
            .returning(PromoCode.code, PromoCode.max_uses_per_customer)
        )
    ).one_or_none()
    if row is None:
        promo = await session.get(PromoCode, promo_id)
        if promo is None:
            raise PromoRefused(f"promo code {promo_id} does not exist",
                               reason=PromoReason.UNKNOWN)
        if not promo.active:
            raise PromoRefused(f"promo code {promo.code} is no longer active",
                               reason=PromoReason.INACTIVE, code=promo.code)
        raise PromoRefused(f"promo code {promo.code} has been used up",
                           reason=PromoReason.USED_UP, code=promo.code)
    code, limit = row
    if limit is not None and await _uses_by(session, promo_id, customer_id) >= limit:
        await _uncount(session, promo_id)
        raise _customer_limit(code, limit)
    session.add(PromoRedemption(promo_code_id=promo_id, customer_id=customer_id,
                                order_id=order_id))
    await session.flush()


async def _uncount(session: AsyncSession, promo_id: int) -> None:
    await session.execute(
        update(PromoCode)
        .where(PromoCode.id == promo_id, PromoCode.used_count > 0)
        .values(used_count=PromoCode.used_count - 1)
    )


async def release(session: AsyncSession, order_id: int) -> None:
    """Give back the use an order took (cancelled or expired before payment); idempotent.

    The redemption is deleted with RETURNING, so of two concurrent releases only
    the one that deleted it gives the use back.
    """
    promo_id = (
        await session.execute(
            delete(PromoRedemption)
            .where(PromoRedemption.order_id == order_id)
            .returning(PromoRedemption.promo_code_id)
        )
    ).scalar_one_or_none()
    if promo_id is not None:
        await _uncount(session, promo_id)
