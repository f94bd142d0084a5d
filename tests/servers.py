"""Real HTTP servers on 127.0.0.1 for tests: any WSGI app, and a fault injector in front of one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.wire import serving as serving_on_port

WSGIApp = Callable[..., Iterable[bytes]]


@contextmanager
def serving(app: WSGIApp, threads: int = 4) -> Iterator[str]:
    """Serve *app* with waitress on a free loopback port; yield its base URL."""
    with serving_on_port(app, threads) as port:
        yield f"http://127.0.0.1:{port}"


def whole_body(app_iter: Iterable[bytes]) -> bytes:
    """Read a WSGI answer whole and close it, as a server would (it may hold an open file until then)."""
    try:
        return b"".join(app_iter)
    finally:
        close = getattr(app_iter, "close", None)
        if close is not None:
            close()


@dataclass
class Fault:
    """What to do to the next matching request(s)."""

    path_contains: str
    times: int = 1
    status: int | None = None  # answer this status instead (e.g. 500, 503, 429)
    headers: dict[str, str] = field(default_factory=dict)  # e.g. Retry-After
    cut_after: int | None = None  # send only this many body bytes, then drop the connection
    ignore_range: bool = False  # answer 200 with the whole file even to a Range request
    extra: bytes = b""  # append these bytes to the body (a response longer than declared)


class FaultInjector:
    """WSGI middleware that misbehaves on purpose, and records every request it sees."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self.body_bytes = 0
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def _take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path_contains in path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        self.requests.append({"path": path, "range": environ.get("HTTP_RANGE")})
        fault = self._take(path)
        if fault and fault.ignore_range:
            environ.pop("HTTP_RANGE", None)
        if fault and fault.status:
            start_response(f"{fault.status} Injected", [("Content-Length", "0"), *fault.headers.items()])
            return []
        body = whole_body(self.app(environ, self._recording_start(start_response, fault)))
        if fault and fault.extra:
            body += fault.extra
        if fault and fault.cut_after is not None:
            return self._cut(body[: fault.cut_after])
        self.body_bytes += len(body)
        return [body]

    def _recording_start(self, start_response: Any, fault: Fault | None) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if fault and fault.extra:
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            return start_response(status, headers, exc_info)

        return start

    def _cut(self, part: bytes) -> Iterator[bytes]:
        self.body_bytes += len(part)
        yield part
        raise ConnectionAbortedError("injected: connection dropped mid-file")
