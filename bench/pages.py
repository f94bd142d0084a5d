"""Benchmark the villager screens on a large county: server time per page type, a static baseline, RSS.

Writes bench/generate_county.py's county (5,000 power items and 5,000 notices by default) into a
temporary folder, installs it for one village through the path users run (load_county →
village_snapshot → install_snapshot), serves it with waitress in a subprocess, and times every page
type over one keep-alive loopback connection. Each page's HTML is also saved and served as a file by
the same server, under /_bench_static/ (a route added to the benchmark's own app only): that is the
baseline a template cannot beat.

Usage, from the repository root:
    .venv/bin/python -m bench.pages [--requests 300] [--powers 5000] [--notices 5000] [--seed 1]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import select
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from bench.wire import stop_process, verdict

STATIC_PREFIX = "/_bench_static/"
P95_TARGET_MS = 20.0
RATIO_TARGET = 3.0
RSS_TARGET_MB = 80.0
WARMUP = 30
START_TIMEOUT_S = 60.0
QR_IMAGE = re.compile(rb'<img class="qr-code" src="([^"]+)"')


@dataclass
class PageType:
    """One kind of screen and the paths that show it (several for detail pages)."""

    name: str
    paths: list[str]


@dataclass
class Timings:
    """Seconds per request: to the response's headers (first byte) and to its last byte."""

    first_byte: list[float] = field(default_factory=list)
    full: list[float] = field(default_factory=list)


@dataclass
class Result:
    page: PageType
    size: int
    dynamic: Timings
    static: Timings
    first_views: Timings
    qr_codes: Timings = field(default_factory=Timings)  # each first view's QR code image, as the browser asks


def percentile_ms(samples: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of *samples* (seconds) in milliseconds."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[rank] * 1000


class Client:
    """One keep-alive HTTP/1.1 connection to the kiosk on 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.requests = 0

    def get(self, path: str, timings: Timings | None = None) -> bytes:
        """GET *path*; add its times to *timings*; fail on anything but 200."""
        started = time.perf_counter()
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        first_byte = time.perf_counter()
        body = response.read()
        done = time.perf_counter()
        self.requests += 1
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
        if timings is not None:
            timings.first_byte.append(first_byte - started)
            timings.full.append(done - started)
        return body

    def close(self) -> None:
        self.connection.close()


def serve(data_dir: str, static_dir: str) -> None:
    """Run in the server subprocess: the real kiosk app plus the static route; print the port."""
    from flask import send_from_directory
    from flask.typing import ResponseReturnValue
    from waitress.server import create_server

    from kiosk.screens import create_app

    app = create_app({"DATA_DIR": data_dir})

    def bench_static(name: str) -> ResponseReturnValue:
        return send_from_directory(static_dir, name)

    app.add_url_rule(f"{STATIC_PREFIX}<name>", "bench_static", bench_static)
    server = create_server(app, host="127.0.0.1", port=0, threads=app.config["THREADS"], ident="kiosk")
    print(server.effective_port, flush=True)
    server.run()


def start_server(data_dir: Path, static_dir: Path) -> tuple[subprocess.Popen[str], int]:
    """Start the kiosk in a subprocess; return it and its port once it listens."""
    command = [sys.executable, "-m", "bench.pages", "--serve", str(data_dir), str(static_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
    line = process.stdout.readline() if ready else ""
    if not line.strip().isdigit():
        stop_process(process)
        raise RuntimeError(f"the kiosk did not start within {START_TIMEOUT_S:.0f} s (exit code {process.returncode})")
    return process, int(line)


def memory_mb(pid: int) -> dict[str, float]:
    """Return VmRSS and VmHWM (peak RSS) of process *pid* in MB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def page_types(database: Path, samples: int, seed: int) -> list[PageType]:
    """Return the page types to time, with a sample of the installed power items and notices."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        powers = [row[0] for row in connection.execute("select id from powers order by id")]
        # Notices a villager can reach: published by now (current or in the archive).
        now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        sql = "select id from notices where published_at <= ? order by id"
        notices = [row[0] for row in connection.execute(sql, (now,))]
    rng = random.Random(seed)
    return [
        PageType("home", ["/"]),
        PageType("power list", ["/powers/category/0"]),
        PageType("notice list", ["/notices/finance"]),
        PageType("all notices", ["/notices"]),
        PageType("power detail", [f"/powers/{i}" for i in rng.sample(powers, min(samples, len(powers)))]),
        PageType("notice detail", [f"/notice/{i}" for i in rng.sample(notices, min(samples, len(notices)))]),
    ]


def run_pages(client: Client, pages: list[PageType], static_dir: Path, count: int) -> list[Result]:
    """Time each page type and its HTML served as a file, *count* requests each after WARMUP untimed."""
    results = []
    for page in pages:
        first_views, qr_codes = Timings(), Timings()
        if len(page.paths) > 1:  # the first view of each detail page, then its QR code's image
            for path in page.paths:
                html = client.get(path, first_views)
                for src in QR_IMAGE.findall(html):
                    client.get(src.decode().replace("&amp;", "&"), qr_codes)
        html = client.get(page.paths[0])
        name = page.name.replace(" ", "-") + ".html"
        (static_dir / name).write_bytes(html)
        dynamic, static = Timings(), Timings()
        # Page and file alternate, so that both meet the same background load on the machine.
        for index in range(WARMUP + count):
            timed = index >= WARMUP
            client.get(page.paths[index % len(page.paths)], dynamic if timed else None)
            client.get(STATIC_PREFIX + name, static if timed else None)
        results.append(Result(page, len(html), dynamic, static, first_views, qr_codes))
    return results


def print_table(results: list[Result]) -> None:
    header = (
        f"{'page type':<14} {'KB':>5} {'p50':>6} {'p95':>6} {'TTFB95':>6} {'st.p50':>6} {'st.p95':>6}"
        f" {'ratio':>6}  {'p95 ≤ 20 ms':<11} {'ratio ≤ 3×':<10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        p95, static_p95 = percentile_ms(r.dynamic.full, 0.95), percentile_ms(r.static.full, 0.95)
        ratio = p95 / static_p95
        print(
            f"{r.page.name:<14} {r.size / 1024:5.1f} {percentile_ms(r.dynamic.full, 0.5):6.2f} {p95:6.2f}"
            f" {percentile_ms(r.dynamic.first_byte, 0.95):6.2f} {percentile_ms(r.static.full, 0.5):6.2f}"
            f" {static_p95:6.2f} {ratio:5.1f}×  {verdict(p95 <= P95_TARGET_MS):<11} {verdict(ratio <= RATIO_TARGET)}"
        )
    print("times in ms, full response on one keep-alive loopback connection; st. = the same HTML as a static file")
    for r in results:
        if r.first_views.full:
            p50, p95 = percentile_ms(r.first_views.full, 0.5), percentile_ms(r.first_views.full, 0.95)
            print(
                f"{r.page.name} first views ({len(r.first_views.full)} ids):"
                f" p50 {p50:.2f} ms, p95 {p95:.2f} ms  {verdict(p95 <= P95_TARGET_MS)}"
            )
        if r.qr_codes.full:
            p50, p95 = percentile_ms(r.qr_codes.full, 0.5), percentile_ms(r.qr_codes.full, 0.95)
            print(f"  their QR code images (PNG, made at install): p50 {p50:.2f} ms, p95 {p95:.2f} ms")


def benchmark(powers: int, notices: int, seed: int, count: int) -> None:
    from bench.generate_county import generate_county
    from sync.contract.content import load_county
    from sync.contract.snapshot import village_snapshot
    from sync.receive.install import install_snapshot

    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as temporary:
        root = Path(temporary)
        steps: list[tuple[str, float]] = []
        started = time.perf_counter()
        source = generate_county(root / "county", powers, notices, seed, today=date.today())
        steps.append(("generate", time.perf_counter() - started))
        started = time.perf_counter()
        county = load_county(source)
        steps.append(("load_county", time.perf_counter() - started))
        village = county.villages()[0]
        started = time.perf_counter()
        snapshot, media = village_snapshot(county, village["code"], 1, date.today().isoformat())
        steps.append(("village_snapshot", time.perf_counter() - started))
        started = time.perf_counter()
        database = install_snapshot(root / "data", snapshot, media)
        steps.append(("install_snapshot", time.perf_counter() - started))
        print(f"county: {powers} power items, {notices} notices (seed {seed}); village {village['name']}"
              f" ({village['code']}): {len(snapshot['powers'])} power items, {len(snapshot['notices'])} notices,"
              f" database {database.stat().st_size / 2**20:.1f} MB")  # fmt: skip
        print("  ".join(f"{name} {seconds:.2f} s" for name, seconds in steps))
        del county, snapshot

        static_dir = root / "static"
        static_dir.mkdir()
        pages = page_types(database, count, seed)
        process, port = start_server(root / "data", static_dir)
        client = Client(port)
        try:
            results = run_pages(client, pages, static_dir, count)
            memory, requests = memory_mb(process.pid), client.requests
        finally:
            client.close()
            stop_process(process)
    print()
    print_table(results)
    print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))
    rss_ok = memory["VmRSS"] <= RSS_TARGET_MB
    print(
        f"server RSS after {requests} requests: {memory['VmRSS']:.1f} MB (peak {memory['VmHWM']:.1f} MB),"
        f" target ≤ {RSS_TARGET_MB:.0f} MB  {verdict(rss_ok)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the kiosk's pages on a large generated county.")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per page type (default 300)")
    parser.add_argument("--powers", type=int, default=5000, help="power items in the county (default 5000)")
    parser.add_argument("--notices", type=int, default=5000, help="notices in the county (default 5000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the county and samples (default 1)")
    parser.add_argument("--serve", nargs=2, metavar=("DATA_DIR", "STATIC_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(*args.serve)
    else:
        benchmark(args.powers, args.notices, args.seed, args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
