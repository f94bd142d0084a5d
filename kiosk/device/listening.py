"""The villager screens' listening socket, handed over by the service manager when there is one.

Under systemd (deploy/village-kiosk.socket) the socket outlives the screens: while `kiosk update` restarts
them on a new release, a page asked for waits in the socket's queue for the new process instead of meeting
a refused connection, so the kiosk's browser never shows an error page. The protocol is sd_listen_fds(3):
LISTEN_PID names the process the sockets are for, LISTEN_FDS how many there are (from descriptor 3 on) and
LISTEN_FDNAMES their names (the socket unit's FileDescriptorName=).

Stopped (SIGTERM, as ``systemctl restart`` stops them), the screens stop taking connections at once, so that
the next ones wait in the socket's queue for the new process, answer the requests they had taken, and end
(``stop_gracefully``): a page asked for at that moment is answered by one process or the other, never cut off.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from typing import Any

FIRST_FD = 3  # SD_LISTEN_FDS_START
SCREENS = "screens"  # deploy/village-kiosk.socket's FileDescriptorName=
GRACE_S = 10.0  # at most this long for the requests taken to be answered (systemd waits 90 s before it kills)
SETTLE_S = 0.3  # a connection taken this recently may not have sent its request yet: it is waited for too


def inherited_socket(name: str = SCREENS, environ: dict[str, str] | None = None) -> socket.socket | None:
    """The listening socket *name* the service manager passed to this process, if it passed one.

    The LISTEN_* variables are removed once read, as sd_listen_fds(3) does, so a child process (the nightly
    sync) never takes the sockets for its own.
    """
    env = os.environ if environ is None else environ
    try:
        meant_for, count = int(env.get("LISTEN_PID", "")), int(env.get("LISTEN_FDS", ""))
    except ValueError:
        return None
    names = env.get("LISTEN_FDNAMES", "").split(":")
    for variable in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        env.pop(variable, None)
    if meant_for != os.getpid() or not 0 < count < 64:
        return None
    position = names.index(name) if name in names else (0 if count == 1 and names == [""] else -1)
    if position < 0 or position >= count:
        return None
    listening = socket.socket(fileno=FIRST_FD + position)
    listening.setblocking(False)  # waitress's dispatcher expects a non-blocking socket
    return listening


def stop_gracefully(server: Any, grace_s: float = GRACE_S) -> None:
    """On SIGTERM, make waitress's *server* take no more connections, answer those it has, then end its loop.

    The handler only stops the accepting (the loop runs in the main thread, where the handler runs, and the
    loop is what sends the answers); a thread waits until no connection has a request or an answer under way
    and none is newer than SETTLE_S, or *grace_s* passed, then signals the process again, and the handler
    then ends the loop with SystemExit (waitress ends ``run`` quietly on it). Not through SIGINT: a process
    started in the background of a shell ignores it. An idle kept-alive connection is closed with the
    process: a browser sends a request it had put on such a connection again on a new one.
    """
    stopping, ending = threading.Event(), threading.Event()

    def busy() -> bool:
        now = time.time()
        return any(
            channel.requests or channel.total_outbufs_len or now - channel.last_activity < SETTLE_S
            for channel in list(server.active_channels.values())
        )

    def wait_then_end() -> None:
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and busy():
            time.sleep(0.05)
        ending.set()
        os.kill(os.getpid(), signal.SIGTERM)

    def on_term(_signum: int, _frame: Any) -> None:
        if ending.is_set():  # the waiting thread's signal: the pages taken are answered
            raise SystemExit(0)
        if not stopping.is_set():  # the first SIGTERM; another one while waiting changes nothing
            stopping.set()
            server.accepting = False  # from the loop's next turn on; the socket stays open for the next screens
            threading.Thread(target=wait_then_end, name="graceful-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
