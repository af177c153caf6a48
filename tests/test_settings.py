from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shop.settings import SettingsError, StaffMember, StaffRole, load_settings, parse_staff_ids

CLEAN_ENV = {"PATH": "/usr/bin:/bin"}


def test_defaults_match_design(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./chatshop.db"
    assert settings.telegram_api_base == "https://api.telegram.org"
    assert (settings.shop_name, settings.shop_currency) == ("Chatshop", "EUR")
    assert (settings.low_stock_threshold, settings.reservation_minutes) == (5, 30)
    assert settings.bot_token is None and settings.staff_ids == ()
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)


def test_staff_ids_with_roles() -> None:
    assert parse_staff_ids("1:owner, 22:manager,333:support,4") == (
        StaffMember(1, StaffRole.OWNER),
        StaffMember(22, StaffRole.MANAGER),
        StaffMember(333, StaffRole.SUPPORT),
        StaffMember(4, StaffRole.OWNER),
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("STAFF_IDS", "abc", "setting STAFF_IDS: 'abc' is not a Telegram user id"),
        ("STAFF_IDS", "12:boss", "setting STAFF_IDS: '12:boss' has an unknown role"),
        ("DATABASE_URL", "not a url", "setting DATABASE_URL: 'not a url' is not a database URL"),
        ("DATABASE_URL", "mysql://x/y", "setting DATABASE_URL: driver 'mysql' is not supported"),
        ("SHOP_CURRENCY", "EURO", "setting SHOP_CURRENCY: 'EURO' is not an ISO 4217"),
        ("HTTP_PORT", "99999", "setting HTTP_PORT:"),
        ("RESERVATION_MINUTES", "soon", "setting RESERVATION_MINUTES:"),
        ("REDIS_URL", "localhost:6379", "setting REDIS_URL: 'localhost:6379' is not a redis://"),
    ],
)
def test_bad_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith(expected)
    assert "\n" not in str(error.value)


def test_env_file_and_empty_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("BOT_TOKEN=\nSHOP_NAME=Corner Shop\nSHOP_CURRENCY=pln\n")
    settings = load_settings()
    assert settings.bot_token is None
    assert settings.shop_name == "Corner Shop"
    assert settings.shop_currency == "PLN"


def test_secrets_are_not_printed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", "123456:SECRET-token-value")
    settings = load_settings()
    assert "SECRET" not in repr(settings) and "SECRET" not in str(settings)
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == "123456:SECRET-token-value"


def test_cli_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shop.cli", "db", "upgrade"],
        env={**CLEAN_ENV, "STAFF_IDS": "abc", "PYTHONPATH": str(Path.cwd())},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: setting STAFF_IDS: 'abc' is not a Telegram user id (expected id[:role])"
    )
