"""Benchmark how the kiosk's costs grow with the county: 1k, 10k and 50k items in one run, through the real commands.

For each size (half power items, half notices, all county-wide, so the kiosk holds every item; deterministic from
--seed), bench/generate_county.py writes the county and the county office's commands publish it: `kiosk county
init`, then `kiosk county publish` (with a county data folder of its own, where the publish cache lives: the first
publish fills it, and the one after an item changed reads again only that item's file). A kiosk is set up with
`kiosk init` against the repository served on 127.0.0.1 (kiosk.county.repo_files.RepositoryApp with waitress, in
this process) and syncs with `kiosk sync`:

1. the first install;
2. a night with no change (the county's nightly `kiosk county refresh` re-signs the timestamp first);
3. one item changed: one power item renamed, `kiosk county publish` again, then `kiosk sync`;
4. one notice added (county-wide, published today, the change a village sees most nights), published and synced.

Every command is its own process (bench/kiosk_commands.py): its wall time, Python's start included, and its own
peak RSS from wait4. Then the installed kiosk's pages are timed as bench/pages.py times them (its code, imported): the
kiosk app served by waitress in a subprocess, one keep-alive loopback connection, each page alternating with the same
HTML served as a static file by the same server (the baseline a template cannot beat): a search for one key `d`, a
power list, a notice list, and a power item's page, first view (each of --requests items once: its QR code drawn)
and warm. One table per measure follows, every size a column, each figure with PASS or MISS against the target of
issue 17 beside it (what it asks at 50k items, asked of every size).

Usage, from the repository root:
    .venv/bin/python -m bench.growth [--sizes 1000,10000,50000] [--requests 300] [--seed 1] [--photo-share 0]
    .venv/bin/python -m bench.growth --quick        # 1,000 and 5,000 items, 60 requests per page: about a minute

Ctrl+C (SIGINT) between or during sizes prints the tables of the sizes that finished.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.kiosk_commands import County, SyncRun, init_kiosk, kiosk_sync, new_county, tree_mb
from bench.pages import Client, PageType, percentile_ms, run_pages, start_server
from bench.wire import serving, stop_process, verdict

QUICK_SIZES, QUICK_REQUESTS = [1000, 5000], 60
FULL_SIZES = [1000, 10000, 50000]


@dataclass
class Row:
    """One figure of a table: its key in a size's figures, its unit and the target it is held to (None: none)."""

    label: str
    key: str
    unit: str
    target: float | None = None

    def target_text(self) -> str:
        return "—" if self.target is None else "≤ " + _number(self.target, self.unit, target=True)

    def cell(self, figures: dict[str, float]) -> str:
        if self.key not in figures:
            return "—"
        value = figures[self.key]
        judged = "" if self.target is None else "  " + verdict(value <= self.target)
        return _number(value, self.unit) + judged


def _number(value: float, unit: str, target: bool = False) -> str:
    if unit == "load":  # the machine's: other work on it slows every figure
        return f"{value:.2f}"
    if unit in ("B", "files"):
        return f"{value:,.0f} {unit}"
    if unit == "×":
        return f"{value:.1f}×"
    if unit == "MB":
        return f"{value:.0f} MB" if target else f"{value:.1f} MB"
    if target:
        return f"{value:g} {unit}"
    return f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}"


TABLES: list[tuple[str, list[Row]]] = [
    ("kiosk county publish, the county's first publish", [
        Row("time", "publish.s", "s"), Row("peak RSS", "publish.mb", "MB"),
    ]),
    ("kiosk sync, the kiosk's first install", [
        Row("time", "install.s", "s", 10.0), Row("peak RSS", "install.mb", "MB", 150.0),
        Row("downloaded", "install.bytes", "B"),
    ]),
    ("kiosk sync, a night with no change (the timestamp re-signed by kiosk county refresh)", [
        Row("time", "nochange.s", "s", 0.5), Row("peak RSS", "nochange.mb", "MB", 40.0),
        Row("downloaded", "nochange.bytes", "B"),
    ]),
    ("kiosk county publish, one power item renamed", [
        Row("time", "republish.s", "s", 5.0), Row("peak RSS", "republish.mb", "MB", 300.0),
    ]),
    ("kiosk sync, one power item renamed", [
        Row("time", "change.s", "s", 1.0), Row("peak RSS", "change.mb", "MB", 100.0),
        Row("downloaded", "change.bytes", "B"),
    ]),
    ("kiosk county publish, one notice added", [
        Row("time", "added.s", "s", 5.0), Row("peak RSS", "added.mb", "MB", 300.0),
    ]),
    ("kiosk sync, one notice added", [
        Row("time", "notice.s", "s", 1.0), Row("peak RSS", "notice.mb", "MB", 100.0),
        Row("downloaded", "notice.bytes", "B"),
    ]),
    ("pages of the installed kiosk (p95; ÷ static: ÷ p95 of the same HTML as a static file)", [
        Row("search, one key d", "search.p95", "ms", 5.0), Row("  ÷ static", "search.ratio", "×", 2.5),
        Row("power list", "powers.p95", "ms"), Row("  ÷ static", "powers.ratio", "×", 2.5),
        Row("notice list", "notices.p95", "ms"), Row("  ÷ static", "notices.ratio", "×", 2.5),
        Row("power item, first view", "first.p95", "ms", 20.0), Row("  ÷ static", "first.ratio", "×", 2.5),
        Row("power item, warm view", "detail.p95", "ms"), Row("  ÷ static", "detail.ratio", "×", 2.5),
    ]),
    ("the county and the kiosk", [
        Row("generated in", "generate.s", "s"), Row("repository", "repo.mb", "MB"),
        Row("kiosk's content database", "database.mb", "MB"), Row("QR cache after the pages", "qr.files", "files"),
        Row("  on disk", "qr.mb", "MB"), Row("load average (1 min), end", "load", "load"),
    ]),
]  # fmt: skip


def print_tables(sizes: list[int], figures: dict[int, dict[str, float]]) -> None:
    labels = [f"{size:,} items" for size in sizes]
    width = max(18, *(len(label) for label in labels))
    for title, rows in TABLES:
        first = max(len(row.label) for row in rows)
        print()
        print(title)
        print(f"{'':<{first}}  " + "  ".join(f"{label:<{width}}" for label in labels) + "  target")
        for row in rows:
            cells = "  ".join(f"{row.cell(figures.get(size, {})):<{width}}" for size in sizes)
            print(f"{row.label:<{first}}  {cells}  {row.target_text()}")
    print()
    print(
        "times of commands: the whole process, Python's start included; peak RSS: the process's own (wait4);"
        " downloaded: response bodies as kiosk sync counts them; pages: one keep-alive loopback connection"
    )
    print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))


def sync_figures(name: str, run: SyncRun, expected: str, failures: list[str]) -> dict[str, float]:
    if run.outcome != expected:
        failures.append(f"{name}: kiosk sync was {run.outcome!r}, expected {expected!r}: {run.error}")
    return {f"{name}.s": run.seconds, f"{name}.mb": run.peak_mb, f"{name}.bytes": run.bytes_downloaded}


def rename_one_power_item(county: County) -> None:
    """Rename the first power item, as an officer's edit does (every item is county-wide)."""
    from bench.sync import edit_field

    edit_field(min((county.source / "powers").glob("*.yaml")), "name")


def add_one_notice(county: County) -> None:
    """Write a new county-wide notice, published today, as the county office's notice form does."""
    today = date.today().isoformat()
    (county.source / "notices" / "growth-new-notice.md").write_text(
        f'---\nid: growth-new-notice\ndomain: 村务\ntitle: 冬季防火安全提示\npublished: "{today}"\n---\n'
        "冬季天干物燥，请各户注意用火用电安全。\n",
        encoding="utf-8",
    )


def time_pages(data_dir: Path, work: Path, requests: int, seed: int) -> dict[str, float]:
    """Time the installed kiosk's pages against the same HTML as static files (bench/pages.py's method)."""
    from sync.receive.install import current_database

    database = current_database(data_dir)
    assert database is not None, "nothing is installed"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        powers = [row[0] for row in connection.execute("select id from powers order by id")]
    chosen = random.Random(seed).sample(powers, min(requests, len(powers)))
    pages = {
        "search": PageType("search, one key d", ["/search?q=d"]),
        "powers": PageType("power list", ["/powers/category/0"]),
        "notices": PageType("notice list", ["/notices/finance"]),
        "detail": PageType("power detail", [f"/powers/{item}" for item in chosen]),
    }
    static_dir = work / "static"
    static_dir.mkdir()
    process, port = start_server(data_dir, static_dir)
    client = Client(port)
    try:
        results = run_pages(client, list(pages.values()), static_dir, requests)
    finally:
        client.close()
        stop_process(process)
    figures: dict[str, float] = {"database.mb": database.stat().st_size / 2**20}
    for key, result in zip(pages, results, strict=True):
        static = percentile_ms(result.static.full, 0.95)
        figures[f"{key}.p95"] = percentile_ms(result.dynamic.full, 0.95)
        figures[f"{key}.ratio"] = figures[f"{key}.p95"] / static
        if key == "detail":
            figures["first.p95"] = percentile_ms(result.first_views.full, 0.95)
            figures["first.ratio"] = figures["first.p95"] / static
    caches = [folder for folder in data_dir.rglob("qr") if folder.is_dir()]
    files = [f for folder in caches for f in folder.rglob("*") if f.is_file()]
    figures.update({"qr.files": len(files), "qr.mb": sum(f.stat().st_size for f in files) / 2**20})
    return figures


def measure(
    size: int, work: Path, requests: int, seed: int, photo_share: float, failures: list[str]
) -> dict[str, float]:
    """Run every step at one size; return its figures by key (TABLES)."""
    from kiosk.county.repo_files import RepositoryApp

    def step(name: str, figures: dict[str, float], started: float) -> None:
        """Say how far this size has got (a long run's log shows where it is)."""
        shown = ", ".join(f"{key} {value:,.0f}" if key.endswith((".bytes", ".files")) else f"{key} {value:.2f}"
                          for key, value in figures.items() if key.startswith(name))  # fmt: skip
        so_far = time.perf_counter() - started
        print(f"[{size:,} items] {shown}  ({so_far:.0f} s so far, load {os.getloadavg()[0]:.2f})", flush=True)

    started = time.perf_counter()
    county = new_county(work, size, seed, county_share=1.0, photo_share=photo_share)
    figures: dict[str, float] = {"generate.s": county.generate_seconds}
    published = county.publish()
    figures.update({"publish.s": published.seconds, "publish.mb": published.peak_mb, "repo.mb": tree_mb(county.repo)})
    step("publish", figures, started)
    data_dir = work / "kiosk"
    with serving(RepositoryApp(county.repo)) as port:
        init_kiosk(data_dir, county, f"http://127.0.0.1:{port}")
        figures.update(sync_figures("install", kiosk_sync(data_dir), "updated", failures))
        step("install", figures, started)
        county.refresh()
        figures.update(sync_figures("nochange", kiosk_sync(data_dir), "unchanged", failures))
        step("nochange", figures, started)
        rename_one_power_item(county)
        republished = county.publish()
        figures.update({"republish.s": republished.seconds, "republish.mb": republished.peak_mb})
        step("republish", figures, started)
        figures.update(sync_figures("change", kiosk_sync(data_dir), "updated", failures))
        step("change", figures, started)
        add_one_notice(county)
        added = county.publish()
        figures.update({"added.s": added.seconds, "added.mb": added.peak_mb})
        figures.update(sync_figures("notice", kiosk_sync(data_dir), "updated", failures))
        step("notice", figures, started)
    figures.update(time_pages(data_dir, work, requests, seed))
    figures["load"] = os.getloadavg()[0]
    step("", {k: v for k, v in figures.items() if k.endswith((".p95", ".ratio"))}, started)
    return figures


def benchmark(sizes: list[int], requests: int, seed: int, photo_share: float) -> int:
    figures: dict[int, dict[str, float]] = {}
    failures: list[str] = []
    print(f"sizes {', '.join(f'{s:,}' for s in sizes)} items (half power items, half notices, all county-wide;"
          f" photos on {photo_share:.0%} of the notices; seed {seed}); {requests} timed requests per page")  # fmt: skip
    try:
        for size in sizes:
            with tempfile.TemporaryDirectory(prefix=f"kiosk-bench-growth-{size}-") as temporary:
                figures[size] = measure(size, Path(temporary), requests, seed, photo_share, failures)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the tables show the sizes that finished ({len(figures)} of {len(sizes)})")
    print_tables(sizes, figures)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def sizes_of(text: str) -> list[int]:
    sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] < 2:
        raise argparse.ArgumentTypeError(f"sizes must be whole numbers of items, 2 or more: {text!r}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure how sync, publish and pages grow from 1k to 50k items.")
    parser.add_argument("--sizes", type=sizes_of, help="items per county, comma-separated (default 1000,10000,50000)")
    parser.add_argument("--requests", type=int, help="timed requests per page, and power items first viewed"
                        f" (default 300; {QUICK_REQUESTS} with --quick)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES} and fewer requests, for a smoke run")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the counties and samples (default 1)")
    parser.add_argument("--photo-share", type=float, default=0.0, help="share of notices with photos (default 0)")
    args = parser.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    requests = args.requests or (QUICK_REQUESTS if args.quick else 300)
    return benchmark(sizes, requests, args.seed, args.photo_share)


if __name__ == "__main__":
    sys.exit(main())
