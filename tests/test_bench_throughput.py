"""bench/throughput.py end to end with tiny parameters: a real `chatshop run` worker in webhook
mode and the echo bot, each in its own process, driven over HTTP through the fake Bot API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"bench", "customers", "updates", "updates_per_s", "echo_updates_per_s", "ratio",
        "p50_ms", "p95_ms", "p99_ms", "rate_per_s", "p50_ms_at_rate", "p95_ms_at_rate",
        "p99_ms_at_rate", "errors", "echo_errors"}


@pytest.mark.slow
def test_throughput_bench_reports_every_bot() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "throughput.py"), "--customers", "5",
         "--updates", "40", "--rate", "10", "--duration", "2", "--timeout", "20",
         "--row-echo", "--rounds", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) > 1 and "chatshop, max throughput" in done.stdout
    result = json.loads(lines[-1])
    assert set(result) >= KEYS
    assert result["bench"] == "throughput" and result["customers"] == 5
    # Every update of the max-throughput run was answered by the worker's real handlers.
    assert result["updates"] == 40 and result["errors"] <= 2 and result["echo_errors"] == 0
    assert result["updates_per_s"] > 0 and result["echo_updates_per_s"] > 0
    assert result["ratio"] == pytest.approx(
        result["updates_per_s"] / result["echo_updates_per_s"], rel=0.02)
    # Two rounds, alternating; the figures are those of the median round (of two: the higher).
    assert result["rounds"] == 2 and result["ratio"] == max(result["round_ratios"])
    assert "ratio per round: " in done.stdout
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"] < 20_000
    assert 0 < result["p50_ms_at_rate"] <= result["p95_ms_at_rate"] <= result["p99_ms_at_rate"]
    assert result["updates_at_rate"] >= 18  # of 10/s for 2 s
    assert result["cpu_ms_per_update"] > 0 and result["echo_cpu_ms_per_update"] > 0
    # The calibration: the echo reading and writing a row per update, in the same run.
    assert "echo+row, max throughput: 40 of 40 updates answered" in done.stdout
    assert result["row_echo_errors"] == 0 and result["row_echo_cpu_ms_per_update"] > 0
    assert result["ratio_to_row_echo"] == pytest.approx(
        result["updates_per_s"] / result["row_echo_updates_per_s"], rel=0.02)
