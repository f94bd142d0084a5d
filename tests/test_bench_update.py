"""The update benchmark runs end to end on a small wheelhouse and prints every figure beside its target."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.test_software_update import fake_wheel

ROOT = Path(__file__).resolve().parents[1]
JUDGED = ["bytes fetched ÷ the kiosk's wheel", "update, start to the new release serving",
          "screens down (health every 100 ms)"]  # fmt: skip


def test_the_update_benchmark_prints_every_figure(tmp_path: Path) -> None:
    wheelhouse = fake_wheel(tmp_path / "wheelhouse", "0.1.0")  # a stand-in kiosk that serves /healthz
    (wheelhouse / "dependency-1.0-py3-none-any.whl").write_bytes(b"a dependency, the same in both releases" * 100)
    done = subprocess.run([sys.executable, "-m", "bench.update", "--wheelhouse", str(wheelhouse)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for figure in JUDGED:
        [line] = [line for line in lines if line.startswith(figure + " ")]
        assert re.search(r"\d+(\.\d+)?(×| s).*≤ \d+(\.\d+)?(×| s)\s+(PASS|MISS)$", line), line
    [first] = [line for line in lines if line.startswith("first install")]
    assert re.search(r"\d+\.\d s, \d+\.\d MB\s+—$", first), first
