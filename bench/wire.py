"""Measuring bytes on the wire on 127.0.0.1: a counting relay, a body counter, a test server, rsync.

Used by bench/sync.py (the update channel against rsync) and by tests/servers.py (the server).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RSYNC_TIMEOUT_S = 600.0
START_TIMEOUT_S = 10.0
RELAY_IDLE_S = 60.0  # a relayed connection idle this long is dropped
CHUNK = 64 * 1024
WSGIApp = Callable[..., Iterable[bytes]]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_results(results: list[tuple[str, str, str, bool | None]], measured_width: int = 24) -> None:
    """Print each figure (name, what was measured, its target, whether it was met: None for no target) as a
    table, then the machine's load (a busy host slows every figure)."""
    print()
    width = max(len(name) for name, *_ in results)
    for name, measured, target, met in results:
        judged = "" if met is None else verdict(met)
        print(f"{name:<{width}}  {measured:>{measured_width}}  {target:<14} {judged}".rstrip())
    print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))


# --- the county's server ----------------------------------------------------------------------------
class BodyCounter:
    """WSGI middleware that records (path, status, body bytes) for every response."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.log: list[tuple[str, int, int]] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        status: list[int] = []

        def start(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(int(line.split()[0]))
            return start_response(line, headers, exc_info)

        return self._counted(environ.get("PATH_INFO", ""), status, self.app(environ, start))

    def _counted(self, path: str, status: list[int], body: Iterable[bytes]) -> Iterator[bytes]:
        size = 0
        try:
            for chunk in body:
                size += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            with self._lock:
                self.log.append((path, status[0] if status else 0, size))


class WireCounter:
    """A TCP relay on 127.0.0.1 in front of the server, counting every byte both ways."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.up = self.down = 0  # bytes kiosk → server, server → kiosk
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, name="relay-accept", daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=START_TIMEOUT_S)
            for sock in (client, server):
                sock.settimeout(RELAY_IDLE_S)
                # Without it, Nagle's algorithm meets delayed ACKs: ~40 ms lost on every request.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets += [client, server]
            for source, target, upward in ((client, server, True), (server, client, False)):
                thread = threading.Thread(target=self._pump, args=(source, target, upward), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _pump(self, source: socket.socket, target: socket.socket, upward: bool) -> None:
        try:
            while data := source.recv(CHUNK):
                with self._lock:  # counted before it is passed on, so a finished kiosk saw it counted
                    if upward:
                        self.up += len(data)
                    else:
                        self.down += len(data)
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stopping.set()
        for sock in [self.listener, *self._sockets]:
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


@contextlib.contextmanager
def serving(app: WSGIApp, threads: int = 4) -> Iterator[int]:
    """Serve *app* with waitress on a free loopback port in a thread; yield the port."""
    from waitress import wasyncore
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=threads, ident="county")
    thread = threading.Thread(target=server.run, name="county-server", daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        # Close in the server's own loop thread: closing sockets from here while it waits in select()
        # could fail there with EBADF. Open keep-alive connections are closed too, or the loop would not
        # end; handle_close (not close) also wakes a worker waiting to write to its channel.
        # The loop's wake-up pipe (its trigger) is only taken out of the loop there, and closed here once the
        # loop and the workers have ended: the loop runs what was queued with the pipe as soon as anything
        # wakes it, and a worker that has just answered a request wakes it too, so it may run this before
        # pull_trigger below has written its own byte; a pipe closed by then made that write fail (EBADF), and
        # a worker's later wake-up wrote to a closed descriptor, or to whatever file had just been given its number.
        def close_everything() -> None:
            for channel in list(server._map.values()):
                if channel is not server and channel is not server.trigger:
                    channel.handle_close()
            wasyncore.dispatcher.close(server)  # the listening socket (server.close() would close the pipe too)
            server.trigger.del_channel()  # the map is empty: the loop ends

        server.trigger.pull_trigger(close_everything)
        thread.join(timeout=START_TIMEOUT_S)
        server.task_dispatcher.shutdown(timeout=START_TIMEOUT_S)
        if thread.is_alive() or server.task_dispatcher.threads:
            raise RuntimeError("the server on 127.0.0.1 did not stop")
        server.trigger.close()


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Stop a server process: politely, then for sure."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# --- the rsync baseline -------------------------------------------------------------------------------
def start_on_socket(listening: socket.socket, command: list[str], **popen: Any) -> subprocess.Popen[Any]:
    """Start *command* as systemd starts a service on its socket unit (deploy/village-kiosk.socket): *listening*
    as descriptor 3, with LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES=screens (sd_listen_fds(3))."""
    script = 'LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=screens exec "$@"'
    return subprocess.Popen(  # the sh becomes *command* (exec), so $$ is its process id
        ["/bin/sh", "-c", script, "sh", *command], pass_fds=(3,),
        preexec_fn=lambda: os.dup2(listening.fileno(), 3), **popen,  # before exec, in the child only
    )  # fmt: skip


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def rsync_daemon(tree: Path, work: Path) -> Iterator[str]:
    """Run `rsync --daemon` on 127.0.0.1 exporting *tree* read-only; yield the module's URL."""
    config = work / "rsyncd.conf"
    config.write_text(
        f"pid file = {work / 'rsyncd.pid'}\nlog file = {work / 'rsyncd.log'}\nuse chroot = no\n"
        f"uid = {os.getuid()}\ngid = {os.getgid()}\n\n[county]\n    path = {tree}\n    read only = yes\n",
        encoding="utf-8",
    )
    port = free_port()
    command = ["rsync", "--daemon", "--no-detach", f"--config={config}", "--address=127.0.0.1", f"--port={port}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rsync --daemon did not start: {process.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.05)
        yield f"rsync://127.0.0.1:{port}/county/"
    finally:
        stop_process(process)


@dataclass
class RsyncRun:
    sent: int
    received: int
    seconds: float

    @property
    def total(self) -> int:
        return self.sent + self.received


def run_rsync(url: str, dest: Path) -> RsyncRun:
    """Copy *url* into *dest* with `rsync -az`; return the bytes it counted both ways."""
    dest.mkdir(exist_ok=True)
    command = ["rsync", "-az", "--stats", "--contimeout=10", "--timeout=60", url, f"{dest}/"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=RSYNC_TIMEOUT_S, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"rsync failed (exit {done.returncode}): {done.stderr[-2000:]}")

    def stat(name: str) -> int:
        match = re.search(rf"^Total bytes {name}: ([\d,.]+)", done.stdout, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no 'Total bytes {name}' in rsync --stats: {done.stdout[-2000:]}")
        return int(re.sub(r"\D", "", match.group(1)))

    return RsyncRun(stat("sent"), stat("received"), seconds)
