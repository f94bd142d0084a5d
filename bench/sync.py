"""Benchmark the update channel: bytes on the wire and time per sync against rsync, install time and RSS.

Generates bench/generate_county.py's county (5,000 power items and 5,000 notices, a tenth of the
notices with photos) into a temporary folder, publishes it into a signed repository and serves it
with waitress and kiosk.county.repo_files.RepositoryApp on 127.0.0.1, behind a relay that counts every
byte both ways (HTTP headers included) and a WSGI middleware that records each response's body by
path. A kiosk (init_kiosk, then sync_kiosk, in a subprocess so that its time and peak RSS are its
own) syncs one village through four states: first sync, a night with no change (the timestamp
re-signed), one county-wide power item renamed, and 1% of the items edited. In the same run,
`rsync -az` from an rsync daemon on 127.0.0.1 copies the county's source folder through the same
four states: that is the baseline. Then a second county, every item county-wide, is installed on
a fresh kiosk: the time and peak RSS of installing 10,000 items.

Usage, from the repository root (needs Debian's rsync):
    .venv/bin/python -m bench.sync [--powers 5000] [--notices 5000] [--photo-share 0.1] [--seed 1]
                                   [--county-share 1.0]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import yaml

from bench.wire import BodyCounter, RsyncRun, WireCounter, WSGIApp, rsync_daemon, run_rsync, serving, verdict

NO_CHANGE_TARGET = 2048  # bytes both ways for a night with no change
INSTALL_TARGET_S = 10.0
RSS_TARGET_MB = 200.0
KIOSK_TIMEOUT_S = 600.0
EDIT_MARK = "（修订）"
REPOSITORY = Path(__file__).resolve().parents[1]


# --- the kiosk, in its own process --------------------------------------------------------------------
def kiosk_sync(data_dir: str, url: str, village: str | None, root_file: str | None) -> None:
    """Run in the kiosk subprocess: init (first time) and sync once; print the result as JSON."""
    from sync.receive.updater import init_kiosk, sync_kiosk

    started = time.perf_counter()
    if village and root_file:
        init_kiosk(Path(data_dir), village, url, Path(root_file))
    result = sync_kiosk(Path(data_dir), url)
    seconds = time.perf_counter() - started
    status = Path("/proc/self/status").read_text()
    peak_kb = int(re.search(r"^VmHWM:\s+(\d+)", status, re.MULTILINE).group(1))  # type: ignore[union-attr]
    print(json.dumps({**asdict(result), "seconds": seconds, "peak_mb": peak_kb / 1024}))


@dataclass
class KioskRun:
    outcome: str
    error: str | None
    bytes_downloaded: int  # what the kiosk's fetcher counted: bodies only
    files_downloaded: int
    seconds: float  # init and sync inside the process
    wall: float  # the whole process, Python's start and imports included
    peak_mb: float


def run_kiosk(data_dir: Path, url: str, village: str | None = None, root_file: Path | None = None) -> KioskRun:
    # -m from the repository root: run as a file, this module would shadow the sync package.
    command = [sys.executable, "-m", "bench.sync", "--kiosk", str(data_dir), url]
    if village and root_file:
        command += [village, str(root_file)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=KIOSK_TIMEOUT_S, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the kiosk process failed (exit {done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return KioskRun(
        result["outcome"], result["error"], result["bytes_downloaded"], result["files_downloaded"],
        result["seconds"], wall, result["peak_mb"],
    )  # fmt: skip


# --- editing the county as an officer would --------------------------------------------------------------
def edit_field(file: Path, key: str) -> None:
    """Append EDIT_MARK to the first top-level *key* of a power item (name) or notice (title)."""
    text = file.read_text(encoding="utf-8")
    match = re.search(rf"^{key}: .*$", text, re.MULTILINE)
    assert match is not None, f"no {key} in {file}"
    value = yaml.safe_load(match.group(0))[key]
    line = yaml.safe_dump({key: value + EDIT_MARK}, allow_unicode=True, width=1000).rstrip("\n")
    file.write_text(text[: match.start()] + line + text[match.end() :], encoding="utf-8")


def scope_of(file: Path) -> str:
    """Return 'county', 'township:X' or 'village:Y' for a generated power item or notice."""
    match = re.search(r"^(township|village): (\S+)$", file.read_text(encoding="utf-8"), re.MULTILINE)
    return f"{match.group(1)}:{match.group(2)}" if match else "county"


def items_to_edit(source: Path, count: int, seed: int, skip: Path) -> list[tuple[Path, str]]:
    files = sorted([*(source / "powers").glob("*.yaml"), *(source / "notices").glob("*.md")])
    chosen = random.Random(seed).sample([f for f in files if f != skip], count)
    return [(f, "name" if f.parent.name == "powers" else "title") for f in chosen]


# --- the benchmark ------------------------------------------------------------------------------------
@dataclass
class Scenario:
    name: str
    kiosk: KioskRun
    wire_up: int
    wire_down: int
    responses: list[tuple[str, int, int]]
    rsync: RsyncRun
    publish_seconds: float
    note: str = ""

    @property
    def wire(self) -> int:
        return self.wire_up + self.wire_down


@dataclass
class GeneratedCounty:
    """A generated county's source folder, its repository, and how long they took."""

    source: Path
    repo: Path
    keys: Path
    village: dict[str, str]
    steps: dict[str, float] = field(default_factory=dict)

    def publish(self) -> float:
        from sync.contract.content import load_county
        from sync.publish.release import publish_county
        from sync.publish.repository import Repository

        started = time.perf_counter()
        publish_county(Repository(self.repo, self.keys), load_county(self.source))
        return time.perf_counter() - started

    def refresh(self) -> float:
        from sync.publish.repository import Repository

        started = time.perf_counter()
        Repository(self.repo, self.keys).refresh()
        return time.perf_counter() - started


def make_county(
    root: Path, name: str, powers: int, notices: int, seed: int, photo_share: float, county_share: float | None = None
) -> GeneratedCounty:
    """Generate a county under root/NAME, create its repository under root/repos/NAME, publish it."""
    from bench.generate_county import generate_county
    from sync.contract.content import load_county
    from sync.publish.release import publish_county
    from sync.publish.repository import Repository

    started = time.perf_counter()
    source = generate_county(
        root / name, powers, notices, seed, today=date.today(), county_share=county_share, photo_share=photo_share
    )
    generated = time.perf_counter() - started
    started = time.perf_counter()
    county = load_county(source)
    repository = Repository(root / "repos" / name, root / f"keys-{name}")
    repository.init(root / f"keys-{name}" / "root")
    publish_county(repository, county)
    published = time.perf_counter() - started
    result = GeneratedCounty(source, repository.path, root / f"keys-{name}", county.villages()[0])
    result.steps = {"generate": generated, "first publish": published}
    return result


def category(path: str) -> str:
    """Name the kind of file a repository path is, for the byte breakdown."""
    name = path.rpartition("/")[2]
    if "/metadata/" in path:
        kind = name.split(".")[-2]
        return {"timestamp": "timestamp", "root": "root", "snapshot": "snapshot", "targets": "targets"}.get(
            kind, "scope roles"
        )
    if "/media/" in path:
        return "photos"
    return "manifests" if name.endswith("manifest.json") else "shards" if "shard-" in name else "other"


def breakdown(responses: list[tuple[str, int, int]]) -> str:
    totals: dict[str, list[int]] = {}
    for path, status, size in responses:
        label = category(path) + ("" if status in (200, 206) else f" ({status})")
        totals.setdefault(label, [0, 0])
        totals[label][0] += 1
        totals[label][1] += size
    return ", ".join(f"{label} {n}× {size:,} B" for label, (n, size) in sorted(totals.items(), key=lambda i: -i[1][1]))


def measure(
    name: str, county: GeneratedCounty, url: str, data_dir: Path, counters: tuple[WireCounter, BodyCounter],
    rsync_url: str, dest: Path, publish_seconds: float, first: bool = False,
) -> Scenario:  # fmt: skip
    """Sync the kiosk, then rsync the source folder, from the same state; return both counts."""
    wire, bodies = counters
    up, down, logged = wire.up, wire.down, len(bodies.log)
    root_file = county.repo / "metadata" / "1.root.json"
    kiosk = run_kiosk(data_dir, url, county.village["code"], root_file) if first else run_kiosk(data_dir, url)
    up, down, responses = wire.up - up, wire.down - down, bodies.log[logged:]
    return Scenario(name, kiosk, up, down, responses, run_rsync(rsync_url, dest), publish_seconds)


def print_table(scenarios: list[Scenario]) -> None:
    header = (
        f"{'scenario':<22} {'kiosk B':>11} {'body B':>11} {'files':>5} {'kiosk s':>7} {'rsync B':>11}"
        f" {'rsync s':>7} {'ratio':>7}  {'target':<18}"
    )
    print(header)
    print("-" * len(header))
    for s in scenarios:
        if s.name.startswith("no change"):
            target = f"≤ {NO_CHANGE_TARGET:,} B  {verdict(s.wire <= NO_CHANGE_TARGET)}"
        elif s.name.startswith("one item"):
            target = f"≤ rsync   {verdict(s.wire <= s.rsync.total)}"
        else:
            target = "—"
        print(
            f"{s.name:<22} {s.wire:>11,} {s.kiosk.bytes_downloaded:>11,} {s.kiosk.files_downloaded:>5}"
            f" {s.kiosk.seconds:>7.2f} {s.rsync.total:>11,} {s.rsync.seconds:>7.2f} {s.wire / s.rsync.total:>6.3f}×"
            f"  {target}"
        )
    print(
        "kiosk B: bytes on the loopback wire both ways, HTTP requests and headers included (a counting relay);"
        " body B: response bodies as sync_kiosk counts them; rsync B: 'Total bytes sent' + 'received' of"
        " rsync -az --stats; ratio: kiosk B / rsync B"
    )
    print("where the kiosk's bytes went (response bodies):")
    for s in scenarios:
        print(f"  {s.name}: {len(s.responses)} requests: {breakdown(s.responses)}")


def view_size(county: GeneratedCounty) -> str:
    from sync.contract.content import load_county
    from sync.contract.snapshot import village_snapshot

    snapshot, media = village_snapshot(load_county(county.source), county.village["code"], 1, "2000-01-01")
    size = sum(f.stat().st_size for f in media.values())
    return (
        f"{len(snapshot['powers']):,} power items, {len(snapshot['notices']):,} notices,"
        f" {len(media)} photos ({size / 2**20:.1f} MB)"
    )


def tree_size(folder: Path) -> str:
    files = [f for f in folder.rglob("*") if f.is_file()]
    return f"{len(files):,} files, {sum(f.stat().st_size for f in files) / 2**20:.1f} MB"


def benchmark(powers: int, notices: int, photo_share: float, seed: int, county_share: float | None = None) -> int:
    from werkzeug.exceptions import NotFound
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from kiosk.county.repo_files import RepositoryApp

    changed = max(1, (powers + notices) // 100)
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-sync-") as temporary:
        root = Path(temporary)
        main = make_county(root, "main", powers, notices, seed, photo_share, county_share)
        wide = make_county(root, "wide", powers, notices, seed, photo_share, county_share=1.0)
        share = "50% of powers, 40% of notices" if county_share is None else f"{county_share:.0%} of items"
        print(f"county of {powers:,} power items and {notices:,} notices ({share} county-wide), photos on"
              f" {photo_share:.0%} of the notices (seed {seed}):"
              f" source {tree_size(main.source)}, repository {tree_size(main.repo)}")  # fmt: skip
        print(f"village {main.village['name']} ({main.village['code']}) sees {view_size(main)}")
        one = next(f for f in sorted((main.source / "powers").glob("*.yaml")) if scope_of(f) == "county")
        edits = items_to_edit(main.source, changed, seed, skip=one)
        township, village = f"township:{main.village['township']}", f"village:{main.village['code']}"
        seen = sum(1 for f, _key in edits if scope_of(f) in ("county", township, village))

        # One repository server per county, as a county runs it: only metadata/ and targets/ under each prefix.
        repositories: dict[str, WSGIApp] = {"/main": RepositoryApp(main.repo), "/wide": RepositoryApp(wide.repo)}
        counties = DispatcherMiddleware(NotFound(), repositories)
        bodies = BodyCounter(counties)
        scenarios: list[Scenario] = []
        failures = 0
        with serving(bodies) as port, rsync_daemon(main.source, root) as rsync_url:
            wire = WireCounter(port)
            try:
                url = f"http://127.0.0.1:{wire.port}/main"
                kiosk_dir, dest = root / "kiosk", root / "rsync-copy"
                args = ((wire, bodies), rsync_url, dest)
                scenarios.append(measure("first sync", main, url, kiosk_dir, *args, 0.0, first=True))
                scenarios.append(measure("no change (re-signed)", main, url, kiosk_dir, *args, main.refresh()))
                edit_field(one, "name")
                scenarios.append(measure("one item changed", main, url, kiosk_dir, *args, main.publish()))
                for file, key in edits:
                    edit_field(file, key)
                scenarios.append(measure(f"1% changed ({changed})", main, url, kiosk_dir, *args, main.publish()))
                wide_url = f"http://127.0.0.1:{wire.port}/wide"
                install = run_kiosk(
                    root / "kiosk-wide", wide_url, wide.village["code"], wide.repo / "metadata" / "1.root.json"
                )
            finally:
                wire.close()
        wide_view = view_size(wide)

    expected = ["updated", "unchanged", "updated", "updated" if seen else "unchanged"]
    for scenario, outcome in zip(scenarios, expected, strict=True):
        if scenario.kiosk.outcome != outcome:
            failures += 1
            print(f"FAILED: {scenario.name}: the kiosk's sync was {scenario.kiosk.outcome!r}, expected {outcome!r}:"
                  f" {scenario.kiosk.error}", file=sys.stderr)  # fmt: skip
    if install.outcome != "updated":
        failures += 1
        print(f"FAILED: installing the county-wide county: {install.outcome}: {install.error}", file=sys.stderr)
    print()
    print_table(scenarios)
    print(f"the 1% edit renamed {changed} random power items and notices, {seen} of them in this village's view")
    print()
    print(f"install of {powers + notices:,} items (a second county, all county-wide; the village sees {wide_view}):")
    print(
        f"  first sync {install.wall:.2f} s wall for the whole kiosk process ({install.seconds:.2f} s in init and"
        f" sync), target ≤ {INSTALL_TARGET_S:.0f} s  {verdict(install.wall <= INSTALL_TARGET_S)}"
    )
    print(
        f"  kiosk process peak RSS (VmHWM) {install.peak_mb:.1f} MB, target ≤ {RSS_TARGET_MB:.0f} MB"
        f"  {verdict(install.peak_mb <= RSS_TARGET_MB)}; {install.bytes_downloaded:,} B in"
        f" {install.files_downloaded} files"
    )
    peaks = ", ".join(f"{s.name} {s.kiosk.peak_mb:.0f} MB / {s.kiosk.wall:.1f} s" for s in scenarios)
    print(f"  (village kiosk per scenario, peak RSS / process wall time: {peaks})")
    print()
    print("county side: " + "  ".join(f"{name} {seconds:.1f} s" for name, seconds in main.steps.items())
          + f"  (county-wide county: generate {wide.steps['generate']:.1f} s, publish"
          f" {wide.steps['first publish']:.1f} s)")  # fmt: skip
    print("  republish: " + "  ".join(f"{s.name} {s.publish_seconds:.1f} s" for s in scenarios[1:])
          + "  (no change: Repository.refresh; the others: load_county + publish)")  # fmt: skip
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the kiosk's sync against rsync on a large county.")
    parser.add_argument("--powers", type=int, default=5000, help="power items in the county (default 5000)")
    parser.add_argument("--notices", type=int, default=5000, help="notices in the county (default 5000)")
    parser.add_argument("--photo-share", type=float, default=0.1, help="share of notices with photos (default 0.1)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the county and the edits (default 1)")
    parser.add_argument(
        "--county-share", type=float, help="share of county-wide items (default 0.5 of powers, 0.4 of notices)"
    )
    parser.add_argument("--kiosk", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.kiosk:
        data_dir, url, *setup = args.kiosk
        kiosk_sync(data_dir, url, *(setup or [None, None]))
        return 0
    if shutil.which("rsync") is None:
        print(
            "rsync is not installed; the baseline needs Debian's rsync. Install it with\n"
            "    apt-get update && apt-get install -y rsync      (as root, or with sudo)\nthen run this again.",
            file=sys.stderr,
        )
        return 2
    return benchmark(args.powers, args.notices, args.photo_share, args.seed, args.county_share)


if __name__ == "__main__":
    sys.exit(main())
