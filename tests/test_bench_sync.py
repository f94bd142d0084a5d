"""The update channel's benchmark still runs end to end (it once measured only 404s, unnoticed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_scenario_of_the_sync_benchmark_syncs_at_a_small_size() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.sync", "--powers", "30", "--notices", "30"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0 and "FAILED" not in done.stdout, done.stdout + done.stderr
    assert "answered 404" not in done.stdout + done.stderr
    for scenario in ("first sync", "no change (re-signed)", "one item changed"):
        assert any(line.startswith(scenario) for line in done.stdout.splitlines()), scenario
