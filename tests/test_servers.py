"""The loopback servers the tests run (bench.wire.serving) stop cleanly, whoever wakes their loop first."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterable
from typing import Any

import pytest
from waitress import trigger

from tests.servers import serving


def answer_ok(_environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def test_a_server_stops_when_its_loop_wakes_before_the_stop_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    # waitress wakes its loop by writing a byte to a pipe (its trigger), and runs what was queued with it: the stop
    # is queued, then its byte written. A worker that has just answered a request wakes the loop too, so the loop
    # can run the stop before that byte is written. A stop that closed the pipe then made the write fail (EBADF),
    # about one run of a test file in five on a busy machine; here the worker's wake-up always comes first.
    real_pull = trigger.trigger._physical_pull
    stopped = threading.Event()

    def woken_first(self: trigger.trigger) -> None:
        if threading.current_thread() is threading.main_thread() and self.thunks and not stopped.is_set():
            with self.lock:
                stop = self.thunks[-1]

                def stop_and_say() -> None:
                    try:
                        stop()
                    finally:
                        stopped.set()

                self.thunks[-1] = stop_and_say
            real_pull(self)  # a worker's wake-up: the loop runs the queued stop
            assert stopped.wait(timeout=10), "the loop ran the stop"
        real_pull(self)

    monkeypatch.setattr(trigger.trigger, "_physical_pull", woken_first)
    with serving(answer_ok) as url, urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == b"ok"
    assert stopped.is_set()
