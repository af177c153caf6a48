"""Settings from the environment or `.env` (names are a contract: DESIGN.md section 4)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from shop.money import is_known_currency

# What Telegram accepts as a webhook secret token.
WEBHOOK_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./chatshop.db"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class StaffRole(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    SUPPORT = "support"


@dataclass(frozen=True, slots=True)
class StaffMember:
    telegram_id: int
    role: StaffRole


class SettingsError(Exception):
    """A setting has a bad value; the message is one line naming the setting."""


def parse_staff_ids(raw: str) -> tuple[StaffMember, ...]:
    """Parse `id[:role]` items, comma-separated; a bare id is an owner."""
    members: list[StaffMember] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        ident, _, role = item.partition(":")
        if not ident.strip().lstrip("-").isdigit():
            raise ValueError(f"{item!r} is not a Telegram user id (expected id[:role])")
        try:
            staff_role = StaffRole(role.strip().lower() or StaffRole.OWNER)
        except ValueError:
            raise ValueError(
                f"{item!r} has an unknown role (expected owner, manager or support)"
            ) from None
        members.append(StaffMember(int(ident), staff_role))
    return tuple(members)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
    )

    bot_token: SecretStr | None = None
    admin_bot_token: SecretStr | None = None
    staff_ids: Annotated[tuple[StaffMember, ...], NoDecode] = ()
    telegram_api_base: str = "https://api.telegram.org"
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    webhook_base_url: str | None = None
    webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    payment_provider_token: SecretStr | None = None
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None
    whatsapp_phone_id: str | None = None
    whatsapp_token: SecretStr | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_api_base: str | None = None
    whatsapp_catalog_id: str | None = None
    # Beyond DESIGN.md's table: the approved utility template for order updates outside the
    # 24-hour window, and our language → the template's language code (`en:en_US,fr:fr`).
    whatsapp_template_order_update: str = "order_update"
    whatsapp_template_languages: str = "en:en_US,fr:fr,pl:pl"
    shop_name: str = "Chatshop"
    # Legal details the bot shows on /contact and /terms (beyond DESIGN.md's table).
    shop_contact: str = ""
    shop_terms: str = ""
    shop_currency: str = "EUR"
    low_stock_threshold: int = Field(default=5, ge=0)
    default_language: str = "en"
    reservation_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    # Beyond DESIGN.md's table: what digital goods cost in Telegram Stars, and
    # how long after delivery a customer may ask for a return.
    stars_per_unit: int = Field(default=50, ge=1, le=1_000_000)
    return_window_days: int = Field(default=30, ge=0, le=3650)
    # Beyond DESIGN.md's table: staff alerts to one group chat instead of each staff member,
    # the time zone that decides what "today" is in reports, and the hour of the daily summary.
    staff_chat_id: int | None = None
    shop_timezone: str = "UTC"
    daily_report_hour: int | None = Field(default=None, ge=0, le=23)
    # Beyond DESIGN.md's table: a bearer token /metrics then requires (sales figures).
    metrics_token: SecretStr | None = None
    # How long a worker may handle one event before another worker takes it over.
    event_lease_seconds: float = Field(default=60.0, ge=1.0, le=3600.0)
    # Beyond DESIGN.md's table: logs as JSON lines for a collector, or readable lines.
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _log_choice(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return value.upper() if info.field_name == "log_level" else value.lower()
        return value

    @field_validator("staff_ids", mode="before")
    @classmethod
    def _staff_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_staff_ids(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                f"{value!r} is not a database URL (e.g. {DEFAULT_DATABASE_URL})"
            ) from None
        if url.drivername not in SUPPORTED_DRIVERS:
            raise ValueError(
                f"driver {url.drivername!r} is not supported; use one of "
                + ", ".join(SUPPORTED_DRIVERS)
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{value!r} is not a redis:// URL")
        return value or None

    @field_validator("telegram_api_base", "webhook_base_url", "stripe_api_base",
                     "whatsapp_api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/") if value else None

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Declared after webhook_base_url, so that one is already validated here.
        secret = value.get_secret_value() if value is not None else ""
        if not secret:
            if info.data.get("webhook_base_url"):
                raise ValueError("is required in webhook mode (WEBHOOK_BASE_URL is set): "
                                 "Telegram must prove each update comes from it")
            return None
        if not WEBHOOK_SECRET_PATTERN.fullmatch(secret):
            # Not the value: it is a secret, and errors end up in logs.
            raise ValueError("must be 1 to 256 characters among A-Z, a-z, 0-9, _ and - "
                             f"(got {len(secret)} characters)")
        return value

    @field_validator("whatsapp_template_languages")
    @classmethod
    def _template_languages(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            ours, _, theirs = item.partition(":")
            if item and not (ours.isalpha() and 2 <= len(ours) <= 3 and theirs
                             and theirs.replace("_", "").isalpha()):
                raise ValueError(f"{item!r} is not ours:theirs, e.g. en:en_US,fr:fr,pl:pl")
        return value

    @field_validator("shop_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        code = value.strip().upper()
        if not is_known_currency(code):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return code

    @field_validator("shop_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone such as Europe/Paris or UTC") from None
        return value.strip()

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        code = value.strip().lower()
        if not code.isalpha() or not 2 <= len(code) <= 3:
            raise ValueError(f"{value!r} is not a language code such as en, fr or pl")
        return code


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    name = str(first["loc"][0]).upper() if first["loc"] else "settings"
    message = first["msg"].removeprefix("Value error, ")
    return f"setting {name}: {message}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings; a bad value raises SettingsError with one line naming it."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
