"""The nightly sync: a random minute inside the window, once a night, recorded for status."""

from __future__ import annotations

import errno
import logging
import os
import random
import time as clock
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from kiosk.data.local_db import local_media_dir
from kiosk.device.nightly import NightlySync, PeriodicReport, next_run, report_in_child, sync_in_child
from kiosk.settings import load_settings, parse_window
from sync.receive.updater import SyncResult, read_status

WINDOW = (time(1, 0), time(5, 0))


def test_next_run_is_a_minute_inside_the_coming_window() -> None:
    rng = random.Random(1)
    evening = datetime(2026, 11, 27, 20, 30)
    runs = [next_run(evening, WINDOW, rng)[0] for _ in range(200)]
    assert all(datetime(2026, 11, 28, 1, 0) <= r < datetime(2026, 11, 28, 5, 0) for r in runs)
    assert len({r.minute + 60 * r.hour for r in runs}) > 100, "kiosks spread over the window"
    assert next_run(evening, WINDOW, rng)[1] == datetime(2026, 11, 28, 5, 0)


def test_inside_the_window_the_rest_of_it_is_used() -> None:
    when, closes = next_run(datetime(2026, 11, 28, 4, 50), WINDOW, random.Random(2))
    assert datetime(2026, 11, 28, 4, 50) <= when < datetime(2026, 11, 28, 5, 0) and closes.hour == 5


def test_a_window_across_midnight() -> None:
    window = parse_window("23:30-02:00")
    when, closes = next_run(datetime(2026, 11, 27, 12, 0), window, random.Random(3))
    assert datetime(2026, 11, 27, 23, 30) <= when < datetime(2026, 11, 28, 2, 0) == closes


@pytest.mark.parametrize("text", ["1-5", "01:00", "05:00-05:00", "25:00-26:00"])
def test_bad_windows_are_refused_clearly(text: str) -> None:
    with pytest.raises(ValueError, match="KIOSK_SYNC_WINDOW"):
        parse_window(text)


class _Clock(NightlySync):
    """NightlySync with a clock the test moves and a sync it records."""

    def __init__(self, data_dir: Path, start: datetime, environ: dict[str, str] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        super().__init__(data_dir, load_settings(environ or {}), sync=self._record)
        self.clock = start
        self.stop.wait = self._advance  # type: ignore[method-assign,assignment]

    def now(self) -> datetime:
        return self.clock

    def _advance(self, seconds: float | None = None) -> bool:
        self.clock = self.clock + timedelta(seconds=seconds or 0)
        return False

    def _record(self, data_dir: Path, **options: Any) -> SyncResult:
        self.calls.append({"at": self.clock, **options})
        return SyncResult("unchanged", 2, "2026-11-27", 500, 1, None)


def test_one_sync_per_night_at_the_planned_minute_and_status_says_when(tmp_path: Path) -> None:
    nightly = _Clock(tmp_path, datetime(2026, 11, 27, 22, 0))
    not_before: datetime | None = nightly.now()
    for _night in range(3):
        assert not_before is not None
        not_before = nightly.run_once(not_before)
        planned = read_status(tmp_path)["next_sync"]
        assert nightly.calls[-1]["at"].strftime("%Y-%m-%d %H:%M") == planned, "status told the truth"
    days = [call["at"].date() for call in nightly.calls]
    assert days == sorted(set(days)) and len(days) == 3, "exactly one sync each night"
    assert all(time(1, 0) <= call["at"].time() < time(5, 0) for call in nightly.calls)
    assert nightly.calls[0]["fetcher_options"]["attempts"] == 6, "the download settings apply"


def test_the_nightly_sync_runs_in_a_child_process_and_reports_its_result(kiosk_data: Path) -> None:
    result = sync_in_child(kiosk_data, {"attempts": 2, "connect_timeout": 5, "read_timeout": 5})
    assert (result.outcome, result.version, result.error) == ("updated", 2, None), result
    assert result.files_downloaded > 0 and read_status(kiosk_data)["last_outcome"] == "updated"
    again = sync_in_child(kiosk_data, {"attempts": 2, "connect_timeout": 5, "read_timeout": 5})
    assert (again.outcome, again.version) == ("unchanged", 2)


def test_a_sync_child_that_ends_without_a_result_is_reported_as_failed(
    kiosk_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIOSK_DEFAULT_LOCALE", "xx")  # a broken setting: the child stops before syncing
    result = sync_in_child(kiosk_data, {"attempts": 1, "connect_timeout": 1, "read_timeout": 1})
    assert result.outcome == "failed" and result.error is not None
    assert "ended without a result" in result.error and "KIOSK_DEFAULT_LOCALE" in result.error


class _Counting(PeriodicReport):
    """PeriodicReport counting how often it looked for an enrolment."""

    checks = 0

    def enrolled(self) -> bool:
        self.checks += 1
        return super().enrolled()


def test_a_kiosk_not_enrolled_reports_nothing_and_starts_no_child(kiosk_data: Path, tmp_path: Path) -> None:
    started: list[Path] = []

    def report(data_dir: Path) -> tuple[bool, str]:
        started.append(data_dir)
        return True, "reported"

    for data_dir in (kiosk_data, tmp_path / "not-set-up"):
        reporter = _Counting(data_dir, interval_s=0.01, report=report)
        reporter.start()
        deadline = clock.monotonic() + 10
        while reporter.checks < 5 and clock.monotonic() < deadline:
            clock.sleep(0.01)
        reporter.stop.set()
        reporter.join(timeout=10)
        assert reporter.checks >= 5 and not reporter.is_alive()
    assert started == [], "no child without an enrolment"


def test_a_stop_ends_the_wait_for_the_next_report_at_once(kiosk_data: Path) -> None:
    reporter = PeriodicReport(kiosk_data, interval_s=3600)
    reporter.start()
    began = clock.monotonic()
    reporter.stop.set()
    reporter.join(timeout=5)
    assert not reporter.is_alive() and clock.monotonic() - began < 1


def test_a_report_child_that_ends_without_a_result_says_why(kiosk_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_DEFAULT_LOCALE", "xx")  # a broken setting: the child stops before reporting
    ok, line = report_in_child(kiosk_data)
    assert not ok and "report process ended without a result" in line and "KIOSK_DEFAULT_LOCALE" in line


def test_the_nightly_loop_goes_on_after_any_exception_and_logs_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    nightly = _Clock(tmp_path, datetime(2026, 11, 27, 22, 0))
    failures = [OSError(errno.ENOSPC, "No space left on device"), RuntimeError("a bug")]

    def sync(data_dir: Path, **options: Any) -> SyncResult:
        nightly.calls.append({"at": nightly.clock})
        if failures:
            raise failures.pop(0)
        nightly.stop.set()  # the third night synced: enough
        return SyncResult("unchanged", 2, "2026-11-27", 500, 1, None)

    nightly.sync = sync
    with caplog.at_level(logging.ERROR, logger="kiosk.device.nightly"):
        nightly.run()  # returns only when stopped (the clock is the test's, so no real waiting)
    assert len(nightly.calls) == 3, "the loop went on after each exception"
    logged = [record for record in caplog.records if record.exc_info]
    assert [type(record.exc_info[1]) for record in logged if record.exc_info] == [OSError, RuntimeError]


def test_periodic_reports_go_on_after_any_exception(kiosk_data: Path) -> None:
    reports: list[int] = []

    def report(data_dir: Path) -> tuple[bool, str]:
        reports.append(1)
        if len(reports) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return True, "reported"

    class Enrolled(PeriodicReport):
        def enrolled(self) -> bool:
            return True

    reporter = Enrolled(kiosk_data, interval_s=0.01, report=report)
    reporter.start()
    deadline = clock.monotonic() + 10
    while len(reports) < 3 and clock.monotonic() < deadline:
        clock.sleep(0.01)
    reporter.stop.set()
    reporter.join(timeout=10)
    assert len(reports) >= 3, "the thread outlived the exception"


def test_the_nightly_job_removes_staff_photos_no_notice_uses_once_their_grace_day_is_over(tmp_path: Path) -> None:
    media = local_media_dir(tmp_path)
    media.mkdir(parents=True)
    kept, stale = media / f"{'1' * 64}.jpg", media / f"{'2' * 64}.jpg"
    for photo in (kept, stale):
        photo.write_bytes(b"photo")
    nightly = _Clock(tmp_path, datetime.now().replace(microsecond=0))  # the files' own clock
    two_days_ago = (nightly.now() - timedelta(days=2)).timestamp()
    os.utime(stale, (two_days_ago, two_days_ago))  # sent with a form nobody saved
    nightly.run_once(nightly.now())
    assert not stale.exists() and kept.exists(), "a photo sent today may still belong to a form in progress"


@pytest.mark.parametrize(
    ("outcome", "setting", "asked", "needs_software"),
    [
        ("unchanged", "1", True, False),
        ("updated", "1", True, False),
        ("failed", "1", False, False),
        ("unchanged", "0", False, False),
        ("failed", "1", True, True),
    ],
)
def test_a_night_that_reached_the_repository_asks_for_a_software_update(
    tmp_path: Path, outcome: str, setting: str, asked: bool, needs_software: bool
) -> None:
    """The update runs in a service of its own (deploy/village-kiosk-update.path starts it on this file), so
    that the restart of the screens it brings does not stop it halfway."""
    nightly = _Clock(tmp_path, datetime(2026, 11, 27, 22, 0), {"KIOSK_UPDATE_NIGHTLY": setting})
    result = SyncResult(outcome, 2, None, 0, 0, None, needs_software=needs_software)  # content in a newer form
    nightly._record = lambda data_dir, **options: result  # type: ignore[method-assign]
    nightly.sync = nightly._record
    nightly.run_once(nightly.now())
    request = tmp_path / "software" / "update-requested"
    assert request.exists() is asked
    if asked:
        assert request.read_text().startswith("2026-11-28T0"), "written at the night's sync"
