"""Benchmark the county server's capacity: signed kiosk reports per second, and a county's nightly burst.

Builds a signed repository of the demo county and a county.db in a temporary folder, enrols the
simulated kiosks there directly (store.add_kiosk, then store.enrol with a fresh Ed25519 key each),
and serves the county app (CountyServer around create_county_app, waitress, 8 threads) in a
subprocess on 127.0.0.1, so that its CPU time is its own. Client threads, each on one keep-alive
connection, sign and POST as kiosk.device.uplink does (Ed25519 over `time + "\\n" + body`).

1. Sustained rate: the client threads send /api/report for a fixed time, looping over their kiosks.
2. Nightly burst: every kiosk sends one report and one /api/outbox upload of feedback items and
   its display log, as fast as the clients can; then county.db's rows are counted.
3. Dashboard: an officer signs in and loads each dashboard page over county.db as the runs left it,
   on top of --history-days of earlier reports, display logs and ratings (bench/county_history.py).

Both client and server share the machine's cores: on a 2-core box the clients' own CPU (signing,
JSON, http.client under one GIL) competes with the server's, so the figures are a lower bound on
what the server does alone. Both processes' CPU seconds are printed to show who was busy.

Usage, from the repository root:
    .venv/bin/python -m bench.county [--seconds 20] [--clients 16] [--kiosks 2000] [--history-days 90]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.county_history import prefill
from bench.county_kiosks import (
    FEEDBACK_PER_KIOSK,
    UPLOADS_PER_KIOSK,
    KioskClient,
    SimulatedKiosk,
    Tally,
    enrol_kiosks,
    outbox_body,
    report_body,
)
from bench.county_officer import DASHBOARD_REPEATS, DASHBOARD_TARGET_S, add_officer, dashboard_pages, dashboard_times
from bench.wire import stop_process, verdict

RATE_TARGET = 300.0  # reports per second, sustained
P95_TARGET_MS = 100.0
BURST_TARGET_S = 60.0
SERVER_THREADS = 8
MAX_SECONDS = 600.0
MAX_REQUESTS_PER_CLIENT = 200_000  # a bound on the sustained loop besides its duration
BURST_DEADLINE_S = 600.0  # the burst is abandoned (and counted as failed) after this long
START_TIMEOUT_S = 60.0
REPOSITORY = Path(__file__).resolve().parents[1]


def percentile_ms(samples: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of *samples* (seconds) in milliseconds; NaN if none."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[rank] * 1000


# --- the county server, in its own process ---------------------------------------------------------------
def serve(repo: str, data_dir: str) -> None:
    """Run in the server subprocess: the real county app under waitress; print the port."""
    import logging

    from waitress.server import create_server

    from kiosk.county import CountyServer, create_county_app

    app = create_county_app({"REPO": repo, "DATA_DIR": data_dir})
    # More clients than threads queue by design; waitress would log "Task queue depth is N" for each.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(
        CountyServer(Path(repo), app), host="127.0.0.1", port=0, threads=SERVER_THREADS, ident="county"
    )
    print(server.effective_port, flush=True)
    server.run()


def start_server(repo: Path, data_dir: Path) -> tuple[subprocess.Popen[str], int]:
    """Start the county server in a subprocess; return it and its port once it listens."""
    command = [sys.executable, "-m", "bench.county", "--serve", str(repo), str(data_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPOSITORY)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
    line = process.stdout.readline() if ready else ""
    if not line.strip().isdigit():
        stop_process(process)
        raise RuntimeError(f"the county server did not start within {START_TIMEOUT_S:.0f} s")
    return process, int(line)


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds used so far by process *pid*."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- setup ----------------------------------------------------------------------------------------------
def build_repository(root: Path) -> tuple[Path, list[str]]:
    """Create a signed repository holding the demo county; return it and the county's village codes."""
    from kiosk.demo import DEMO_CONTENT
    from sync.contract.content import load_county
    from sync.publish.release import publish_county
    from sync.publish.repository import Repository

    repository = Repository(root / "repo", root / "keys")
    repository.init(root / "keys" / "root")
    county = load_county(Path(DEMO_CONTENT))
    publish_county(repository, county)
    return root / "repo", [village["code"] for village in county.villages()]


# --- the kiosks' side -----------------------------------------------------------------------------------
def run_threads(clients: int, work: Any) -> list[Tally]:
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


@dataclass
class Run:
    seconds: float
    tallies: list[Tally]
    server_cpu: float
    client_cpu: float

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


def sustained(port: int, server_pid: int, kiosks: list[SimulatedKiosk], clients: int, seconds: float) -> Run:
    """Send reports from *clients* threads for *seconds*; time only the common window after a warm-up."""
    window: dict[str, float] = {}
    usage: dict[str, float] = {}

    def open_window() -> None:  # run once, by the last thread to reach the barrier, before any is released
        usage.update(server=cpu_seconds(server_pid), client=time.process_time())
        window.update(start=time.perf_counter(), end=time.perf_counter() + seconds)

    start = threading.Barrier(clients, action=open_window, timeout=START_TIMEOUT_S)

    def work(index: int, tally: Tally) -> None:
        client, mine = KioskClient([port]), kiosks[index::clients]
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
    server_cpu, client_cpu = cpu_seconds(server_pid) - usage["server"], time.process_time() - usage["client"]
    return Run(elapsed, tallies, server_cpu, client_cpu)


def burst(port: int, server_pid: int, kiosks: list[SimulatedKiosk], clients: int) -> Run:
    """Every kiosk sends one report and one outbox upload, as fast as the clients can."""
    deadline = time.perf_counter() + BURST_DEADLINE_S
    acked_keys = [0] * clients

    def work(index: int, tally: Tally) -> None:
        client = KioskClient([port])
        try:
            for kiosk in kiosks[index::clients]:
                if time.perf_counter() >= deadline:
                    tally.fail("abandoned at the deadline")
                    break
                client.post(kiosk, "/api/report", report_body(kiosk, 0), tally)
                answer = client.post(kiosk, "/api/outbox", outbox_body(kiosk), tally)
                if answer is not None:
                    acked = len(json.loads(answer).get("acked", []))
                    acked_keys[index] += acked
                    if acked != UPLOADS_PER_KIOSK:
                        tally.fail(f"/api/outbox: {acked} of {UPLOADS_PER_KIOSK} keys acknowledged")
        finally:
            client.close()

    server_before, client_before = cpu_seconds(server_pid), time.process_time()
    started = time.perf_counter()
    tallies = run_threads(clients, work)
    elapsed = time.perf_counter() - started
    return Run(elapsed, tallies, cpu_seconds(server_pid) - server_before, time.process_time() - client_before)


def count_rows(data_dir: Path, first_report_id: int, uploads_before: int) -> tuple[int, int, int]:
    """Return the burst's reports, the kiosks they came from, and the uploads it added to county.db."""
    from kiosk.county import store

    db = store.open_store(data_dir, migrate=False)
    try:
        reports, senders = db.execute(
            "select count(*), count(distinct kiosk_id) from reports where id > ?", (first_report_id,)
        ).fetchone()
        uploads = db.execute("select count(*) from uploads").fetchone()[0]
    finally:
        db.close()
    return int(reports), int(senders), int(uploads) - uploads_before


def held_so_far(data_dir: Path) -> tuple[int, int]:
    """Return the last report's id and the number of uploads held."""
    from kiosk.county import store

    db = store.open_store(data_dir, migrate=False)
    try:
        last = int(db.execute("select coalesce(max(id), 0) from reports").fetchone()[0])
        return last, int(db.execute("select count(*) from uploads").fetchone()[0])
    finally:
        db.close()


# --- the report -------------------------------------------------------------------------------------
def print_table(
    rate_run: Run, burst_run: Run, rows: tuple[int, int, int], kiosks: int, clients: int,
    dashboard: dict[str, tuple[float, int]],
) -> bool:  # fmt: skip
    """Print the figures beside their targets; return whether every target was met."""
    ok_count = len(rate_run.latencies)
    rate = ok_count / rate_run.seconds
    p50, p95, p99 = (percentile_ms(rate_run.latencies, f) for f in (0.5, 0.95, 0.99))
    b50, b95 = (percentile_ms(burst_run.latencies, f) for f in (0.5, 0.95))
    reports, senders, uploads = rows
    rows_ok = reports == kiosks and senders == kiosks and uploads == kiosks * UPLOADS_PER_KIOSK
    checks = [
        ("sustained reports/s", f"{rate:.1f}", f"≥ {RATE_TARGET:.0f}", rate >= RATE_TARGET),
        ("report p95 latency, ms", f"{p95:.1f}", f"≤ {P95_TARGET_MS:.0f}", p95 <= P95_TARGET_MS),
        ("sustained errors", str(sum(rate_run.errors.values())), "0", not rate_run.errors),
        (f"nightly burst of {kiosks} kiosks, s", f"{burst_run.seconds:.1f}", f"< {BURST_TARGET_S:.0f}",
         burst_run.seconds < BURST_TARGET_S),
        ("burst errors", str(sum(burst_run.errors.values())), "0", not burst_run.errors),
        ("burst rows: reports / uploads", f"{reports} / {uploads}", f"{kiosks} / {kiosks * UPLOADS_PER_KIOSK}",
         rows_ok),
    ] + [(f"dashboard {page}, slowest s", f"{seconds:.2f}", f"≤ {DASHBOARD_TARGET_S:.0f}",
          seconds <= DASHBOARD_TARGET_S) for page, (seconds, _size) in dashboard.items()]  # fmt: skip
    width = max(len(name) for name, *_rest in checks)
    header = f"{'figure':<{width}} {'value':>15}  {'target':<15} {'':4}"
    print(header)
    print("-" * len(header))
    for name, value, target, ok in checks:
        print(f"{name:<{width}} {value:>15}  {target:<15} {verdict(ok)}")
    print()
    print(
        f"sustained: {ok_count} reports acknowledged in {rate_run.seconds:.1f} s by {clients} client threads;"
        f" latency p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms"
    )
    print(
        f"burst: {len(burst_run.latencies)} requests acknowledged ({kiosks} reports + {kiosks} uploads of"
        f" {FEEDBACK_PER_KIOSK} ratings and a display log), {2 * kiosks / burst_run.seconds:.0f} requests/s;"
        f" latency p50 {b50:.1f} ms, p95 {b95:.1f} ms; rows from {senders} distinct kiosks"
    )
    print(
        f"dashboard: signed in, each page {DASHBOARD_REPEATS} times after the burst; sizes "
        + ", ".join(f"{page} {size / 1024:.0f} KB" for page, (_s, size) in dashboard.items())
    )
    for name, run in (("sustained", rate_run), ("burst", burst_run)):
        print(
            f"CPU during {name}: server {run.server_cpu:.1f} s ({run.server_cpu / run.seconds:.2f} cores),"
            f" clients {run.client_cpu:.1f} s ({run.client_cpu / run.seconds:.2f} cores)"
        )
        for what, count in sorted(run.errors.items()):
            print(f"  {name} error: {what} × {count}")
    print(
        f"machine: {os.cpu_count()} CPUs; load average (1, 5, 15 min) at the end: "
        + ", ".join(f"{load:.2f}" for load in os.getloadavg())
    )
    return all(ok for *_, ok in checks)


def benchmark(seconds: float, clients: int, kiosk_count: int, history_days: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-county-") as temporary:
        root = Path(temporary)
        started = time.perf_counter()
        repo, villages = build_repository(root)
        kiosks = enrol_kiosks(root / "data", villages, kiosk_count)
        add_officer(root / "data")
        print(
            f"setup: demo county repository ({len(villages)} villages), {kiosk_count} kiosks enrolled"
            f" in {time.perf_counter() - started:.1f} s; server: waitress, {SERVER_THREADS} threads, subprocess"
        )
        if history_days:
            print(prefill(root / "data", [(k.kiosk_id, k.village) for k in kiosks], history_days), flush=True)
        process, port = start_server(repo, root / "data")
        try:
            rate_run = sustained(port, process.pid, kiosks, clients, seconds)
            first_burst_report, uploads_before = held_so_far(root / "data")
            burst_run = burst(port, process.pid, kiosks, clients)
            dashboard = dashboard_times(port, dashboard_pages(history_days))
        finally:
            stop_process(process)
        rows = count_rows(root / "data", first_burst_report, uploads_before)
    print()
    return print_table(rate_run, burst_run, rows, kiosk_count, clients, dashboard)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the county server's capacity for kiosk reports.")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the sustained run (default 20)")
    parser.add_argument("--clients", type=int, default=16, help="client threads, one connection each (default 16)")
    parser.add_argument("--kiosks", type=int, default=2000, help="simulated kiosks enrolled (default 2000)")
    parser.add_argument(
        "--history-days",
        type=int,
        default=90,
        help="days of reports, display logs and ratings in county.db before the runs (default 90)",
    )
    parser.add_argument("--serve", nargs=2, metavar=("REPO", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(*args.serve)
        return 0
    if not 0 < args.seconds <= MAX_SECONDS or not 1 <= args.clients <= 64 or args.kiosks < args.clients:
        parser.error(f"give 0 < --seconds ≤ {MAX_SECONDS:.0f}, 1 ≤ --clients ≤ 64 and --kiosks ≥ --clients")
    if not 0 <= args.history_days <= 400:
        parser.error("give 0 ≤ --history-days ≤ 400")
    # Every missed target ends in a non-zero exit code, as a batch job's failures do.
    return 0 if benchmark(args.seconds, args.clients, args.kiosks, args.history_days) else 1


if __name__ == "__main__":
    sys.exit(main())
