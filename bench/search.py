"""Benchmark keyboard-free search on a 10,000-item county: server time per kind of query, against a static page.

Generates bench/generate_county.py's county with every item county-wide (so one village's kiosk
holds all 10,000 items in its search index), installs it through install_snapshot, and serves it
with waitress in a subprocess (bench/pages.py's server). Queries are drawn from the installed
titles: one letter (a key of the keyboard), one character, two characters, four characters, pinyin
initials of 2 to 4 letters, and the most common characters (the worst case: thousands of matches).
Each query kind is timed over one keep-alive loopback connection, alternating with the same results
page saved as a static file: the baseline. The search function alone (in this process, no HTTP) is
timed as well.

Usage, from the repository root:
    .venv/bin/python -m bench.search [--requests 300] [--powers 5000] [--notices 5000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

from bench.pages import Client, PageType, percentile_ms, run_pages, start_server
from bench.wire import stop_process, verdict

P95_TARGET_MS = 30.0
QUERIES_PER_KIND = 200


def sample_queries(database: Path, seed: int) -> dict[str, list[str]]:
    """Draw the queries of each kind from the installed titles."""
    from sync.contract.pinyin import is_han

    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute("select title, initials from search_items").fetchall()
    rng = random.Random(seed)
    titles = [title for title, _initials in rows]
    han_runs = ["".join(ch if is_han(ch) else " " for ch in title).split() for title in titles]
    runs = [run for title_runs in han_runs for run in title_runs]

    def pieces(length: int) -> list[str]:
        found = [run[i : i + length] for run in runs for i in range(len(run) - length + 1)]
        return rng.sample(found, min(QUERIES_PER_KIND, len(found)))

    letters = [initials.split()[0] for _title, initials in rows if len(initials.split()[0]) >= 4]
    common = [ch for ch, _count in Counter(ch for run in runs for ch in run).most_common(10)]
    return {
        "1 letter": sorted({word[0] for word in letters}),  # one key of the keyboard
        "1 character": pieces(1),
        "2 characters": pieces(2),
        "4 characters": pieces(4),
        "initials": [word[: rng.randint(2, 4)] for word in rng.sample(letters, min(QUERIES_PER_KIND, len(letters)))],
        "most common": common,
    }


def query_times(database: Path, queries: list[str]) -> tuple[list[float], float]:
    """Time kiosk.data.queries.search alone on each query; return the times and the mean number of results."""
    from kiosk.data.queries import search

    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    now = datetime.now()
    times, found = [], 0
    for query in queries * 3:
        started = time.perf_counter()
        found += len(search(connection, query, now))
        times.append(time.perf_counter() - started)
    connection.close()
    return times, found / len(times)


def benchmark(powers: int, notices: int, seed: int, count: int) -> int:
    from bench.generate_county import generate_county
    from sync.contract.content import load_county
    from sync.contract.snapshot import village_snapshot
    from sync.receive.install import install_snapshot

    with tempfile.TemporaryDirectory(prefix="kiosk-bench-search-") as temporary:
        root = Path(temporary)
        source = generate_county(root / "county", powers, notices, seed, today=date.today(), county_share=1.0)
        county = load_county(source)
        village = county.villages()[0]
        snapshot, media = village_snapshot(county, village["code"], 1, date.today().isoformat())
        started = time.perf_counter()
        database = install_snapshot(root / "data", snapshot, media)
        installed = time.perf_counter() - started
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            indexed = connection.execute("select count(*) from search_items").fetchone()[0]
        print(f"county: {powers:,} power items and {notices:,} notices, all county-wide (seed {seed});"
              f" village {village['name']}: {indexed:,} items in the search index;"
              f" install {installed:.1f} s, database {database.stat().st_size / 2**20:.1f} MB")  # fmt: skip
        del county, snapshot

        kinds = sample_queries(database, seed)
        alone = {kind: query_times(database, queries) for kind, queries in kinds.items()}
        pages = [PageType(kind, [f"/search?q={quote(q)}" for q in queries]) for kind, queries in kinds.items()]
        static_dir = root / "static"
        static_dir.mkdir()
        process, port = start_server(root / "data", static_dir)
        client = Client(port)
        try:
            results = run_pages(client, pages, static_dir, count)
        finally:
            client.close()
            stop_process(process)

    header = (
        f"{'query kind':<13} {'queries':>7} {'found':>5} {'p50':>6} {'p95':>6} {'cold95':>6} {'st.p95':>6} {'ratio':>6}"
        f" {'alone95':>7}  {'p95 ≤ 30 ms':<11}"
    )
    print()
    print(header)
    print("-" * len(header))
    failures = 0
    for r in results:
        times, mean_found = alone[r.page.name]
        p95, static_p95 = percentile_ms(r.dynamic.full, 0.95), percentile_ms(r.static.full, 0.95)
        failures += p95 > P95_TARGET_MS
        print(
            f"{r.page.name:<13} {len(r.page.paths):>7} {mean_found:5.1f} {percentile_ms(r.dynamic.full, 0.5):6.2f}"
            f" {p95:6.2f} {percentile_ms(r.first_views.full, 0.95):6.2f} {static_p95:6.2f} {p95 / static_p95:5.1f}×"
            f" {percentile_ms(times, 0.95):7.2f}  {verdict(p95 <= P95_TARGET_MS)}"
        )
    print(
        "times in ms: p50/p95 of the results page over one keep-alive loopback connection (each query's first view"
        " untimed, its p95 as cold95); st. = the same page as a static file from the same server (the baseline);"
        " alone95 = kiosk.data.queries.search in this process, no HTTP; found = mean results per query (at most 30)"
    )
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the kiosk's search on a 10,000-item county.")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per query kind (default 300)")
    parser.add_argument("--powers", type=int, default=5000, help="power items in the county (default 5000)")
    parser.add_argument("--notices", type=int, default=5000, help="notices in the county (default 5000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the county and the queries (default 1)")
    args = parser.parse_args(argv)
    return benchmark(args.powers, args.notices, args.seed, args.requests)


if __name__ == "__main__":
    sys.exit(main())
