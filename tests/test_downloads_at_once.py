"""A sync downloads a few files at once (sync/receive/signed_files.py): each byte counted once, each download on
a connection it keeps, and a failure or Ctrl+C stopping them all at once, naming the file that failed."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kiosk.county.repo_files import RepositoryApp
from sync.receive.install import current_database
from sync.receive.signed_files import SignedFiles
from sync.receive.status import tuf_dir
from sync.receive.updater import sync_kiosk
from tests.county_repo import VILLAGE, CountyRepo
from tests.servers import WSGIApp, serving, whole_body
from tests.test_fetcher import Meter


class Overlap:
    """WSGI middleware holding each target download a moment, and recording how many were in flight at once."""

    HOLD = 0.05  # seconds: a rural link's round trip, roughly

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.now = self.most = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith("/targets/"):
            return self.app(environ, start_response)
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(self.HOLD)
            return [whole_body(self.app(environ, start_response))]
        finally:
            with self._lock:
                self.now -= 1


def test_a_first_install_downloads_a_few_files_at_once_and_counts_every_byte_once(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    """Thousands of small files wait on a rural link's round trips: the kiosk asks for a few at a time."""
    from sync.receive.signed_files import FETCHES

    overlap = Overlap(RepositoryApp(county_repo.path))
    meter = Meter(overlap)
    with serving(meter) as url:
        result = sync_kiosk(kiosk_data, source=url)
    assert result.outcome == "updated", result
    assert 2 <= overlap.most <= FETCHES, f"{overlap.most} downloads at once"
    answered = [e for e in meter.exchanges if e.status == 200]  # and the probe for a next root: 404
    assert result.files_downloaded == len(answered), "each file counted once"
    assert result.bytes_downloaded == sum(e.sent for e in meter.exchanges), "each byte counted once, none lost"


class Holding:
    """WSGI middleware: holds the first target whose path contains *held* (before its headers) until released,
    answers 404 for *missing*, and records each target request's path and client port."""

    def __init__(self, app: WSGIApp, held: str, missing: str | None = None) -> None:
        self.app, self.held, self.missing = app, held, missing
        self.holding, self.release, self.let_go = threading.Event(), threading.Event(), threading.Event()
        self.asked: list[tuple[str, str]] = []  # (path, client port)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        self.asked.append((path, str(environ.get("REMOTE_PORT"))))
        if self.missing and self.missing in path:
            self.holding.wait(10)  # missing once the held one hangs
            start_response("404 Not Found", [("Content-Length", "0")])
            return []
        if self.held in path and not self.holding.is_set():
            self.holding.set()
            self.release.wait(60)  # released when the test ends
            self.let_go.set()
        return self.app(environ, start_response)


def county_photos(repo: CountyRepo) -> list[str]:
    """The county's photos ('<sha256>.<name>'), in the order a sync asks for them (by name)."""
    return sorted((p.name for p in (repo.path / "targets" / "county" / "media").glob("*.jpg")),
                  key=lambda name: name.split(".", 1)[1])  # fmt: skip


def test_a_failed_download_is_named_and_stops_the_ones_in_flight(county_repo: CountyRepo, kiosk_data: Path) -> None:
    """One photo is missing while another hangs before its headers: the sync fails at once, naming the missing
    one, without waiting for the hung one. The next sync installs."""
    hung, missing = county_photos(county_repo)[:2]
    holding = Holding(RepositoryApp(county_repo.path), hung, missing)
    with serving(holding) as url:
        try:
            result = sync_kiosk(kiosk_data, source=url, fetcher_options={"read_timeout": 120})  # no giving up
            still_hung = not holding.let_go.is_set()
        finally:
            holding.release.set()
    assert holding.holding.is_set() and still_hung, "the sync ended while a download still hung"
    assert result.outcome == "failed" and result.error is not None
    assert missing.split(".")[0] in result.error and hung.split(".")[0] not in result.error, result.error
    assert sync_kiosk(kiosk_data, source=str(county_repo.path)).outcome == "updated"


def test_ctrl_c_stops_a_sync_at_once_while_a_download_hangs(county_repo: CountyRepo, kiosk_data: Path) -> None:
    """Ctrl+C (SIGINT) ends `kiosk sync` while a download hangs, not when the download gives up."""
    hung = county_photos(county_repo)[0]
    holding = Holding(RepositoryApp(county_repo.path), hung)
    script = "import sys; from pathlib import Path; from sync.receive.updater import sync_kiosk; " \
             "sync_kiosk(Path(sys.argv[1]), source=sys.argv[2])"  # fmt: skip
    with serving(holding) as url:
        child = subprocess.Popen([sys.executable, "-c", script, str(kiosk_data), url], stderr=subprocess.PIPE,
                                 text=True)  # fmt: skip
        try:
            assert holding.holding.wait(60), "the photo was asked for"
            child.send_signal(signal.SIGINT)
            _out, errors = child.communicate(timeout=30)
            still_hung = not holding.let_go.is_set()
        finally:
            holding.release.set()
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert child.returncode != 0 and "KeyboardInterrupt" in errors, errors[-500:]
    assert still_hung, "the sync ended while the download still hung"
    assert current_database(kiosk_data) is None, "nothing installed from an interrupted sync"


def test_downloads_at_once_keep_their_connections(
    county_repo: CountyRepo, kiosk_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each of the few downloads at once keeps one connection to the server, rather than one a file."""
    from sync.receive.signed_files import FETCHES

    holding = Holding(RepositoryApp(county_repo.path), held="nothing is held")
    with caplog.at_level("WARNING", logger="urllib3"), serving(holding) as url:
        assert sync_kiosk(kiosk_data, source=url).outcome == "updated"
    ports = {port for path, port in holding.asked}
    assert len(holding.asked) > 2 * FETCHES and len(ports) <= FETCHES + 1, f"{len(ports)} connections"
    assert "pool is full" not in caplog.text


def county_photos_wanted(repo: CountyRepo, kiosk_data: Path, url: str) -> tuple[SignedFiles, list[Any]]:
    """The kiosk's signed files at *url*, refreshed, and the county's photos as a sync asks for them."""
    files = SignedFiles(tuf_dir(kiosk_data), url, VILLAGE, datetime.now(UTC), lambda *_: None, {"read_timeout": 120})
    files.updater.refresh()
    return files, [files.required(f"county/media/{name.split('.', 1)[1]}") for name in county_photos(repo)]


def test_each_file_is_handed_on_in_order_while_the_later_ones_download(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    """A first install reads each shard while the next ones download: fetch hands each file on in the order asked,
    as soon as it and those before it are here, not when the last one is."""
    last = county_photos(county_repo)[-1]
    holding = Holding(RepositoryApp(county_repo.path), held=last)
    handed: list[tuple[Path, bool]] = []  # each file handed on, and whether the last one was still downloading

    def arrived(path: Path) -> None:
        assert path.exists()
        handed.append((path, not wanted[-1][1].exists()))
        if len(handed) == len(wanted) - 1:
            holding.release.set()  # all but the last handed on: the last may come

    with serving(holding) as url:
        try:
            files, wanted = county_photos_wanted(county_repo, kiosk_data, url)
            files.fetch(wanted, arrived)
        finally:
            holding.release.set()
    assert len(wanted) >= 3 and [path for path, _ in handed] == [path for _info, path in wanted]
    assert all(downloading for _path, downloading in handed[:-1]), "handed on while the last one downloaded"
    assert not handed[-1][1]


def test_a_file_that_fails_to_be_read_stops_the_downloads_at_once(county_repo: CountyRepo, kiosk_data: Path) -> None:
    """Reading a handed-on file fails (a damaged shard) while another download hangs: fetch ends at once, with
    that failure, and the hung download is cut."""
    last = county_photos(county_repo)[-1]
    holding = Holding(RepositoryApp(county_repo.path), held=last)

    def arrived(path: Path) -> None:
        assert holding.holding.wait(30), "the last file was asked for"
        raise ValueError(f"{path.name} is damaged")

    with serving(holding) as url:
        try:
            files, wanted = county_photos_wanted(county_repo, kiosk_data, url)
            with pytest.raises(ValueError, match=wanted[0][1].name):
                files.fetch(wanted, arrived)
            still_hung = not holding.let_go.is_set()
        finally:
            holding.release.set()
    assert still_hung, "fetch ended while the last download still hung"
