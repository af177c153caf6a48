"""bench/long_reads.py end to end with small parameters: the shop's big reads leave the event
loop turning, the in-loop baseline of the same reads does not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_long_reads_bench_reports_the_loop_stalls() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "long_reads.py"), "--funnel-steps", "150000",
         "--variants", "20000", "--repeats", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bench"] == "long_reads" and result["funnel_steps"] == 150_000
    for read in ("report", "low_stock"):
        assert result[f"{read}_ms"] > 0 and result[f"baseline_{read}_ms"] > 0
        # In the loop, the read is one long stall; off it, the loop keeps turning.
        assert result[f"baseline_{read}_stall_ms"] >= 0.5 * result[f"baseline_{read}_ms"]
    assert result["report_stall_ms"] < result["baseline_report_stall_ms"] / 4
