"""The growth benchmark runs every step through the real commands at two small sizes and prints every figure of
every table, each size a column, beside its target (the figures' values are not judged: no timed assertions)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELL = r"[\d,]+(\.\d+)?( (s|MB|B|ms|files)|×)?"
TABLES = {
    "kiosk county publish, the county's first publish": ["time", "peak RSS"],
    "kiosk sync, the kiosk's first install": ["time", "peak RSS", "downloaded"],
    "kiosk sync, a night with no change": ["time", "peak RSS", "downloaded"],
    "kiosk county publish, one power item renamed": ["time", "peak RSS"],
    "kiosk sync, one power item renamed": ["time", "peak RSS", "downloaded"],
    "kiosk county publish, one notice added": ["time", "peak RSS"],
    "pages of the installed kiosk": [
        "search, one key d", "  ÷ static", "power list", "  ÷ static", "notice list", "  ÷ static",
        "power item, first view", "  ÷ static", "power item, warm view", "  ÷ static",
    ],
    "the county and the kiosk": ["generated in", "repository", "kiosk's content database",
                                 "QR cache after the pages", "  on disk", "load average (1 min), end"],
}  # fmt: skip


def test_the_growth_benchmark_prints_every_row_at_every_size() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.growth", "--quick", "--sizes", "200,400", "--requests", "20"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0 and "FAILED" not in done.stderr, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for title, rows in TABLES.items():
        [start] = [number for number, line in enumerate(lines) if line.startswith(title)]
        assert re.match(r"^\s+200 items\s+400 items\s+target$", lines[start + 1]), lines[start + 1]
        for label, line in zip(rows, lines[start + 2 : start + 2 + len(rows)], strict=True):
            judged = r"\s+(PASS|MISS)"
            unjudged = rf"^{re.escape(label)}\s+{CELL}\s+{CELL}\s+—$"
            with_target = rf"^{re.escape(label)}\s+{CELL}{judged}\s+{CELL}{judged}\s+≤ [\d.]+ ?(s|MB|ms|×)$"
            assert re.match(unjudged, line) or re.match(with_target, line), (title, label, line)
