"""Customers: one per channel identity, their profile and their saved addresses.

`CustomerService` runs each use case in its own transaction; `address_for` works
inside a session the caller owns, so the checkout reads the address in its own
transaction.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from enum import Enum

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.customers.models import Address, Customer
from shop.customers.types import AddressInfo, AddressInput, Channel, CustomerInfo, parse_country
from shop.db.base import utcnow
from shop.db.engine import read_only
from shop.errors import InputReason, InvalidInput, NotAllowed, NotFound

MAX_ADDRESSES = 20  # saved (not archived) per customer; a menu of more helps nobody
_KNOWN_MAX = 20_000  # identities remembered by get_or_create(max_age=…) before a sweep
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
_PHONE = re.compile(r"^\+?\d{6,15}$")  # E.164 allows at most 15 digits
_PHONE_SEPARATORS = str.maketrans("", "", " -().")
_POSTCODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,10}[A-Za-z0-9]$")


class _Unset(Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET


def _text(value: str, field: str, *, max_length: int, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field} is required", field=field, reason=InputReason.REQUIRED)
    if len(text) > max_length:
        raise InvalidInput(f"{field} is too long (at most {max_length} characters)",
                           field=field, reason=InputReason.TOO_LONG, max_length=max_length)
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise InvalidInput(f"{field} must be one line of text", field=field,
                           reason=InputReason.ONE_LINE)
    return text


def parse_channel(raw: str) -> str:
    """A known channel name (telegram, whatsapp, web, terminal), lower-cased."""
    try:
        return Channel(raw.strip().lower()).value
    except ValueError:
        known = ", ".join(c.value for c in Channel)
        raise InvalidInput(f"unknown channel {raw!r} (expected one of {known})",
                           field="channel", reason=InputReason.FORMAT, value=raw) from None


def parse_language(raw: str) -> str:
    """A 2–3 letter language code (`en`, `fr`, `pl`), lower-cased."""
    code = raw.strip().lower()
    if not (code.isascii() and code.isalpha() and 2 <= len(code) <= 3):
        raise InvalidInput(f"{raw!r} is not a language code such as en, fr or pl",
                           field="language", reason=InputReason.FORMAT, value=raw.strip())
    return code


def parse_phone(raw: str) -> str:
    """Digits with an optional leading +; spaces, dots, hyphens and brackets are dropped."""
    phone = raw.strip().translate(_PHONE_SEPARATORS)
    if not _PHONE.match(phone):
        raise InvalidInput(
            f"{raw.strip()!r} is not a phone number (6 to 15 digits, optionally starting with +)",
            field="phone", reason=InputReason.FORMAT, value=raw.strip()
        )
    return phone


def parse_email(raw: str) -> str:
    """An address shaped like `name@example.com`; the domain is lower-cased."""
    email = raw.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidInput(f"{email!r} is not an email address such as name@example.com",
                           field="email", reason=InputReason.FORMAT, value=email)
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def parse_postcode(raw: str) -> str:
    """2–12 letters, digits, spaces or hyphens; upper-cased (`sw1a 1aa` → `SW1A 1AA`)."""
    code = " ".join(raw.split()).upper()
    if not _POSTCODE.match(code):
        raise InvalidInput(
            f"{raw.strip()!r} is not a postcode (2 to 12 letters, digits, spaces or hyphens)",
            field="postcode", reason=InputReason.FORMAT, value=raw.strip()
        )
    return code


def validate_address(data: AddressInput) -> AddressInput:
    """The address cleaned up, or InvalidInput naming the first bad field."""
    return AddressInput(
        name=_text(data.name, "name", max_length=200),
        street=_text(data.street, "street", max_length=300),
        city=_text(data.city, "city", max_length=120),
        postcode=parse_postcode(data.postcode),
        country=parse_country(data.country),
        phone=parse_phone(data.phone) if data.phone and data.phone.strip() else None,
        **_coordinates(data.latitude, data.longitude),
    )


def _coordinates(latitude: float | None, longitude: float | None) -> dict[str, float | None]:
    """Both coordinates or neither, each within its range: a place that is off is dropped
    (it is only a hint for the courier), never a reason to refuse the address."""
    if latitude is None or longitude is None:
        return {"latitude": None, "longitude": None}
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        return {"latitude": None, "longitude": None}
    return {"latitude": round(float(latitude), 6), "longitude": round(float(longitude), 6)}


def _info(row: Customer) -> CustomerInfo:
    return CustomerInfo(
        id=row.id,
        channel=row.channel,
        external_id=row.external_id,
        name=row.name,
        phone=row.phone,
        email=row.email,
        language=row.language,
        marketing_consent=row.marketing_consent,
        created_at=row.created_at,
    )


def _address_info(row: Address) -> AddressInfo:
    return AddressInfo(
        id=row.id,
        customer_id=row.customer_id,
        name=row.name,
        street=row.street,
        city=row.city,
        postcode=row.postcode,
        country=row.country,
        phone=row.phone,
        last_used_at=row.last_used_at,
        latitude=row.latitude,
        longitude=row.longitude,
    )


async def _find(session: AsyncSession, channel: str, external_id: str) -> Customer | None:
    return (
        await session.execute(
            select(Customer).where(Customer.channel == channel,
                                   Customer.external_id == external_id)
        )
    ).scalar_one_or_none()


async def _customer(session: AsyncSession, customer_id: int) -> Customer:
    row = await session.get(Customer, customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id} does not exist", what="customer",
                       ref=customer_id)
    return row


async def _owned_address(session: AsyncSession, customer_id: int, address_id: int) -> Address:
    row = await session.get(Address, address_id)
    if row is None:
        raise NotFound(f"address {address_id} does not exist", what="address", ref=address_id)
    if row.customer_id != customer_id:
        raise NotAllowed("this address belongs to another customer", reason="not_owner",
                         what="address")
    return row


async def address_for(session: AsyncSession, customer_id: int, address_id: int) -> AddressInfo:
    """The customer's own saved address, marked as just used (inside the caller's transaction).

    Another customer's address raises NotAllowed; an archived one NotFound.
    """
    row = await _owned_address(session, customer_id, address_id)
    if row.archived:
        raise NotFound(f"address {address_id} was removed", what="address", ref=address_id)
    row.last_used_at = utcnow()
    await session.flush()
    return _address_info(row)


class CustomerService:
    """Customer identities, profiles and address books."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions = sessions
        self._clock = clock
        # (channel, external id) -> (when read, the customer): get_or_create's memory.
        self._known: dict[tuple[str, str], tuple[float, CustomerInfo]] = {}

    async def get_or_create(
        self, channel: str, external_id: str, *, name: str = "", language: str | None = None,
        max_age: float = 0.0,
    ) -> CustomerInfo:
        """The customer for this channel identity, created on first contact.

        Idempotent and safe under concurrency: when two first messages race, the
        loser of the unique (channel, external_id) insert reads the winner's row.
        An existing customer's profile is left as it is.

        With ``max_age`` (seconds), the customer this service read or created for the same
        identity within that time is returned without asking the database (the bots look
        up their customer on every update). ``update_profile`` in this process refreshes
        it at once; a change made by another process shows after ``max_age`` at most.
        """
        channel = parse_channel(channel)
        external_id = _text(external_id, "external id", max_length=100)
        key = (channel, external_id)
        known = self._known.get(key) if max_age > 0 else None
        if known is not None and self._clock() - known[0] < max_age:
            return known[1]
        info = await self._get_or_create(channel, external_id, name, language)
        if max_age > 0:
            self._remember(info)
        return info

    def _remember(self, info: CustomerInfo) -> None:
        now = self._clock()
        if len(self._known) >= _KNOWN_MAX:  # forget the oldest half
            by_age = sorted(self._known.items(), key=lambda item: item[1][0])
            self._known = dict(by_age[len(by_age) // 2:])
        self._known[(info.channel, info.external_id)] = (now, info)

    async def _get_or_create(self, channel: str, external_id: str, name: str,
                             language: str | None) -> CustomerInfo:
        clean_name = _text(name, "name", max_length=200, required=False)
        clean_language = parse_language(language) if language else "en"
        async with read_only(self._sessions) as session:
            row = await _find(session, channel, external_id)
            if row is not None:
                return _info(row)
        try:
            async with self._sessions.begin() as session:
                row = Customer(channel=channel, external_id=external_id, name=clean_name,
                               language=clean_language)
                session.add(row)
                await session.flush()
                return _info(row)
        except IntegrityError:
            async with self._sessions() as session:
                row = await _find(session, channel, external_id)
                if row is None:
                    raise
                return _info(row)

    async def get(self, customer_id: int) -> CustomerInfo:
        """A customer by id; raises NotFound."""
        async with self._sessions() as session:
            return _info(await _customer(session, customer_id))

    async def update_profile(
        self,
        customer_id: int,
        *,
        name: str | _Unset = UNSET,
        phone: str | _Unset | None = UNSET,
        email: str | _Unset | None = UNSET,
        language: str | _Unset = UNSET,
        marketing_consent: bool | _Unset = UNSET,
    ) -> CustomerInfo:
        """Change the fields given (None or "" clears phone and email); InvalidInput on bad values.

        Everything is validated before anything is written, so a bad email does
        not leave a half-changed profile.
        """
        changes: dict[str, object] = {}
        if not isinstance(name, _Unset):
            changes["name"] = _text(name, "name", max_length=200)
        if not isinstance(phone, _Unset):
            changes["phone"] = parse_phone(phone) if phone and phone.strip() else None
        if not isinstance(email, _Unset):
            changes["email"] = parse_email(email) if email and email.strip() else None
        if not isinstance(language, _Unset):
            changes["language"] = parse_language(language)
        if not isinstance(marketing_consent, _Unset):
            if not isinstance(marketing_consent, bool):
                raise InvalidInput("marketing consent is yes or no", field="marketing_consent",
                                   reason=InputReason.FORMAT)
            changes["marketing_consent"] = marketing_consent
        async with self._sessions.begin() as session:
            row = await _customer(session, customer_id)
            for field, value in changes.items():
                setattr(row, field, value)
            await session.flush()
            info = _info(row)
        key = (info.channel, info.external_id)
        if key in self._known:  # get_or_create(max_age=…) answers with the new profile
            self._known[key] = (self._clock(), info)
        return info

    async def add_address(self, customer_id: int, data: AddressInput) -> AddressInfo:
        """Save a validated address for the customer; it becomes the most recently used."""
        clean = validate_address(data)
        async with self._sessions.begin() as session:
            await _customer(session, customer_id)
            saved = (
                await session.execute(
                    select(func.count()).select_from(Address).where(
                        Address.customer_id == customer_id, Address.archived.is_(False))
                )
            ).scalar_one()
            if saved >= MAX_ADDRESSES:
                raise InvalidInput(
                    f"at most {MAX_ADDRESSES} addresses can be saved; remove one first",
                    field="addresses", reason=InputReason.TOO_MANY, limit=MAX_ADDRESSES
                )
            row = Address(customer_id=customer_id, name=clean.name, street=clean.street,
                          city=clean.city, postcode=clean.postcode, country=clean.country,
                          phone=clean.phone, latitude=clean.latitude,
                          longitude=clean.longitude)
            session.add(row)
            await session.flush()
            return _address_info(row)

    async def addresses(self, customer_id: int) -> list[AddressInfo]:
        """The customer's saved addresses, most recently used first."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(Address)
                    .where(Address.customer_id == customer_id, Address.archived.is_(False))
                    .order_by(Address.last_used_at.desc(), Address.id.desc())
                )
            ).scalars()
            return [_address_info(row) for row in rows]

    async def address(self, customer_id: int, address_id: int) -> AddressInfo:
        """One of the customer's saved addresses (NotAllowed for another customer's)."""
        async with self._sessions() as session:
            row = await _owned_address(session, customer_id, address_id)
            if row.archived:
                raise NotFound(f"address {address_id} was removed", what="address",
                               ref=address_id)
            return _address_info(row)

    async def archive_address(self, customer_id: int, address_id: int) -> None:
        """Hide an address from the customer's list (orders keep their own copy).

        Archiving an already archived address changes nothing; another
        customer's address raises NotAllowed.
        """
        async with self._sessions.begin() as session:
            row = await _owned_address(session, customer_id, address_id)
            row.archived = True
