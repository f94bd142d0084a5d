"""The studio benchmark still runs end to end and prints every figure beside its target."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JUDGED = ["import 20 rows, command", "list page (n=3)", "item form (n=3)", "import 20 rows, studio (preview + drafts)",
          "preview, another village", "preview after an approval (one file read again)"]  # fmt: skip
SHOWN = ["list, first (reads every file)", "preview, first (loads the folder)"]


def test_the_studio_benchmark_prints_every_figure_at_a_small_size() -> None:
    command = [sys.executable, "-m", "bench.studio", "--powers", "60", "--rows", "20", "--samples", "3"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for figure in JUDGED:
        [line] = [line for line in lines if line.startswith(figure + " ")]
        assert re.search(r"\d+(\.\d+)? (s|ms)\s+(≤|p95 ≤) \d+ (s|ms)\s+(PASS|MISS)$", line), line
    for figure in SHOWN:
        [line] = [line for line in lines if line.startswith(figure + " ")]
        assert re.search(r"\d+(\.\d+)? (s|ms)\s+—$", line), line
