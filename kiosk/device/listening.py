"""The villager screens' listening socket, handed over by the service manager when there is one.

Under systemd (deploy/village-kiosk.socket) the socket outlives the screens: while `kiosk update` restarts
them on a new release, a page asked for waits in the socket's queue for the new process instead of meeting
a refused connection, so the kiosk's browser never shows an error page. The protocol is sd_listen_fds(3):
LISTEN_PID names the process the sockets are for, LISTEN_FDS how many there are (from descriptor 3 on) and
LISTEN_FDNAMES their names (the socket unit's FileDescriptorName=).
"""

from __future__ import annotations

import os
import socket

FIRST_FD = 3  # SD_LISTEN_FDS_START
SCREENS = "screens"  # deploy/village-kiosk.socket's FileDescriptorName=


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
