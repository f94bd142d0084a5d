"""Benchmark the county server's capacity: signed kiosk reports per second, a nightly burst, the dashboard; on
SQLite with one process, and on PostgreSQL with one process and with --processes of them, in one run.

Builds a signed repository of the demo county in a temporary folder, enrols the simulated kiosks directly in
each database (bench/county_kiosks.py), writes --history-days of earlier reports, display logs and ratings
(bench/county_history.py), and serves the county app (CountyServer around create_county_app, waitress, 8
threads) in subprocesses on 127.0.0.1, so that their CPU time is their own. Client threads sign and POST as
kiosk.device.uplink does (Ed25519 over `time + "\\n" + body`), each kiosk to the process its id gives
(bench/county_load.py):

1. Sustained rate: the client threads send /api/report for a fixed time, looping over their kiosks.
2. Nightly burst: every kiosk sends one report and one /api/outbox upload of feedback items and
   its display log, as fast as the clients can; then the database's rows are counted.
3. Dashboard: an officer signs in and loads each dashboard page as the runs left the database.

PostgreSQL is the server --database names (the benchmark makes its databases there, and drops them), or else a
throwaway cluster of Debian's `postgresql` package on loopback, with PostgreSQL's defaults (every commit flushed).
SQLite's county.db is as a county server keeps it (WAL, synchronous = normal).

Clients, servers and PostgreSQL share the machine's cores: on a 2-core box the clients' own CPU (signing,
JSON, http.client under one GIL) competes with the servers', so the figures are a lower bound on what the
servers do alone. The county processes' and the clients' CPU seconds are printed to show who was busy.

Usage, from the repository root:
    .venv/bin/python -m bench.county [--seconds 20] [--clients 16] [--kiosks 2000] [--history-days 90]
                                     [--processes 2] [--database postgresql://USER@HOST:PORT] [--engines ...]
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.county_history import prefill
from bench.county_kiosks import UPLOADS_PER_KIOSK, SimulatedKiosk, enrol_kiosks
from bench.county_load import MAX_SECONDS, Run, burst, percentile_ms, sustained, tree_cpu_seconds
from bench.county_officer import DASHBOARD_REPEATS, DASHBOARD_TARGET_S, add_officer, dashboard_pages, dashboard_times
from bench.wire import stop_process, verdict

RATE_TARGET = 300.0  # reports per second, sustained
P95_TARGET_MS = 100.0
BURST_TARGET_S = 60.0  # a county's nightly burst (up to 2,000 kiosks)
PROVINCE_KIOSKS, PROVINCE_BURST_TARGET_S = 20_000, 120.0  # a province's (issue 18)
SERVER_THREADS = 8
START_TIMEOUT_S = 60.0
REPOSITORY = Path(__file__).resolve().parents[1]
BYTE_ORDER = "template template0 encoding 'UTF8' lc_collate 'C' lc_ctype 'C'"  # schema_postgres.apply's demand


# --- the county server, in its own processes --------------------------------------------------------------
def serve(repo: str, data_dir: str) -> None:
    """Run in a server subprocess: the real county app under waitress; print the port."""
    import logging

    from waitress.server import create_server

    from kiosk.county import CountyServer, create_county_app

    app = create_county_app({"REPO": repo, "DATA_DIR": data_dir})  # its database: KIOSK_COUNTY_DATABASE_URL
    # More clients than threads queue by design; waitress would log "Task queue depth is N" for each.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(
        CountyServer(Path(repo), app), host="127.0.0.1", port=0, threads=SERVER_THREADS, ident="county"
    )
    print(server.effective_port, flush=True)
    server.run()


@contextmanager
def servers(repo: Path, data_dir: Path, url: str, count: int) -> Iterator[tuple[list[int], list[int]]]:
    """Start *count* county server processes on *data_dir* and the database *url* ("" for county.db there);
    yield their ports and process ids once each listens; stop them at the end."""
    command = [sys.executable, "-m", "bench.county", "--serve", str(repo), str(data_dir)]
    env = {**os.environ, "KIOSK_COUNTY_DATABASE_URL": url}
    processes: list[subprocess.Popen[str]] = []
    ports = []
    try:
        for _ in range(count):
            process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPOSITORY, env=env)
            processes.append(process)
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
            line = process.stdout.readline() if ready else ""
            if not line.strip().isdigit():
                raise RuntimeError(f"a county server did not start within {START_TIMEOUT_S:.0f} s")
            ports.append(int(line))
        yield ports, [process.pid for process in processes]
    finally:
        for process in processes:
            stop_process(process)


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


def prepare(data_dir: Path, url: str, villages: list[str], kiosk_count: int, history_days: int) -> list[SimulatedKiosk]:
    """Enrol the kiosks, add the officer and write the history in one database; return the kiosks."""
    started = time.perf_counter()
    kiosks = enrol_kiosks(data_dir, villages, kiosk_count, url)
    add_officer(data_dir, url)
    where = "PostgreSQL" if url else "county.db"
    print(f"{where}: {kiosk_count} kiosks enrolled in {time.perf_counter() - started:.1f} s", flush=True)
    if history_days:
        print(
            f"{where}: " + prefill(data_dir, [(k.kiosk_id, k.village) for k in kiosks], history_days, url), flush=True
        )
    return kiosks


@contextmanager
def postgres_server(given: str | None) -> Iterator[tuple[str, Callable[[], float] | None]]:
    """Yield the PostgreSQL server to make databases on, and what tells its CPU time so far: *given* (its CPU time
    not known here), or a throwaway cluster's on this machine (stopped at the end)."""
    if given:
        yield given.rstrip("/"), None
        return
    from bench.postgres_cluster import Cluster

    cluster = Cluster(durable=True)
    try:
        postmaster = cluster.server_pid()
        yield cluster.url, lambda: tree_cpu_seconds(postmaster)
    finally:
        cluster.stop()


# --- one setup: an engine and a number of processes ---------------------------------------------------------
@dataclass
class Setup:
    name: str
    processes: int
    rate: Run
    burst: Run
    rows: tuple[int, int, int]  # the burst's reports, the kiosks they came from, the uploads it added
    dashboard: dict[str, tuple[float, int]]


def held_so_far(data_dir: Path, url: str, after: int = 0) -> tuple[int, int, int, int]:
    """Return the reports held after the id *after*, the kiosks they came from, the last one's id, and the uploads
    held."""
    from kiosk.county import store

    db = store.open_store(data_dir, migrate=False, url=url)
    try:
        reports, senders, last = db.execute(
            "select count(*), count(distinct kiosk_id), coalesce(max(id), 0) from reports where id > ?", (after,)
        ).fetchone()
        return int(reports), int(senders), int(last), int(db.execute("select count(*) from uploads").fetchone()[0])
    finally:
        db.close()


def measure(name: str, count: int, repo: Path, data_dir: Path, url: str, kiosks: list[SimulatedKiosk],
            clients: int, seconds: float, history_days: int,
            database: Callable[[], float] | None = None) -> Setup:  # fmt: skip
    """Run the three measurements on *count* processes over the database *url* ("" for county.db); *database*
    tells the database server's CPU time so far, if known."""
    print(f"{name} × {count}: sustained, burst, dashboard ...", flush=True)
    with servers(repo, data_dir, url, count) as (ports, pids):
        rate_run = sustained(ports, pids, kiosks, clients, seconds, database)
        _reports, _senders, first_burst_report, uploads_before = held_so_far(data_dir, url)
        burst_run = burst(ports, pids, kiosks, clients, database)
        dashboard = dashboard_times(ports[0], dashboard_pages(history_days))
    reports, senders, _last, uploads = held_so_far(data_dir, url, first_burst_report)
    return Setup(name, count, rate_run, burst_run, (reports, senders, uploads - uploads_before), dashboard)


# --- the report -------------------------------------------------------------------------------------
def print_table(setups: list[Setup], kiosks: int, clients: int) -> bool:
    """Print each setup's figures beside their targets; return whether every target was met."""
    burst_target = PROVINCE_BURST_TARGET_S if kiosks > 2000 else BURST_TARGET_S
    checks: list[tuple[str, str, list[tuple[str, bool]]]] = []

    def add(name: str, target: str, cells: list[tuple[str, bool]]) -> None:
        checks.append((name, target, cells))

    rates = [len(s.rate.latencies) / s.rate.seconds for s in setups]
    add("sustained reports/s", f"≥ {RATE_TARGET:.0f}", [(f"{r:.1f}", r >= RATE_TARGET) for r in rates])
    p95s = [percentile_ms(s.rate.latencies, 0.95) for s in setups]
    add("report p95 latency, ms", f"≤ {P95_TARGET_MS:.0f}", [(f"{p:.1f}", p <= P95_TARGET_MS) for p in p95s])
    add("sustained errors", "0", [(str(sum(s.rate.errors.values())), not s.rate.errors) for s in setups])
    add(f"burst of {kiosks} kiosks, s", f"≤ {burst_target:.0f}",
        [(f"{s.burst.seconds:.1f}", s.burst.seconds <= burst_target) for s in setups])  # fmt: skip
    b95s = [percentile_ms(s.burst.latencies, 0.95) for s in setups]
    add("burst p95 latency, ms", "", [(f"{p:.1f}", True) for p in b95s])
    add("burst errors", "0", [(str(sum(s.burst.errors.values())), not s.burst.errors) for s in setups])
    expected = (kiosks, kiosks, kiosks * UPLOADS_PER_KIOSK)
    add("burst rows: reports / uploads", f"{kiosks} / {kiosks * UPLOADS_PER_KIOSK}",
        [(f"{s.rows[0]} / {s.rows[2]}", s.rows == expected) for s in setups])  # fmt: skip
    for page in setups[0].dashboard:
        add(f"dashboard {page}, slowest s", f"≤ {DASHBOARD_TARGET_S:.0f}",
            [(f"{s.dashboard[page][0]:.2f}", s.dashboard[page][0] <= DASHBOARD_TARGET_S) for s in setups])  # fmt: skip
    heads = [f"{s.name} × {s.processes}" for s in setups]
    width = max(len(name) for name, *_rest in checks)
    columns = [max(len(head), *(len(cells[n][0]) + 5 for _n, _t, cells in checks)) for n, head in enumerate(heads)]
    header = f"{'figure':<{width}}  " + "  ".join(f"{h:>{w}}" for h, w in zip(heads, columns, strict=True))
    print(header + "  target")
    print("-" * (len(header) + 16))
    for name, target, cells in checks:
        shown = "  ".join(f"{value + ' ' + verdict(ok):>{w}}" for (value, ok), w in zip(cells, columns, strict=True))
        print(f"{name:<{width}}  {shown}  {target}")
    print()
    for setup in setups:
        print(f"{setup.name} × {setup.processes}: sustained {len(setup.rate.latencies)} reports in"
              f" {setup.rate.seconds:.1f} s by {clients} client threads (p50"
              f" {percentile_ms(setup.rate.latencies, 0.5):.1f} ms, p99 {percentile_ms(setup.rate.latencies, 0.99):.1f}"
              f" ms); burst {2 * kiosks / setup.burst.seconds:.0f} requests/s")  # fmt: skip
        for label, run in (("sustained", setup.rate), ("burst", setup.burst)):
            database = (
                ""
                if run.database_cpu is None
                else (f", PostgreSQL {run.database_cpu:.1f} s ({run.database_cpu / run.seconds:.2f} cores)")
            )
            print(f"  CPU during {label}: county processes {run.server_cpu:.1f} s"
                  f" ({run.server_cpu / run.seconds:.2f} cores){database}, clients {run.client_cpu:.1f} s"
                  f" ({run.client_cpu / run.seconds:.2f} cores)")  # fmt: skip
            for what, count in sorted(run.errors.items()):
                print(f"    {label} error: {what} × {count}")
    sizes = ", ".join(f"{page} {size / 1024:.0f} KB" for page, (_s, size) in setups[0].dashboard.items())
    print(f"dashboard: signed in, each page {DASHBOARD_REPEATS} times after the burst; sizes ({heads[0]}) {sizes}")
    print(f"machine: {os.cpu_count()} CPUs; load average (1, 5, 15 min) at the end: "
          + ", ".join(f"{load:.2f}" for load in os.getloadavg()))  # fmt: skip
    return all(ok for _name, _target, cells in checks for _value, ok in cells)


def benchmark(args: argparse.Namespace) -> bool:
    setups: list[Setup] = []
    run = (args.seconds, args.history_days)
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-county-") as temporary:
        root = Path(temporary)
        repo, villages = build_repository(root)
        print(f"setup: demo county repository ({len(villages)} villages); servers: waitress, {SERVER_THREADS} threads"
              " each, subprocesses", flush=True)  # fmt: skip
        if "sqlite" in args.engines:
            kiosks = prepare(root / "sqlite", "", villages, args.kiosks, args.history_days)
            setups.append(measure("SQLite", 1, repo, root / "sqlite", "", kiosks, args.clients, *run))
        if "postgresql" in args.engines:
            from bench.postgres_cluster import create_database, drop_database

            with postgres_server(args.database) as (server, database_cpu):
                template = f"kiosk_bench_{os.getpid()}"
                kiosks = prepare(root / "pg", create_database(server, template, BYTE_ORDER), villages, args.kiosks,
                                 args.history_days)  # fmt: skip
                try:
                    for count in sorted({1, args.processes}):  # each on a copy of the same database
                        url = create_database(server, f"{template}_{count}", f'template "{template}"')
                        try:
                            setups.append(measure("PostgreSQL", count, repo, root / "pg", url, kiosks, args.clients,
                                                  *run, database_cpu))  # fmt: skip
                        finally:
                            drop_database(server, f"{template}_{count}")
                finally:
                    drop_database(server, template)
    print()
    return print_table(setups, args.kiosks, args.clients)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the county server's capacity for kiosk reports.")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the sustained run (default 20)")
    parser.add_argument("--clients", type=int, default=16, help="client threads, one connection each (default 16)")
    parser.add_argument("--kiosks", type=int, default=2000, help="simulated kiosks enrolled (default 2000)")
    parser.add_argument(
        "--history-days",
        type=int,
        default=90,
        help="days of reports, display logs and ratings in the database before the runs (default 90)",
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="county server processes on PostgreSQL, besides one (default 2)"
    )
    parser.add_argument(
        "--database",
        help="a PostgreSQL server to make the benchmark's databases on,"
        " postgresql://USER@HOST:PORT (default: a throwaway cluster on loopback)",
    )
    parser.add_argument("--engines", default="sqlite,postgresql", help="which to measure (default sqlite,postgresql)")
    parser.add_argument("--serve", nargs=2, metavar=("REPO", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)  # fmt: skip
    if args.serve:
        serve(*args.serve)
        return 0
    if not 0 < args.seconds <= MAX_SECONDS or not 1 <= args.clients <= 64 or args.kiosks < args.clients:
        parser.error(f"give 0 < --seconds ≤ {MAX_SECONDS:.0f}, 1 ≤ --clients ≤ 64 and --kiosks ≥ --clients")
    if not 0 <= args.history_days <= 400 or not 1 <= args.processes <= 16:
        parser.error("give 0 ≤ --history-days ≤ 400 and 1 ≤ --processes ≤ 16")
    args.engines = {engine.strip() for engine in args.engines.split(",")}
    if not args.engines or not args.engines <= {"sqlite", "postgresql"}:
        parser.error("give --engines sqlite, postgresql or both")
    # Every missed target ends in a non-zero exit code, as a batch job's failures do.
    return 0 if benchmark(args) else 1


if __name__ == "__main__":
    sys.exit(main())
