"""bench.county's load: client threads that send kiosks' signed reports and uploads to the county's processes.

1. Sustained rate: the client threads send /api/report for a fixed time, looping over their kiosks.
2. Nightly burst: every kiosk sends one report and one /api/outbox upload of feedback items and its display log,
   as fast as the clients can.

Each client thread holds one keep-alive connection to each process (bench/county_kiosks.py); a kiosk's requests go
to the process its id gives, so the processes share the kiosks evenly, as a load balancer shares them.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.county_kiosks import UPLOADS_PER_KIOSK, KioskClient, SimulatedKiosk, Tally, outbox_body, report_body

MAX_SECONDS = 600.0
MAX_REQUESTS_PER_CLIENT = 200_000  # a bound on the sustained loop besides its duration
BURST_DEADLINE_S = 600.0  # the burst is abandoned (and counted as failed) after this long
START_TIMEOUT_S = 60.0


def percentile_ms(samples: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of *samples* (seconds) in milliseconds; NaN if none."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[rank] * 1000


def cpu_seconds(pids: list[int]) -> float:
    """Return user + system CPU seconds used so far by the processes *pids*."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """Return the CPU seconds used so far by the process *pid* and its children, those running and those ended
    (a PostgreSQL server: its postmaster and every backend)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile: its time is in its parent's children's time
        if stat.parent.name == str(pid):
            total += sum(int(value) for value in fields[11:15])  # its own, and its ended children's
        elif fields[1] == str(pid):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    seconds: float
    tallies: list[Tally]
    server_cpu: float
    client_cpu: float
    database_cpu: float | None = None  # a PostgreSQL server's on this machine, if the benchmark started it

    @property
    def latencies(self) -> list[float]:
        return [latency for tally in self.tallies for latency in tally.latencies]

    @property
    def errors(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for tally in self.tallies:
            for what, count in tally.errors.items():
                merged[what] = merged.get(what, 0) + count
        return merged


def run_threads(clients: int, work: Callable[[int, Tally], None]) -> list[Tally]:
    """Run work(index, tally) in *clients* threads; return their tallies."""
    tallies = [Tally() for _ in range(clients)]
    threads = [threading.Thread(target=work, args=(i, tallies[i]), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=MAX_SECONDS + BURST_DEADLINE_S)
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError("a client thread did not finish in time")
    return tallies


def sustained(ports: list[int], pids: list[int], kiosks: list[SimulatedKiosk], clients: int, seconds: float,
              database: Callable[[], float] | None = None) -> Run:  # fmt: skip
    """Send reports from *clients* threads for *seconds*; time only the common window after a warm-up."""
    window: dict[str, float] = {}
    usage: dict[str, float] = {}

    def open_window() -> None:  # run once, by the last thread to reach the barrier, before any is released
        usage.update(server=cpu_seconds(pids), client=time.process_time(), database=database() if database else 0)
        window.update(start=time.perf_counter(), end=time.perf_counter() + seconds)

    start = threading.Barrier(clients, action=open_window, timeout=START_TIMEOUT_S)

    def work(index: int, tally: Tally) -> None:
        client, mine = KioskClient(ports), kiosks[index::clients]
        try:
            client.post(mine[0], "/api/report", report_body(mine[0], 0), Tally())  # warm-up: connect, first request
            start.wait()
            for n in range(MAX_REQUESTS_PER_CLIENT):
                if time.perf_counter() >= window["end"]:
                    break
                kiosk = mine[n % len(mine)]
                client.post(kiosk, "/api/report", report_body(kiosk, n), tally)
        finally:
            client.close()

    tallies = run_threads(clients, work)
    elapsed = time.perf_counter() - window["start"]
    server_cpu, client_cpu = cpu_seconds(pids) - usage["server"], time.process_time() - usage["client"]
    database_cpu = database() - usage["database"] if database else None
    return Run(elapsed, tallies, server_cpu, client_cpu, database_cpu)


def burst(ports: list[int], pids: list[int], kiosks: list[SimulatedKiosk], clients: int,
          database: Callable[[], float] | None = None) -> Run:  # fmt: skip
    """Every kiosk sends one report and one outbox upload, as fast as the clients can."""
    deadline = time.perf_counter() + BURST_DEADLINE_S

    def work(index: int, tally: Tally) -> None:
        client = KioskClient(ports)
        try:
            for kiosk in kiosks[index::clients]:
                if time.perf_counter() >= deadline:
                    tally.fail("abandoned at the deadline")
                    break
                client.post(kiosk, "/api/report", report_body(kiosk, 0), tally)
                answer = client.post(kiosk, "/api/outbox", outbox_body(kiosk), tally)
                if answer is not None:
                    acked = len(json.loads(answer).get("acked", []))
                    if acked != UPLOADS_PER_KIOSK:
                        tally.fail(f"/api/outbox: {acked} of {UPLOADS_PER_KIOSK} keys acknowledged")
        finally:
            client.close()

    server_before, client_before = cpu_seconds(pids), time.process_time()
    database_before = database() if database else 0
    started = time.perf_counter()
    tallies = run_threads(clients, work)
    elapsed = time.perf_counter() - started
    database_cpu = database() - database_before if database else None
    return Run(elapsed, tallies, cpu_seconds(pids) - server_before, time.process_time() - client_before, database_cpu)
