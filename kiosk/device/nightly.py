"""The background work inside `kiosk serve`: the nightly sync, and reports to the county in between.

The sync runs once a night, at a random minute of the sync window; reports go every
KIOSK_REPORT_MINUTES, give or take a little. Each kiosk picks its own moments, so a county's
kiosks do not all call the county server at once. Both run in a child process.
Times are the county's local time (its timezone in county.yaml, default Asia/Shanghai).
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from kiosk.data.notices import prune_photos_in
from kiosk.device.enrolment import is_enrolled
from kiosk.settings import parse_window
from sync.contract.dates import DEFAULT_TIMEZONE, local_now
from sync.contract.files import atomic_write
from sync.contract.i18n import tr
from sync.receive.status import STATUS, SyncError, SyncResult, read_config, read_status

CHILD_TIMEOUT_S = 4 * 3600  # a sync still running after this is stopped; the next night resumes it
CHILD_LOG_CHARS = 20_000  # of what a child wrote to stderr, passed on to the log (a traceback is a few KB)
REPORT_TIMEOUT_S = 20 * 60  # a report still running after this is stopped; the outbox keeps what was not sent
UPDATE_REQUEST = Path("software") / "update-requested"  # in the data folder; deploy/village-kiosk-update.path
RETRY_S = 15 * 60  # after an unexpected error (a full disk, a damaged file) the thread tries again this much later

log = logging.getLogger(__name__)


def next_run(now: datetime, window: tuple[time, time], rng: random.Random) -> tuple[datetime, datetime]:
    """Return a random minute in the next window still open at *now* (or the rest of this one),
    and when that window closes."""
    start, end = window
    for days in (0, 1):
        opens = datetime.combine(now.date() + timedelta(days=days), start)
        closes = datetime.combine(opens.date() + timedelta(days=1 if end <= start else 0), end)
        for begin, finish in ((opens - timedelta(days=1), closes - timedelta(days=1)), (opens, closes)):
            if finish > now:
                first = max(begin, now)
                minutes = int((finish - first).total_seconds() // 60)
                if minutes >= 1:
                    when = (first + timedelta(minutes=rng.randrange(minutes))).replace(second=0, microsecond=0)
                    return when, finish
    raise AssertionError("a non-empty window always recurs within two days")


def pass_on(command: str, stderr: str) -> None:
    """Log what `kiosk *command*` wrote to stderr in its child process: its warnings (an outbox item set aside),
    the traceback of a failure on a bug. Only the parent's log reaches the journal."""
    if said := stderr.strip():
        text = said[-CHILD_LOG_CHARS:]
        log.warning(tr("kiosk %(command)s (a child process) wrote: %(text)s", command=command, text=text))


def sync_in_child(data_dir: Path, fetcher_options: dict[str, Any]) -> SyncResult:
    """Run `kiosk sync --json` in a child process and return its result.

    The child's memory (a large county's items) goes back to the system when it ends, so the
    screens keep their small footprint; and nothing that goes wrong in a sync can stop them.
    """
    env = {**os.environ, **{f"KIOSK_SYNC_{key.upper()}": str(value) for key, value in fetcher_options.items()}}
    command = [sys.executable, "-m", "kiosk.cli", "sync", "--json", "--data", str(data_dir)]
    try:
        done = subprocess.run(  # noqa: S603 - our own command, no shell
            command, capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT_S, check=False
        )
        pass_on("sync", done.stderr)
        lines = done.stdout.strip().splitlines()
        return SyncResult(**json.loads(lines[-1]))
    except subprocess.TimeoutExpired:
        error = tr("the sync ran longer than %(hours)s hours and was stopped", hours=CHILD_TIMEOUT_S // 3600)
    except (IndexError, json.JSONDecodeError, TypeError):
        error = tr("the sync process ended without a result (exit code %(code)s): %(detail)s",
                   code=done.returncode, detail=done.stderr.strip()[-500:])  # fmt: skip
    return SyncResult("failed", None, None, 0, 0, error)


class NightlySync(threading.Thread):
    """Background thread: wait for tonight's minute, sync, record, repeat until stopped."""

    def __init__(self, data_dir: Path, settings: dict[str, Any], sync: Callable[..., Any] = sync_in_child) -> None:
        super().__init__(name="nightly-sync", daemon=True)
        self.data_dir = Path(data_dir)
        self.window = parse_window(settings["SYNC_WINDOW"])
        self.options = {k: settings[f"SYNC_{k.upper()}"] for k in ("attempts", "connect_timeout", "read_timeout")}
        self.sync = sync
        self.update_after = bool(settings["UPDATE_NIGHTLY"])
        self.stop = threading.Event()
        self.rng = random.Random()  # noqa: S311 - spreading load, not secrecy

    def now(self) -> datetime:
        return local_now(DEFAULT_TIMEZONE)

    def plan(self, not_before: datetime) -> tuple[datetime, datetime]:
        """Choose the next sync time and record it for `kiosk status`."""
        when, closes = next_run(max(self.now(), not_before), self.window, self.rng)
        status = read_status(self.data_dir)
        status["next_sync"] = when.isoformat(sep=" ", timespec="minutes")
        atomic_write(self.data_dir / STATUS, json.dumps(status, ensure_ascii=False, indent=2).encode())
        return when, closes

    def run_once(self, not_before: datetime) -> datetime | None:
        """Wait for the planned minute and sync; return when the next plan may start, None if stopped."""
        when, closes = self.plan(not_before)
        if self.stop.wait(max(0.0, (when - self.now()).total_seconds())):
            return None
        result = self.sync(self.data_dir, fetcher_options=self.options)
        log.log(logging.INFO if result.county_ok else logging.WARNING, "nightly sync: %s", result.to_json())
        if self.update_after and (result.outcome != "failed" or result.needs_software):
            request_update(self.data_dir, self.now())
        # Photos of forms never saved, or taken off their notice, go once their grace day is over.
        log.info("nightly: %s unused staff photos removed", prune_photos_in(self.data_dir, self.now()))
        return closes  # never twice in one window

    def run(self) -> None:
        not_before: datetime | None = self.now()
        while not_before is not None and not self.stop.is_set():
            try:
                not_before = self.run_once(not_before)
            except Exception:  # an unattended kiosk's thread must outlive anything
                log.exception("nightly sync: unexpected error; trying again in %s minutes", RETRY_S // 60)
                if self.stop.wait(RETRY_S):
                    return


def request_update(data_dir: Path, now: datetime) -> None:
    """Ask for `kiosk update`: deploy/village-kiosk-update.path starts it in a service of its own, which outlives
    the restart of the screens it brings (a child of this process would be stopped with them)."""
    try:
        (data_dir / UPDATE_REQUEST).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(data_dir / UPDATE_REQUEST, now.isoformat(timespec="seconds").encode())
    except OSError as error:  # a full disk: the next night asks again
        log.warning("nightly: could not ask for a software update: %s", error)


def report_in_child(data_dir: Path) -> tuple[bool, str]:
    """Run `kiosk report` in a child process; return whether it went and the line it printed.

    As with the sync, nothing that goes wrong in a report (a county that hangs, a crash) can reach the screens.
    """
    command = [sys.executable, "-m", "kiosk.cli", "report", "--data", str(data_dir)]
    try:
        done = subprocess.run(  # noqa: S603 - our own command, no shell
            command, capture_output=True, text=True, timeout=REPORT_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return False, tr("the report ran longer than %(minutes)s minutes and was stopped",
                         minutes=REPORT_TIMEOUT_S // 60)  # fmt: skip
    pass_on("report", done.stderr)
    lines = done.stdout.strip().splitlines()
    if not lines:
        return False, tr("the report process ended without a result (exit code %(code)s): %(detail)s",
                         code=done.returncode, detail=done.stderr.strip()[-500:])  # fmt: skip
    return done.returncode == 0, lines[-1]


class PeriodicReport(threading.Thread):
    """Background thread: report to the county every *interval_s* seconds while enrolled, until stopped.

    Besides the report after each sync, so the county sees a kiosk that stays online between nights.
    """

    def __init__(
        self, data_dir: Path, interval_s: float, report: Callable[[Path], tuple[bool, str]] = report_in_child
    ) -> None:
        super().__init__(name="county-report", daemon=True)
        self.data_dir = Path(data_dir)
        self.interval_s = interval_s
        self.report = report
        self.stop = threading.Event()
        self.rng = random.Random()  # noqa: S311 - spreading load, not secrecy

    def enrolled(self) -> bool:
        """Tell whether the kiosk is enrolled, from its files alone (no child, no network)."""
        try:
            return is_enrolled(self.data_dir, read_config(self.data_dir))
        except SyncError:  # not set up yet
            return False

    def run_once(self) -> str | None:
        """Report now if enrolled; return what happened, None if not enrolled (then nothing is started)."""
        if not self.enrolled():
            return None
        ok, line = self.report(self.data_dir)
        log.log(logging.INFO if ok else logging.WARNING, "county report: %s", line)
        return line

    def run(self) -> None:
        # The first wait is anywhere in the interval and later ones vary by a tenth, so kiosks that
        # started together (power back after a cut) spread out instead of calling in the same minute.
        wait = self.rng.uniform(0, self.interval_s)
        while not self.stop.wait(wait):
            wait = self.interval_s * self.rng.uniform(0.9, 1.1)
            try:
                self.run_once()
            except Exception:  # an unattended kiosk's thread must outlive anything
                log.exception("county report: unexpected error; trying again in %s minutes", round(wait / 60))
