"""The real `kiosk` commands, each run in a process of its own and measured, for bench/growth.py and bench/soak.py.

Each command runs as `python -m kiosk.cli ...` from this checkout, as a county office or a kiosk runs it. Its time
is the whole process's (Python's start and imports included: what a nightly job costs the board) and its peak RSS
is its own, from the rusage wait4 returns for that child alone, started from a small process (bench/launch.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

REPOSITORY = Path(__file__).resolve().parents[1]
COMMAND_TIMEOUT_S = 3600.0


@dataclass
class CommandRun:
    """One `kiosk` process: what it printed, its wall time in seconds and its peak RSS in MB."""

    args: list[str]
    seconds: float
    peak_mb: float
    stdout: str
    stderr: str


def run_kiosk(*args: str | Path, env: dict[str, str] | None = None, timeout: float = COMMAND_TIMEOUT_S) -> CommandRun:
    """Run `kiosk ARGS` in a child process and measure it; raise RuntimeError if it fails or overruns *timeout*."""
    words = [str(arg) for arg in args]
    # -m from the repository root: this checkout's kiosk and sync packages, not an installed copy.
    command = [sys.executable, "-m", "kiosk.cli", *words]
    with tempfile.TemporaryDirectory() as temporary, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        figures = Path(temporary) / "figures"
        # Started by bench/launch.py, a small process of its own: see why there. Its session is the command's too,
        # so that a command overrunning its time is stopped with its launcher.
        process = subprocess.Popen([sys.executable, "-m", "bench.launch", str(figures), *command], cwd=REPOSITORY,
                                   stdout=out, stderr=err, env=env, start_new_session=True)  # fmt: skip
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise RuntimeError(f"kiosk {' '.join(words)} ran longer than {timeout:.0f} s and was stopped") from None
        except BaseException:  # Ctrl+C: the command ends with the benchmark
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
        if process.returncode != 0 or not figures.exists():
            raise RuntimeError(
                f"kiosk {' '.join(words)} failed (exit {process.returncode}): {(stdout + stderr)[-3000:]}"
            )
        seconds, peak_kb = figures.read_text().split()
    return CommandRun(words, float(seconds), int(peak_kb) / 1024, stdout, stderr)


@dataclass
class SyncRun:
    """One `kiosk sync --json`: its outcome and what it downloaded (response bodies), beside the process's figures."""

    outcome: str
    error: str | None
    bytes_downloaded: int
    files_downloaded: int
    seconds: float
    peak_mb: float


def kiosk_sync(data_dir: Path) -> SyncRun:
    """Run `kiosk sync --json` on the kiosk in *data_dir* (from the repository it was set up with)."""
    run = run_kiosk("sync", "--json", "--data", data_dir)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    return SyncRun(result["outcome"], result["error"], result["bytes_downloaded"], result["files_downloaded"],
                   run.seconds, run.peak_mb)  # fmt: skip


@dataclass
class County:
    """A generated county's source folder, its signed repository and keys, and the village a kiosk shows."""

    source: Path
    repo: Path
    keys: Path
    village: str
    generate_seconds: float

    @property
    def root_file(self) -> Path:
        return self.repo / "metadata" / "1.root.json"

    @property
    def data(self) -> Path:
        """The county server's data folder: the publish cache (sync/publish/publish_cache.py) lives there."""
        return self.repo.parent / "county-data"

    def publish(self) -> CommandRun:
        """`kiosk county publish`: validate the folder and publish what changed, signed."""
        return run_kiosk("county", "publish", self.source, "--repo", self.repo, "--keys", self.keys,
                         "--data", self.data)  # fmt: skip

    def refresh(self) -> CommandRun:
        """`kiosk county refresh`: re-sign the timestamp, as the county does every night."""
        return run_kiosk("county", "refresh", "--repo", self.repo, "--keys", self.keys)


def new_county(
    root: Path, items: int, seed: int = 1, county_share: float = 1.0, photo_share: float = 0.0
) -> County:  # fmt: skip
    """Generate a county of *items* items (half power items, half notices) under *root* and create its
    repository with `kiosk county init`; nothing is published yet."""
    from bench.generate_county import generate_county

    started = time.perf_counter()
    source = generate_county(root / "county", items // 2, items - items // 2, seed, today=date.today(),
                             county_share=county_share, photo_share=photo_share)  # fmt: skip
    generated = time.perf_counter() - started
    county = yaml.safe_load((source / "county.yaml").read_text(encoding="utf-8"))
    village = county["townships"][0]["villages"][0]["code"]
    repo, keys = root / "repo", root / "keys"
    run_kiosk("county", "init", "--repo", repo, "--keys", keys)
    return County(source, repo, keys, village, generated)


def init_kiosk(data_dir: Path, county: County, repo_url: str | Path) -> CommandRun:
    """`kiosk init`: set a kiosk up for the county's first village, syncing from *repo_url* (a URL or a folder)."""
    return run_kiosk("init", "--village", county.village, "--repo", repo_url, "--root", county.root_file,
                     "--data", data_dir)  # fmt: skip


def tree_mb(folder: Path) -> float:
    """Return the bytes of every file under *folder*, in MB."""
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
