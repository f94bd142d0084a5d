"""The soak benchmark serves a small county with the real `kiosk serve` (both listeners) and prints its memory,
the QR cache and every kind of request it sent (the figures' values are not judged: no timed assertions)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ["home", "power categories", "power list", "notice list", "power item", "notice", "catalogue", "search page",
         "search key", "other screens", "staff console"]  # fmt: skip


def test_the_soak_benchmark_prints_memory_and_every_kind_of_request() -> None:
    command = [sys.executable, "-m", "bench.soak", "--size", "200", "--requests", "600", "--interval", "1"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr  # every request answered 200
    lines = done.stdout.splitlines()
    samples = [line for line in lines if re.match(r"^\s+\d+\s+[\d,]+\s+[\d.]+ MB$", line)]
    assert len(samples) >= 2 and samples[-1].split()[1] == "600", samples
    for kind in KINDS:
        assert any(re.match(rf"^{kind}\s+[\d,]+\s+[\d.]+\s+[\d.]+\s+[\d.]+$", line) for line in lines), kind
    [rss] = [line for line in lines if line.startswith("kiosk serve RSS after 600 requests")]
    assert re.search(r"[\d.]+ MB\s+≤ 60 MB\s+(PASS|MISS)$", rss), rss
    [cache] = [line for line in lines if line.startswith("QR cache at the end")]
    assert re.search(r"[\d,]+ files, [\d.]+ MB\s+—$", cache), cache
