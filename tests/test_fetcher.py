"""Downloads over a bad link, for real: a signed county repository on 127.0.0.1 that misbehaves on purpose.

Every test runs the kiosk's own sync (`sync_kiosk`) against `RepositoryApp` behind `FaultInjector`, with a
fake sleep that records the waits instead of taking them, and checks what the server saw (requests, Range
headers, body bytes) and what the kiosk ended with (outcome, installed version, verified files).
"""

from __future__ import annotations

import email.utils
import socketserver
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kiosk.county.repo_files import RepositoryApp
from sync.receive.database import database_version
from sync.receive.fetcher import ResumableFetcher
from sync.receive.install import current_database, media_dir
from sync.receive.updater import SyncResult, sync_kiosk
from tests.county_repo import VILLAGE, CountyRepo
from tests.servers import Fault, FaultInjector, WSGIApp, serving, whole_body

CUT = 10_000  # bytes a dropped connection lets through
ENDLESS = b"\0" * 1_000_000  # what a broken proxy appends to a file


@dataclass
class Exchange:
    """One request as the server saw it, and the body bytes it sent back."""

    path: str
    range: str | None
    status: int = 0
    sent: int = 0


class Meter:
    """WSGI middleware recording each request's Range header and answer, and counting the body bytes sent."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        exchange = Exchange(environ.get("PATH_INFO", ""), environ.get("HTTP_RANGE"))
        self.exchanges.append(exchange)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            exchange.status = int(status.split()[0])
            return start_response(status, headers, exc_info)

        return self._counted(self.app(environ, start), exchange)

    @staticmethod
    def _counted(body: Iterable[bytes], exchange: Exchange) -> Iterator[bytes]:
        try:
            for chunk in body:
                exchange.sent += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    def of(self, name: str, since: int = 0) -> list[Exchange]:
        """Return the exchanges for paths containing *name*, from the *since*-th request on."""
        return [e for e in self.exchanges[since:] if name in e.path]


@dataclass
class Stall:
    """Hold a response longer than the kiosk's read timeout: before any byte, or after *after* body bytes."""

    path_contains: str
    times: int = 1
    after: int | None = None


class Staller:
    """WSGI middleware applying `Stall`s: each holds its worker for `HOLD` seconds, then answers.

    Holds are never cut short: the test server's shutdown closes every connection first and then waits for
    its workers, so a held worker wakes to a closed connection and stays quiet. Waking it while the server
    is shutting down would race the shutdown for waitress's trigger.
    """

    HOLD = 1.5  # seconds; far above the read timeout used with it, far below the server's 5 s shutdown wait

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.stalls: list[Stall] = []
        self._lock = threading.Lock()

    def add(self, stall: Stall) -> None:
        with self._lock:
            self.stalls.append(stall)

    def _take(self, path: str) -> Stall | None:
        with self._lock:
            for stall in self.stalls:
                if stall.path_contains in path and stall.times > 0:
                    stall.times -= 1
                    return stall
        return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        stall = self._take(environ.get("PATH_INFO", ""))
        if stall is None:
            return self.app(environ, start_response)
        if stall.after is None:
            time.sleep(self.HOLD)
            return self.app(environ, start_response)
        return self._held(whole_body(self.app(environ, start_response)), stall.after)

    def _held(self, body: bytes, after: int) -> Iterator[bytes]:
        yield body[:after]
        time.sleep(self.HOLD)
        yield body[after:]


@dataclass
class CountyServer:
    """The county repository on loopback, its fault injectors and what it saw."""

    repo: CountyRepo
    url: str
    faults: FaultInjector
    stalls: Staller
    meter: Meter
    waits: list[float] = field(default_factory=list)

    def sync(self, data: Path, **options: Any) -> SyncResult:
        """Sync *data* from this server with the fake sleep (waits recorded, never taken)."""
        fetcher_options = {"sleep": self.waits.append, "backoff": 0.01, "attempts": 4, **options}
        return sync_kiosk(data, source=self.url, fetcher_options=fetcher_options)

    def target_url(self, file: Path) -> str:
        """Return the URL the kiosk downloads the repository file *file* from."""
        return f"{self.url}/{file.relative_to(self.repo.path).as_posix()}"

    def partial(self, data: Path, file: Path) -> Path:
        """Return where the kiosk keeps the interrupted download of *file*."""
        return ResumableFetcher(data / "tuf" / "partial", f"{self.url}/targets/").partial_path(self.target_url(file))


@pytest.fixture()
def server(county_repo: CountyRepo) -> Iterator[CountyServer]:
    faults = FaultInjector(RepositoryApp(county_repo.path))
    stalls = Staller(faults)
    meter = Meter(stalls)
    with serving(meter) as url:
        yield CountyServer(county_repo, url, faults, stalls, meter)


@pytest.fixture()
def photo(county_repo: CountyRepo) -> Path:
    """The largest photo of the kiosk's own village, among the last files a first sync downloads."""
    photos = (county_repo.path / "targets" / "village" / VILLAGE / "media").glob("*.jpg")
    chosen = max(photos, key=lambda file: file.stat().st_size)
    assert chosen.stat().st_size > 3 * CUT
    return chosen


def installed(data: Path) -> tuple[Path, int] | None:
    """Return the installed content's database and version, or None when nothing is installed."""
    path = current_database(data)
    return (path, database_version(path)) if path is not None and path.exists() else None


def holds_verified(data: Path, file: Path) -> bool:
    """Tell whether the kiosk holds repository *file* as a verified target and, for a photo, as installed media."""
    sha256, _, name = file.name.partition(".")
    verified = data / "tuf" / "targets" / sha256
    if not verified.exists() or verified.read_bytes() != file.read_bytes():
        return False
    installed_name = sha256 + Path(name).suffix.lower()  # installed media are named by content
    return "/media/" not in file.as_posix() or (media_dir(data) / installed_name).read_bytes() == file.read_bytes()


def publish_a_change(repo: CountyRepo) -> int:
    """Change one county item and publish it; return the new version."""
    repo.edit("powers/dibao-shenqing.yaml", "name: 最低生活保障申请", "name: 最低生活保障（低保）申请")
    version = repo.publish().version
    assert version is not None
    return version


def within_jitter(waits: list[float], backoff: float) -> bool:
    """Tell whether each wait lies in its full-jitter window [0, backoff * 2**attempt]."""
    return all(0 <= wait <= backoff * 2**attempt for attempt, wait in enumerate(waits))


# --- a connection dropped mid-file -----------------------------------------------------------------------------


def test_a_dropped_download_resumes_with_range_in_the_same_sync(
    server: CountyServer, kiosk_data: Path, photo: Path
) -> None:
    size = photo.stat().st_size
    server.faults.add(Fault(photo.name, times=1, cut_after=CUT))
    result = server.sync(kiosk_data)
    assert result.outcome == "updated", result.error
    seen = server.meter.of(photo.name)
    assert [(e.range, e.sent) for e in seen] == [(None, CUT), (f"bytes={CUT}-", size - CUT)]
    assert seen[1].status == 206
    assert holds_verified(kiosk_data, photo)
    assert not server.partial(kiosk_data, photo).exists(), "a verified download leaves no partial behind"
    assert len(server.waits) == 1 and within_jitter(server.waits, 0.01)


def test_a_download_given_up_resumes_in_the_next_sync_without_fetching_a_byte_twice(
    server: CountyServer, kiosk_data: Path, photo: Path
) -> None:
    size = photo.stat().st_size
    dropping = Fault(photo.name, times=1000, cut_after=CUT)  # every response is cut, longer than the attempts
    server.faults.add(dropping)
    first = server.sync(kiosk_data, attempts=3)
    assert first.outcome == "failed" and first.error is not None and "download" in first.error
    assert installed(kiosk_data) is None, "nothing is installed from an unfinished sync"
    verified = {path for path in {e.path for e in server.meter.exchanges if e.path.startswith("/targets/")}
                if (kiosk_data / "tuf" / "targets" / path.rsplit("/", 1)[1].split(".")[0]).exists()}  # fmt: skip
    before = server.meter.of(photo.name)
    assert len(before) == 3, "one request per attempt"
    held = sum(e.sent for e in before)
    partial = server.partial(kiosk_data, photo)
    assert partial.read_bytes() == photo.read_bytes()[:held], "the partial holds exactly what the server sent"
    # Stopped when the photo failed (several download at once): each holds what it received. (Not always all the
    # server sent: the bytes on their way when a connection is cut are lost with it.)
    stopped = {path: server.repo.path / path.lstrip("/") for path in
               {e.path for e in server.meter.exchanges if e.path.startswith("/targets/")} - verified}  # fmt: skip
    kept = {path: server.partial(kiosk_data, file) for path, file in stopped.items() if file != photo}
    kept_sizes = {path: file.stat().st_size if file.exists() else 0 for path, file in kept.items()}

    dropping.times = 0  # the link is good again
    mark = len(server.meter.exchanges)
    second = server.sync(kiosk_data)
    assert second.outcome == "updated", second.error
    after = server.meter.of(photo.name, since=mark)
    assert [e.range for e in after] == [f"bytes={held}-"]
    assert held + after[0].sent == size, "across both syncs the server sent the file exactly once"
    assert holds_verified(kiosk_data, photo) and not partial.exists()
    fetched_again = {e.path for e in server.meter.exchanges[mark:]} & verified
    assert verified and not fetched_again, "files verified in the failed sync are not fetched again"
    for path, size_held in kept_sizes.items():  # resumed where they stopped: no byte received is asked for again
        again = [e for e in server.meter.exchanges[mark:] if e.path == path]
        assert [e.range for e in again] == [f"bytes={size_held}-" if size_held else None], path
        assert size_held + again[0].sent == stopped[path].stat().st_size, path


def test_dropped_metadata_resumes_in_the_same_sync_and_is_never_held_on_disk(
    server: CountyServer, kiosk_data: Path
) -> None:
    size = (server.repo.path / "metadata" / "timestamp.json").stat().st_size
    server.faults.add(Fault("/metadata/timestamp.json", times=1, cut_after=200))
    result = server.sync(kiosk_data)
    assert result.outcome == "updated", result.error
    seen = server.meter.of("/metadata/timestamp.json")
    assert [(e.range, e.sent) for e in seen] == [(None, 200), ("bytes=200-", size - 200)]
    assert list((kiosk_data / "tuf" / "partial").glob("*")) == [], "only targets are kept as partial files"


def test_a_server_that_ignores_range_still_ends_verified_and_installed(
    server: CountyServer, kiosk_data: Path, photo: Path
) -> None:
    size = photo.stat().st_size
    server.faults.add(Fault(photo.name, times=1, cut_after=CUT))
    server.faults.add(Fault(photo.name, times=1, ignore_range=True))
    result = server.sync(kiosk_data)
    assert result.outcome == "updated", result.error
    seen = server.meter.of(photo.name)
    assert [(e.range, e.status, e.sent) for e in seen] == [(None, 200, CUT), (f"bytes={CUT}-", 200, size)]
    assert holds_verified(kiosk_data, photo)
    assert installed(kiosk_data) is not None


# --- busy and failing servers -------------------------------------------------------------------------------------


def test_500_503_and_429_are_retried_with_backoff_and_retry_after(
    server: CountyServer, kiosk_data: Path, photo: Path
) -> None:
    server.faults.add(Fault(photo.name, status=500))
    server.faults.add(Fault(photo.name, status=503))
    server.faults.add(Fault(photo.name, status=429, headers={"Retry-After": "7"}))
    result = server.sync(kiosk_data, backoff=0.5, attempts=8)
    assert result.outcome == "updated", result.error
    statuses = [e.status for e in server.meter.of(photo.name)]
    assert statuses[:3] == [500, 503, 429] and statuses[-1] == 200
    assert len(server.waits) == len(statuses) - 1 <= 7, "one wait before each retry, within the attempts"
    retry_after = statuses.index(429)
    assert server.waits[retry_after] == 7.0, "Retry-After is honoured"
    others = [(n, wait) for n, wait in enumerate(server.waits) if n != retry_after]
    assert all(0 <= wait <= 0.5 * 2**n for n, wait in others), f"full jitter, exponential: {server.waits}"
    assert holds_verified(kiosk_data, photo)


def test_each_busy_answer_costs_exactly_one_attempt_and_one_wait(
    server: CountyServer, kiosk_data: Path, photo: Path
) -> None:
    server.faults.add(Fault(photo.name, status=500))
    server.faults.add(Fault(photo.name, status=503))
    server.faults.add(Fault(photo.name, status=429, headers={"Retry-After": "7"}))
    result = server.sync(kiosk_data, backoff=0.5, attempts=4)
    assert result.outcome == "updated", result.error
    assert [e.status for e in server.meter.of(photo.name)] == [500, 503, 429, 200]
    assert len(server.waits) == 3 and within_jitter(server.waits[:2], 0.5) and server.waits[2] == 7.0


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [
        ("7", 7.0, 7.0),
        ("600", 30.0, 30.0),  # longer than max_wait: capped
        ("HTTP-date 20 s ahead", 10.0, 20.0),
        ("soon", 0.0, 0.5),  # unreadable: the ordinary jittered backoff
    ],
    ids=["seconds", "capped", "http-date", "unreadable"],
)
def test_retry_after_sets_the_wait_capped_by_max_wait(
    server: CountyServer, kiosk_data: Path, photo: Path, retry_after: str, low: float, high: float
) -> None:
    if retry_after.startswith("HTTP-date"):  # made here, not at collection, so the 20 s are still ahead
        retry_after = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    server.faults.add(Fault(photo.name, status=429, headers={"Retry-After": retry_after}))
    result = server.sync(kiosk_data, backoff=0.5, max_wait=30.0)
    assert result.outcome == "updated", result.error
    assert server.meter.of(photo.name)[0].status == 429
    assert server.waits and low <= server.waits[0] <= high, server.waits


def test_a_server_that_keeps_failing_is_given_up_and_the_installed_content_stays(
    server: CountyServer, kiosk_data: Path
) -> None:
    assert server.sync(kiosk_data).outcome == "updated"
    before = installed(kiosk_data)
    assert before is not None
    new_version = publish_a_change(server.repo)
    broken = Fault("/targets/", times=1000, status=503)
    server.faults.add(broken)
    mark = len(server.meter.exchanges)
    result = server.sync(kiosk_data, attempts=4)
    assert result.outcome == "failed" and result.version == before[1]
    assert result.error is not None and "could not download" in result.error and "4 attempts" in result.error
    assert installed(kiosk_data) == before, "the installed content is unchanged"
    tried = [e for e in server.meter.exchanges[mark:] if e.path.startswith("/targets/")]
    assert len(tried) == 4 and len({e.path for e in tried}) == 1, "one changed shard, one request per attempt"
    assert len(server.waits) <= 4

    broken.times = 0
    assert server.sync(kiosk_data).outcome == "updated"
    after = installed(kiosk_data)
    assert after is not None and after[1] == new_version


# --- endless data -------------------------------------------------------------------------------------------------


def test_a_target_longer_than_signed_is_cut_off_and_nothing_is_installed(
    server: CountyServer, kiosk_data: Path
) -> None:
    assert server.sync(kiosk_data).outcome == "updated"
    before = installed(kiosk_data)
    publish_a_change(server.repo)
    server.faults.add(Fault("/targets/", times=1, extra=ENDLESS))
    result = server.sync(kiosk_data)
    assert result.outcome == "failed"
    assert result.error is not None and "longer than its signed length" in result.error
    assert installed(kiosk_data) == before
    assert result.bytes_downloaded < len(ENDLESS) // 4, "the kiosk stopped reading; it did not take the megabyte"
    (shard,) = [e.path for e in server.meter.exchanges if e.path.startswith("/targets/") and e.sent > len(ENDLESS)]
    assert not (kiosk_data / "tuf" / "targets" / shard.rsplit("/", 1)[1].partition(".")[0]).exists()


def test_after_an_over_long_target_the_next_sync_recovers(server: CountyServer, kiosk_data: Path) -> None:
    assert server.sync(kiosk_data).outcome == "updated"
    new_version = publish_a_change(server.repo)
    server.faults.add(Fault("/targets/", times=1, extra=ENDLESS))
    assert server.sync(kiosk_data).outcome == "failed"
    result = server.sync(kiosk_data)  # the server is honest again
    assert result.outcome == "updated", result.error
    after = installed(kiosk_data)
    assert after is not None and after[1] == new_version


def test_endless_timestamp_metadata_is_cut_off_and_the_next_sync_recovers(
    server: CountyServer, kiosk_data: Path
) -> None:
    server.faults.add(Fault("/metadata/timestamp.json", times=1, extra=ENDLESS))
    result = server.sync(kiosk_data)
    assert result.outcome == "failed"
    assert result.error is not None and "longer than its signed length" in result.error
    assert result.bytes_downloaded < len(ENDLESS) // 4
    assert installed(kiosk_data) is None
    assert not (kiosk_data / "tuf" / "metadata" / "timestamp.json").exists(), "nothing trusted from it"
    assert [e.path for e in server.meter.exchanges if e.path.startswith("/targets/")] == []
    again = server.sync(kiosk_data)
    assert again.outcome == "updated", again.error


# --- a partial download that is not what it should be -------------------------------------------------------------


def test_a_tampered_partial_is_refused_discarded_and_the_next_sync_succeeds(
    server: CountyServer, kiosk_data: Path, photo: Path
) -> None:
    partial = server.partial(kiosk_data, photo)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\xff" * CUT)  # not the start of the photo
    first = server.sync(kiosk_data)
    assert first.outcome == "failed"
    assert first.error is not None and "did not match its signed hash" in first.error
    assert [e.range for e in server.meter.of(photo.name)] == [f"bytes={CUT}-"], "the garbage was resumed from"
    assert not partial.exists(), "the partial that failed verification is discarded"
    assert installed(kiosk_data) is None and not holds_verified(kiosk_data, photo)

    mark = len(server.meter.exchanges)
    second = server.sync(kiosk_data)
    assert second.outcome == "updated", second.error
    again = server.meter.of(photo.name, since=mark)
    assert [(e.range, e.sent) for e in again] == [(None, photo.stat().st_size)], "fetched afresh, whole"
    assert holds_verified(kiosk_data, photo)


def test_a_partial_longer_than_the_file_is_cut_off_and_discarded(
    server: CountyServer, kiosk_data: Path, photo: Path
) -> None:
    partial = server.partial(kiosk_data, photo)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\xff" * (photo.stat().st_size + 10))
    first = server.sync(kiosk_data)
    assert first.outcome == "failed" and first.error is not None and "cut off" in first.error
    assert server.meter.of(photo.name) == [], "the held bytes alone were too many: nothing was asked"
    assert not partial.exists()
    assert server.sync(kiosk_data).outcome == "updated"
    assert holds_verified(kiosk_data, photo)


def test_a_partial_the_servers_file_is_shorter_than_is_discarded(
    server: CountyServer, kiosk_data: Path, photo: Path
) -> None:
    original = photo.read_bytes()
    size = len(original)
    partial = server.partial(kiosk_data, photo)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(original[: size - 10])
    photo.write_bytes(original[: size - 20])  # the server's copy was truncated
    first = server.sync(kiosk_data)
    assert first.outcome == "failed" and first.error is not None and "discarded" in first.error
    assert [(e.range, e.status) for e in server.meter.of(photo.name)] == [(f"bytes={size - 10}-", 416)]
    assert not partial.exists()
    photo.write_bytes(original)  # the county repairs its server
    assert server.sync(kiosk_data).outcome == "updated"
    assert holds_verified(kiosk_data, photo)


def test_a_partial_that_holds_the_whole_file_is_verified_without_downloading_it_again(
    server: CountyServer, kiosk_data: Path, photo: Path
) -> None:
    size = photo.stat().st_size
    partial = server.partial(kiosk_data, photo)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(photo.read_bytes())  # the last sync was cut off after the last byte, before verifying
    result = server.sync(kiosk_data)
    assert result.outcome == "updated", result.error
    assert [(e.range, e.status, e.sent) for e in server.meter.of(photo.name)] == [(f"bytes={size}-", 416, 0)]
    assert holds_verified(kiosk_data, photo) and not partial.exists()


# --- timeouts -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("after", [None, 20_000], ids=["before-the-headers", "mid-body"])
def test_a_stalled_response_times_out_and_is_retried(
    server: CountyServer, kiosk_data: Path, photo: Path, after: int | None
) -> None:
    server.stalls.add(Stall(photo.name, times=1, after=after))
    started = time.monotonic()
    result = server.sync(kiosk_data, read_timeout=0.2, connect_timeout=1.0, attempts=3)
    elapsed = time.monotonic() - started
    assert result.outcome == "updated", result.error
    seen = server.meter.of(photo.name)
    assert len(seen) == 2 and len(server.waits) == 1
    if after is not None:
        # Every byte that arrived before the stall is kept and resumed from.
        assert (seen[0].sent, seen[1].range) == (after, f"bytes={after}-")
    assert holds_verified(kiosk_data, photo)
    assert elapsed < Staller.HOLD, "the kiosk gave up on the stalled response rather than waiting it out"


def test_a_server_that_never_answers_is_given_up_after_the_attempts(
    server: CountyServer, kiosk_data: Path, photo: Path
) -> None:
    server.stalls.add(Stall(photo.name, times=1000))
    started = time.monotonic()
    result = server.sync(kiosk_data, read_timeout=0.2, attempts=3)
    elapsed = time.monotonic() - started
    assert result.outcome == "failed" and result.error is not None and "3 attempts" in result.error
    # Each attempt that reached the application was held; on a busy machine an attempt can give up before
    # waitress hands it to a worker (a fresh-clone run under load 9 saw 1), so the server sees at most 3.
    assert 1 <= len(server.meter.of(photo.name)) <= 3
    assert installed(kiosk_data) is None
    assert elapsed < Staller.HOLD


class Dripper:
    """WSGI middleware sending *path_contains*'s body one byte every `GAP` seconds, until told to stop."""

    GAP = 0.05  # well inside the read timeout used with it, so no single read ever times out
    BYTES = 400  # bytes dripped per response at most: 20 s, far past the deadline the test sets

    def __init__(self, app: WSGIApp, path_contains: str) -> None:
        self.app, self.path_contains = app, path_contains
        self.stop = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = self.app(environ, start_response)
        if self.path_contains not in environ.get("PATH_INFO", "") or self.stop.is_set():
            return body
        return self._drip(whole_body(body))

    def _drip(self, body: bytes) -> Iterator[bytes]:
        for index in range(min(len(body), self.BYTES)):
            if self.stop.wait(self.GAP):
                return
            yield body[index : index + 1]


def test_a_server_dripping_bytes_cannot_hold_a_sync_past_its_deadline(
    county_repo: CountyRepo, kiosk_data: Path, photo: Path
) -> None:
    dripper = Dripper(RepositoryApp(county_repo.path), photo.name)
    options = {"sleep": lambda _s: None, "read_timeout": 1.0, "deadline": 1.5}
    with serving(dripper) as url:
        result = sync_kiosk(kiosk_data, source=url, fetcher_options=options)
        dripper.stop.set()
        assert result.outcome == "failed", result
        assert result.error is not None and "deadline" in result.error, result.error
        assert installed(kiosk_data) is None
        held = ResumableFetcher(kiosk_data / "tuf" / "partial", f"{url}/targets/").partial_path(
            f"{url}/{photo.relative_to(county_repo.path).as_posix()}"
        )
        # Kept for the next sync, and fewer than one drip's 400 bytes: it stopped at its deadline, not the drip's end.
        assert 0 < held.stat().st_size < Dripper.BYTES, held.stat().st_size

        resumed = sync_kiosk(kiosk_data, source=url, fetcher_options=options)
    assert (resumed.outcome, resumed.error) == ("updated", None), resumed
    assert holds_verified(kiosk_data, photo)


class HeadDripper(socketserver.ThreadingTCPServer):
    """A server on 127.0.0.1 that answers every request by sending its header one byte every `GAP` seconds.

    http.client reads a header line by line with no bound on time, and the read timeout counts
    between bytes: only the sync's deadline can end this. It counts the bytes it got out before
    the client hung up.
    """

    GAP = 0.05
    BYTES = 300  # bounded: 15 s at most, far past the deadline used with it
    # Handler threads are joined by server_close(), so `dripped` is complete when the test reads it (a daemon
    # thread could still be on its way to counting, and the test saw nothing).
    daemon_threads = False
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HeadDripHandler)
        self.dripped: list[int] = []
        self.stop = threading.Event()


class HeadDripHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, HeadDripper)
        self.request.recv(65536)
        sent = 0
        try:
            self.request.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
            while sent < server.BYTES and not server.stop.wait(server.GAP):
                self.request.sendall(b"a")
                sent += 1
            self.request.sendall(b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass  # the kiosk hung up
        server.dripped.append(sent)


def test_a_server_dripping_its_headers_cannot_hold_a_sync_past_its_deadline(kiosk_data: Path) -> None:
    server = HeadDripper()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        options = {"sleep": lambda _s: None, "read_timeout": 1.0, "deadline": 1.0, "attempts": 2}
        result = sync_kiosk(kiosk_data, source=url, fetcher_options=options)
        server.stop.set()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert result.outcome == "failed", result
    assert result.error is not None and "deadline of 1 seconds (KIOSK_SYNC_DEADLINE)" in result.error, result.error
    assert result.error.count("what arrived is kept") == 1, f"said once: {result.error}"
    assert server.dripped and all(sent < HeadDripper.BYTES for sent in server.dripped), (
        f"the kiosk hung up at its deadline, not at the end of the drip: {server.dripped}"
    )
    assert installed(kiosk_data) is None
