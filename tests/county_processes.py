"""Real `kiosk county serve` processes on one county folder (and one database), as behind nginx (issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import urllib3

from bench.wire import free_port, stop_process


@contextmanager
def county_servers(
    repo: Path, data: Path, count: int = 2, env: dict[str, str] | None = None
) -> Iterator[tuple[list[str], list[subprocess.Popen[bytes]]]]:
    """Start *count* county server processes on the folder *data* (with *env* added to this one's); yield their
    addresses once each answers, and the processes; stop them all at the end."""
    processes: list[subprocess.Popen[bytes]] = []
    urls = []
    try:
        for _ in range(count):
            port = free_port()
            command = [sys.executable, "-m", "kiosk.cli", "county", "serve", "--repo", str(repo), "--port", str(port),
                       "--data", str(data)]  # fmt: skip
            processes.append(subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))  # fmt: skip
            urls.append(f"http://127.0.0.1:{port}")
        retries = urllib3.Retry(total=None, connect=120, read=0, backoff_factor=0.1, backoff_max=0.5)
        for url in urls:  # up to about a minute each on a busy machine
            assert urllib3.request("GET", f"{url}/sign-in", retries=retries).status == 200
        yield urls, processes
    finally:
        for process in processes:
            stop_process(process)
