"""The tests' throwaway PostgreSQL (bench/postgres_cluster.py): a cluster whose test run was killed does not run on."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

from bench.postgres_cluster import stop_abandoned

START = "from bench.postgres_cluster import Cluster; c = Cluster(); print(c.folder, c.port, flush=True); input()"


def test_a_cluster_left_by_a_killed_run_is_stopped_by_the_next_one() -> None:
    with subprocess.Popen([sys.executable, "-c", START], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as owner:  # fmt: skip
        assert owner.stdout is not None
        folder, port = owner.stdout.readline().split()
        with socket.create_connection(("127.0.0.1", int(port)), timeout=10):
            pass  # it runs
        assert folder not in [str(path) for path in stop_abandoned()], "its owner is alive: left alone"
        owner.send_signal(signal.SIGKILL)
        owner.wait(30)
    assert folder in [str(path) for path in stop_abandoned()]
    refused = socket.socket()
    try:
        assert refused.connect_ex(("127.0.0.1", int(port))) != 0, "the abandoned cluster was stopped"
    finally:
        refused.close()
