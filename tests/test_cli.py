"""The `chatshop` command as a newcomer uses it, on a fresh SQLite database in a temp dir."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from shop.cli import cli

Invoke = Callable[..., tuple[int, str]]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/shop.db")
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        return result.exit_code, result.output

    return invoke


def test_demo_loads_once_then_search_and_round_trip(run: Invoke, tmp_path: Path) -> None:
    code, out = run("demo")
    assert code == 0, out
    assert "demo loaded, 60 products and 170 variants; 3 shipping methods" in out
    assert "search index: 60 products" in out
    code, out = run("demo")
    assert code == 0 and "60 products already there, demo catalog not loaded" in out

    code, out = run("catalog", "search", "zolta chsta")
    assert code == 0 and out.splitlines()[1].startswith("Żółta Chusta Scarf")
    code, out = run("catalog", "search", "   ")
    assert code == 1 and "the search query is empty" in out

    code, out = run("catalog", "export", "out.csv")
    assert code == 0 and "exported 170 variant rows" in out
    code, out = run("catalog", "import", "out.csv")
    assert code == 0
    assert "products: 0 created, 0 updated, 60 unchanged" in out

    code, out = run("orders", "export", "orders.csv")
    assert code == 0 and "exported 0 orders" in out
    with (tmp_path / "orders.csv").open(encoding="utf-8") as handle:
        assert next(csv.reader(handle))[0] == "number"


def test_bad_imports_say_why_and_write_nothing(run: Invoke, tmp_path: Path) -> None:
    code, out = run("catalog", "import", "missing.csv")
    assert code == 1 and "missing.csv: no such file" in out
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "handle,title,description,category,option1_name,option1_value,option2_name,"
        "option2_value,sku,price,currency,stock,low_stock_threshold,weight_grams,image_url,"
        "digital\n"
        "tee,Tee,,Clothing,,,,,TEE-1,\"19,99€\",EUR,5,,,,false\n"
        "mug,Mug,,Home,,,,,MUG-1,7.50,EUR,-2,,,,false\n")
    code, out = run("catalog", "import", str(bad))
    assert code == 1
    assert 'line 2: price "19,99€" is not a plain decimal number' in out
    assert "line 3:" in out and "nothing was imported" in out
    code, out = run("catalog", "export", "after.csv")
    assert "exported 0 variant rows" in out


def test_db_upgrade(run: Invoke) -> None:
    code, out = run("db", "upgrade")
    assert code == 0 and "database is up to date" in out
