"""Downloads for python-tuf's ngclient over weak rural links: resumable, patient, bounded.

- Targets (content-addressed, so their bytes never change) are kept in a partial file as they
  arrive; an interrupted download, in this run or the next, resumes with an HTTP Range request.
  A server that ignores Range answers 200: the bytes already held are skipped in the stream.
- Connect and read timeouts; connection errors, 500/502/503/504 and 429 are retried a bounded
  number of times with exponential backoff and full jitter; 429's Retry-After is honoured.
- One deadline for the whole sync: a server that drips a byte every few seconds (never tripping
  the read timeout) cannot hold a sync for ever, in its body or in its headers (which http.client
  reads with no bound on time: the connection is cut); what arrived is kept and resumed next time.
- ``file://`` URLs read a local folder (a USB stick) through the same verification path.
ngclient checks every length and hash; this class only moves bytes (and counts them).
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import random
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import urllib3
from tuf.api import exceptions
from tuf.ngclient import FetcherInterface

CHUNK = 64 * 1024
WATCH_AGAIN = 0.2  # seconds between cuts once the deadline has passed
RETRY_STATUSES = {429, 500, 502, 503, 504}


class DeadlinePassed(exceptions.DownloadError):
    """The sync ran past its overall deadline of *seconds*; what arrived is kept for the next sync."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the sync ran past its deadline of {seconds:g} seconds (KIOSK_SYNC_DEADLINE)")
        self.seconds = seconds


class Stopped(exceptions.DownloadError):
    """The downloads were stopped: another failed, or the sync was interrupted."""


class _CuttablePoolManager(urllib3.PoolManager):
    """A PoolManager that remembers the connections it opens, so a deadline can cut them mid-read."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._remembering = threading.Lock()  # several downloads open connections at once

    def _new_pool(self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None) -> Any:
        pool = super()._new_pool(scheme, host, port, request_context)
        open_connection = pool._new_conn  # urllib3 2.x has no public hook on a new connection

        def remembered() -> Any:
            connection = open_connection()
            with self._remembering:
                self.connections.add(connection)
            return connection

        pool._new_conn = remembered  # type: ignore[method-assign]
        return pool

    def cut(self) -> None:
        """Shut every open connection down: a read blocked on it returns at once."""
        with self._remembering:
            connections = list(self.connections)
        for connection in connections:
            if getattr(connection, "sock", None) is not None:
                with contextlib.suppress(OSError):
                    connection.sock.shutdown(socket.SHUT_RDWR)


class ResumableFetcher(FetcherInterface):
    """A FetcherInterface with resume, retries and byte counting."""

    def __init__(
        self,
        partial_dir: Path,
        resumable_prefix: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        attempts: int = 6,
        backoff: float = 1.0,
        max_wait: float = 120.0,
        deadline: float | None = None,
        sleep: Callable[[float], None] | None = None,
        on_bytes: Callable[[int], None] | None = None,
        connections: int = 1,
    ) -> None:
        """:param deadline: seconds from now after which every download stops (None: no deadline).
        :param sleep: how a wait before a retry is spent (default: waiting, or until stop()).
        :param connections: downloads at once (SignedFiles.fetch), each keeping its connection to the server.
        """
        self.partial_dir = Path(partial_dir)
        self.seconds = deadline
        self.deadline = time.monotonic() + deadline if deadline else None
        self.resumable_prefix = resumable_prefix
        self.attempts, self.backoff, self.max_wait = attempts, backoff, max_wait
        self._stopped = threading.Event()
        self.sleep = sleep or self._pause
        self.on_bytes = on_bytes
        self.bytes_received = 0
        self.files_received = 0
        self._counting = threading.Lock()  # SignedFiles.fetch downloads several files at once
        self.last_url: str | None = None  # what a refusal is about, for the sentence staff read
        self._blamed = False  # last_url names a download that failed: the others do not change it
        self._pool = _CuttablePoolManager(
            retries=False, timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout), maxsize=connections
        )

    # --- bookkeeping -----------------------------------------------------------------------------
    def partial_path(self, url: str) -> Path:
        return self.partial_dir / hashlib.sha256(url.encode()).hexdigest()

    def forget(self, url: str) -> None:
        """Drop what is held of *url* (after it was verified, or failed verification)."""
        self.partial_path(url).unlink(missing_ok=True)

    def _count(self, size: int) -> None:
        with self._counting:
            self.bytes_received += size
        if self.on_bytes:
            self.on_bytes(size)

    def _file_received(self) -> None:
        with self._counting:
            self.files_received += 1

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        delay = retry_after_seconds(retry_after)
        if delay is None:
            delay = random.uniform(0, self.backoff * 2**attempt)  # noqa: S311 - jitter, not secrecy
        if self.deadline is not None:
            delay = min(delay, max(0.0, self.deadline - time.monotonic()))
        self.sleep(min(delay, self.max_wait))
        self._check_deadline()

    def _check_deadline(self) -> None:
        if self._stopped.is_set():
            raise Stopped("the downloads were stopped")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DeadlinePassed(self.seconds or 0)

    def _pause(self, seconds: float) -> None:
        self._stopped.wait(seconds)

    def stop(self) -> None:
        """Stop every download in flight: a read blocked on its connection returns, a wait before a retry ends."""
        self._stopped.set()
        self._pool.cut()

    def close(self) -> None:
        """Close every connection this fetcher holds."""
        self._pool.clear()

    def blame(self, url: str) -> None:
        """Name *url* as what went wrong (last_url), whatever downloads in flight at the same time did."""
        with self._counting:
            if not self._blamed:
                self.last_url, self._blamed = url, True

    # --- fetching --------------------------------------------------------------------------------
    def _request(self, url: str, headers: dict[str, str]) -> urllib3.BaseHTTPResponse:
        """Send a GET and read the answer's status and headers, cut off at the deadline.

        The body is read a chunk at a time with the deadline checked between (`_stream`); the
        headers are read by http.client in one call, which a server sending a byte at a time
        would hold for ever, so a watchdog cuts the connection when the deadline comes.
        """
        answered = threading.Event()
        if self.deadline is not None:
            threading.Thread(target=self._watch, args=(answered,), name="fetch-deadline", daemon=True).start()
        try:
            response = self._pool.request("GET", url, headers=headers, preload_content=False, redirect=False)
        finally:
            answered.set()
        if self.deadline is not None and time.monotonic() > self.deadline:
            response.close()  # a head the watchdog cut short reads as a complete, empty answer
            self._check_deadline()
        return response

    def _watch(self, answered: threading.Event) -> None:
        """From the deadline on, cut the connections until the request is answered: once is not enough, as a
        connection opened just then has no socket to cut yet."""
        assert self.deadline is not None
        if answered.wait(max(0.0, self.deadline - time.monotonic())):
            return
        while not answered.is_set():
            self._pool.cut()
            answered.wait(WATCH_AGAIN)

    def _fetch(self, url: str) -> Iterator[bytes]:
        if not self._blamed:
            self.last_url = url
        if url.startswith("file://"):
            return self._read_local(url)
        return self._download(url, resumable=url.startswith(self.resumable_prefix))

    def _read_local(self, url: str) -> Iterator[bytes]:
        path = Path(unquote(urlsplit(url).path))
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed by the generator below
        except FileNotFoundError:
            raise exceptions.DownloadHTTPError(f"{path} is not in the folder", 404) from None
        self._file_received()
        return self._chunks_of(stream)

    def _chunks_of(self, stream: object) -> Iterator[bytes]:
        with stream:  # type: ignore[attr-defined]
            while chunk := stream.read(CHUNK):  # type: ignore[attr-defined]
                self._count(len(chunk))
                yield chunk

    def _download(self, url: str, resumable: bool) -> Iterator[bytes]:
        partial = self.partial_path(url) if resumable else None
        if partial is not None:
            partial.parent.mkdir(parents=True, exist_ok=True)
            if partial.exists():
                with open(partial, "rb") as held:  # what an earlier attempt already received
                    while chunk := held.read(CHUNK):
                        yield chunk
        given = partial.stat().st_size if partial is not None and partial.exists() else 0
        last_error: Exception | None = None
        for attempt in range(self.attempts):
            self._check_deadline()
            headers = {"Range": f"bytes={given}-"} if given else {}
            try:
                response = self._request(url, headers)
            except urllib3.exceptions.HTTPError as error:
                last_error = error
                self._wait(attempt, None)
                continue
            reusable = False  # True once the body has been read to its end
            try:
                if response.status in RETRY_STATUSES:
                    last_error = exceptions.DownloadHTTPError(f"{url} answered {response.status}", response.status)
                    response.drain_conn()  # so the pooled connection is clean for the retry
                    reusable = True
                    if attempt + 1 < self.attempts:
                        self._wait(attempt, response.headers.get("Retry-After"))
                    continue
                if response.status == 416 and partial is not None:
                    if _complete_length(response) == given:
                        # Everything was held already (the last attempt ended just before verifying):
                        # ngclient now verifies the bytes yielded above.
                        self._file_received()
                        return
                    # What is held is not a prefix of this file: start again next time.
                    partial.unlink(missing_ok=True)
                    raise exceptions.DownloadError(f"{url}: the partial download did not fit; it was discarded")
                if response.status not in (200, 206):
                    raise exceptions.DownloadHTTPError(f"{url} answered {response.status}", response.status)
                skip = given if response.status == 200 else _range_start(response, given)
                for chunk in self._stream(response, skip, partial):
                    given += len(chunk)
                    yield chunk
                reusable = True
                self._file_received()
                return
            except (urllib3.exceptions.HTTPError, OSError) as error:
                last_error = error  # cut mid-file: resume from what is held
                self._wait(attempt, None)
            finally:
                # A body left unread (an error, or ngclient stopping an over-long file) would be read
                # as the next response on a pooled connection: drop the connection instead.
                if reusable:
                    response.release_conn()
                else:
                    response.close()
        raise exceptions.DownloadError(f"{url}: gave up after {self.attempts} attempts: {last_error}")

    def _stream(self, response: urllib3.BaseHTTPResponse, skip: int, partial: Path | None) -> Iterator[bytes]:
        """Yield the response's new bytes, skipping *skip* already held, appending them to *partial*.

        read1 hands over whatever has arrived, so a read timeout loses no byte already received.
        """
        with open(partial, "ab") if partial is not None else contextlib.nullcontext() as held:
            while chunk := response.read1(CHUNK, decode_content=False):
                self._count(len(chunk))
                if skip:
                    dropped = min(skip, len(chunk))
                    chunk, skip = chunk[dropped:], skip - dropped
                if chunk and held is not None:
                    held.write(chunk)  # kept before a stop or the deadline is heeded: never asked for again
                    held.flush()
                self._check_deadline()
                if chunk:
                    yield chunk


def _range_start(response: urllib3.BaseHTTPResponse, given: int) -> int:
    """Return how many leading bytes of a 206 response are already held (0 when it starts right)."""
    content_range = response.headers.get("Content-Range", "")
    try:
        start = int(content_range.split()[1].split("-")[0])
    except (IndexError, ValueError):
        raise exceptions.DownloadError(f"unreadable Content-Range {content_range!r}") from None
    if start > given:
        raise exceptions.DownloadError(f"the server skipped bytes {given}-{start}")
    return given - start


def _complete_length(response: urllib3.BaseHTTPResponse) -> int | None:
    """Read the file length from a 416 answer's Content-Range: 'bytes */<length>'."""
    unit, _, length = response.headers.get("Content-Range", "").partition(" */")
    return int(length) if unit == "bytes" and length.isdigit() else None


def retry_after_seconds(value: str | None) -> float | None:
    """Read a Retry-After header: seconds, or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
