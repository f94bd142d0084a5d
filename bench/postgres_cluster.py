"""A real PostgreSQL for the tests and bench.county: a throwaway cluster from Debian's `postgresql`, on 127.0.0.1.

scripts/test installs the package. The cluster lives in a temporary folder for one test session (or benchmark),
listens on a free loopback port (and a socket in its own folder), trusts local connections and is stopped at the
end; each test that asks gets a database of its own. PostgreSQL refuses to run as root: as root (CI), the server runs as
the `postgres` user the package made.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.wire import free_port

USER = "kiosk"  # the cluster's superuser
PREFIX = "kiosk-pg-"  # the clusters' folders, in the temporary folder
OWNER = "owner.pid"  # the process that started the cluster: when it is gone, the next cluster stops this one
_NUMBERS = itertools.count(1)


def binaries() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: scripts/test installs Debian's postgresql package")
    return Path(found[-1]).parent


def _as_server(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Cluster:
    """A running throwaway cluster; `database()` makes a fresh database and returns its URL.

    *durable*: PostgreSQL's own defaults (every commit flushed to disk), as a county runs it; else, for the tests,
    nothing is flushed.
    """

    def __init__(self, durable: bool = False) -> None:
        stop_abandoned()
        self.folder = Path(tempfile.mkdtemp(prefix=PREFIX))
        self.port = free_port()
        data, sockets = self.folder / "data", self.folder / "sockets"
        sockets.mkdir()
        (self.folder / OWNER).write_text(str(os.getpid()))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            shutil.chown(sockets, "postgres")
        bin_dir = binaries()
        subprocess.run(_as_server([str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
                                   "--encoding=UTF8", "--locale=C.UTF-8"]),
                       check=True, capture_output=True)  # fmt: skip
        options = f"-h 127.0.0.1 -p {self.port} -k {sockets}"
        if not durable:
            options += " -c fsync=off -c full_page_writes=off"
        subprocess.run(_as_server([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-t", "60",
                                   "-l", str(self.folder / "server.log"), "start"]),
                       check=True, capture_output=True)  # fmt: skip
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}"

    def database(self, options: str = "") -> str:
        """Create an empty database (with *options* of CREATE DATABASE, if any); return its URL."""
        return create_database(self.url, f"test_{os.getpid()}_{next(_NUMBERS)}", options)

    def server_pid(self) -> int:
        """The pid of the cluster's postmaster (every backend is its child)."""
        return int((self.folder / "data" / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        _stop(self.folder)


def _stop(folder: Path) -> None:
    subprocess.run(_as_server([str(binaries() / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "stop"]),
                   capture_output=True)  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)


def stop_abandoned() -> list[Path]:
    """Stop and remove the clusters whose test run or benchmark was killed before it could (its owner is gone)."""
    stopped = []
    for owner in Path(tempfile.gettempdir()).glob(f"{PREFIX}*/{OWNER}"):
        try:
            pid = int(owner.read_text())
            os.kill(pid, 0)
        except ProcessLookupError:
            _stop(owner.parent)
            stopped.append(owner.parent)
        except (ValueError, OSError):
            continue  # not readable yet, or another user's: left alone
    return stopped


def create_database(server: str, name: str, options: str = "") -> str:
    """Create the database *name* on the PostgreSQL *server* (postgresql://USER@HOST:PORT); return its URL."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'create database "{name}" {options}'.encode())
    return f"{server}/{name}"


def drop_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)'.encode())


def running_cluster() -> Iterator[Cluster]:
    """Start a cluster, yield it, stop it (the conftest's session fixture)."""
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
