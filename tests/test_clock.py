"""A kiosk whose clock is wrong: the screens go by the county's signatures, and staff are told.

The kiosk process runs under faketime (Debian's `faketime`), as a kiosk with a flat CMOS battery does.
"""

from __future__ import annotations

import glob
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from bench.wire import stop_process
from kiosk.cli import main as kiosk_command
from kiosk.data import accounts, queries
from kiosk.data.clock import clock_warning, county_now
from kiosk.data.content_db import open_content
from kiosk.data.local_db import open_local
from kiosk.staff import create_staff_app
from sync.contract.dates import DEFAULT_TIMEZONE
from sync.receive.install import current_database
from sync.receive.updater import read_status, sync_kiosk
from tests.county_repo import CountyRepo
from tests.test_outbox import county_server
from tests.test_staff import PASSWORD, sign_in
from tests.test_uplink import county_rows, enrolled

NOTICE_LINK = re.compile(r'href="/notice/([^"/?]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def libfaketime() -> str:
    """Return Debian's libfaketime (package faketime), preloaded into the kiosk so its clock says what we set."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    assert found, "Debian's faketime is needed (scripts/test installs it)"
    return found[0]


def clock_at(clock: str) -> dict[str, str]:
    """Return the environment of a kiosk command whose clock says *clock* (libfaketime preloaded into it)."""
    # Preloaded into the command itself (not through the faketime wrapper), so stopping it stops it.
    return {**os.environ, "LD_PRELOAD": libfaketime(), "FAKETIME": clock, "KIOSK_DEFAULT_LOCALE": "en"}


@contextmanager
def kiosk_serving_at(data: Path, clock: str) -> Iterator[str]:
    """Run `kiosk serve` on *data* with its clock set to *clock* (libfaketime); yield the screens' URL."""
    port = free_port()
    env = {**clock_at(clock), "KIOSK_PORT": str(port), "KIOSK_STAFF_PORT": str(free_port()),
           "KIOSK_SYNC_NIGHTLY": "0", "KIOSK_REPORT_MINUTES": "0"}  # fmt: skip
    seen = subprocess.run([sys.executable, "-c", "import time; print(time.strftime('%Y-%m-%d', time.gmtime()))"],
                          env=env, capture_output=True, text=True, timeout=30, check=True).stdout.strip()  # fmt: skip
    assert seen == clock.lstrip("@")[:10], f"libfaketime did not set the clock: {seen}"
    command = [sys.executable, "-m", "kiosk.cli", "serve", "--data", str(data)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "kiosk serve did not start"
                time.sleep(0.2)
        yield url
    finally:
        stop_process(server)
        assert server.stdout is not None
        server.stdout.close()


def notices_on_show(url: str) -> set[str]:
    shown: set[str] = set()
    for domain in ("party", "village", "finance", "government"):
        with urllib.request.urlopen(f"{url}/notices/{domain}", timeout=10) as page:
            shown |= set(NOTICE_LINK.findall(page.read().decode()))
    return shown


@pytest.fixture()
def synced(county_repo: CountyRepo, kiosk_data: Path) -> Path:
    result = sync_kiosk(kiosk_data, now=datetime.now(UTC))
    assert result.outcome == "updated", result
    return kiosk_data


def test_a_kiosk_clock_in_2000_shows_the_notices_the_right_clock_shows(synced: Path) -> None:
    with kiosk_serving_at(synced, "@" + datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")) as right:
        expected = notices_on_show(right)
    assert expected, "the demo village has notices on show"
    with kiosk_serving_at(synced, "@2000-01-01 08:00:00") as flat_battery:
        assert notices_on_show(flat_battery) == expected


def test_a_kiosk_clock_in_2000_reports_the_notices_its_screens_show(
    synced: Path, county_repo: CountyRepo, tmp_path: Path
) -> None:
    """The day's display log, by which the county tells a notice taken down early, goes by the screens' clock."""
    with county_server(tmp_path, county_repo) as county:
        enrolled(synced, county.url, county.data)
        command = [sys.executable, "-m", "kiosk.cli", "report", "--data", str(synced)]
        report = subprocess.run(command, env=clock_at("@2000-01-01 08:00:00"), capture_output=True, text=True,
                                timeout=120, check=False)  # fmt: skip
        assert report.returncode == 0 and "reported to the county" in report.stdout, report.stdout + report.stderr
        [(day, log)] = county_rows(county.data, "select day, payload from uploads where kind = 'display_log'")
    path = current_database(synced)
    assert path is not None
    content = open_content(path, synced)
    try:
        shown = queries.notices_on_show(content, county_now(synced, content), limit=10_000)
    finally:
        content.close()
    floor = datetime.fromisoformat(read_status(synced)["time_floor"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert day == f"{floor:%Y-%m-%d}" and json.loads(log)["shown"] == len(shown) > 0, log


def signed_in_console(data: Path) -> FlaskClient:
    """Return a client of the staff console of the kiosk in *data*, signed in as an admin, in English."""
    db = open_local(data)
    accounts.add(db, "anna", "admin", PASSWORD, actor="test")
    db.close()
    app = create_staff_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "x", "DEFAULT_LOCALE": "en"})
    client = app.test_client()
    sign_in(client)
    return client


def in_words(moment: datetime) -> str:
    """A time as the English console shows it: in the demo county's time (UTC+8), e.g. 'January 1, 2000, 08:00'."""
    local = moment.astimezone(ZoneInfo("Asia/Shanghai"))
    return f"{local:%B} {local.day}, {local.year}, {local:%H:%M}"


def test_staff_see_when_the_kiosk_clock_is_behind_or_far_ahead(synced: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    status = read_status(synced)
    signed = datetime.fromisoformat(status["time_floor"])
    assert clock_warning(status, signed + timedelta(minutes=5)) is None, "a right clock raises no warning"
    behind = clock_warning(status, datetime(2000, 1, 1, tzinfo=UTC))
    assert behind is not None and behind["problem"] == "behind"
    ahead = clock_warning(status, signed + timedelta(days=3650))
    assert ahead is not None and ahead["problem"] == "ahead"

    client = signed_in_console(synced)
    runner = CliRunner()
    english = {"KIOSK_DEFAULT_LOCALE": "en"}
    assert "clock" not in client.get("/").get_data(as_text=True).lower(), "no warning while the clock is right"
    assert "Warning" not in runner.invoke(kiosk_command, ["status", "--data", str(synced)], env=english).output

    for clock, words in ((datetime(2000, 1, 1, tzinfo=UTC), "is behind"), (signed + timedelta(days=3650), "ahead")):
        monkeypatch.setattr("kiosk.data.clock.utc_now", lambda clock=clock: clock)
        page = client.get("/").get_data(as_text=True)
        assert in_words(clock) in page and words in page, page  # the county's local time, in words
        assert in_words(signed) in page
        shown = runner.invoke(kiosk_command, ["status", "--data", str(synced)], env=english)
        assert "Warning:" in shown.output and words in shown.output, shown.output


def test_the_staff_console_goes_by_the_same_now_as_the_screens(synced: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a flat battery, a notice written in the console must not be dated 2000 (shown last, its
    公示期 long over on the screens, which go by the floor), nor duties judged as of 2000."""
    flat_battery = datetime(2000, 1, 1, 8, tzinfo=UTC)
    monkeypatch.setattr("kiosk.data.clock.utc_now", lambda: flat_battery)
    monkeypatch.setattr(  # the console's own clock reading, before it went by the floor
        "kiosk.staff.notice_views.local_now",
        lambda timezone: flat_battery.astimezone(ZoneInfo(timezone)).replace(tzinfo=None),
        raising=False,
    )
    floor = datetime.fromisoformat(read_status(synced)["time_floor"]).astimezone(ZoneInfo("Asia/Shanghai"))
    client = signed_in_console(synced)
    page = client.get("/notices/new").get_data(as_text=True)
    assert f'value="{floor:%Y-%m-%d} ' in page and "2000-01-01" not in page, "dated by the floor, as the screens"


def test_a_request_goes_by_one_moment_read_once(synced: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page read at midnight must not show one day and count its look on the next: each request reads the
    clock once, and the next request reads it again."""
    from kiosk.data.clock import screen_now
    from kiosk.screens import create_app

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)  # past the time floor the sync raised
    readings = iter(start + timedelta(days=n) for n in range(10))
    monkeypatch.setattr("kiosk.data.clock.utc_now", lambda: next(readings))

    def local(moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).replace(tzinfo=None)

    app = create_app({"DATA_DIR": str(synced)})
    with app.test_request_context("/"):
        assert screen_now() == screen_now() == local(start), "one moment in a request"
    with app.test_request_context("/"):
        assert screen_now() == local(start + timedelta(days=1)), "the next request reads the clock again"
