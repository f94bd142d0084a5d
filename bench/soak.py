"""Soak the real `kiosk serve` (the villager screens and the staff console) with mixed requests, watching its memory.

Generates a county (bench/generate_county.py, every item county-wide, 10,000 items by default), publishes it with
`kiosk county publish` and installs it on a kiosk with `kiosk init` and `kiosk sync` from the repository folder, adds
a staff account with `kiosk staff add`, then starts `kiosk serve` as deployed: on a socket handed over as
systemd's village-kiosk.socket hands it (bench.wire.start_on_socket), the staff console on its own port, the nightly
sync on (its window moved hours away, so that it does not run during the soak), reports at their default.

Then --requests (20,000) requests go out at --concurrency 8, each client on its own keep-alive connections: the home
screen, power and notice lists (pages 1 and 2, every category and domain, the archive), power item and notice pages
(any of the installed ones: most are seen for the first time, so their QR codes are drawn), the catalogue, guides,
contacts, about, search (a first key, two or three letters of pinyin initials, one or two characters; half as the
full page, half as the keyboard's update of the results) and a few staff console pages (signed in once). The
serve process's RSS, summed over its process tree, is read every --interval seconds (30) and at the end; the QR
cache's files and bytes on disk are counted at the end. The phone pages are the county server's, not the kiosk's:
they are not part of the mix.

Usage, from the repository root:
    .venv/bin/python -m bench.soak [--size 10000] [--requests 20000] [--concurrency 8] [--interval 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from bench.kiosk_commands import REPOSITORY, init_kiosk, kiosk_sync, new_county, run_kiosk
from bench.pages import percentile_ms
from bench.wire import free_port, print_results, start_on_socket, stop_process

RSS_TARGET_MB = 60.0
START_TIMEOUT_S = 60.0
STAFF_NAME, STAFF_PASSWORD = "soak-staff", "soak-staff-password-1"
UPDATE_HEADER = {"X-Kiosk-Update": "search"}  # what the keyboard's fetch sends (kiosk.screens.views)
INITIAL_LETTERS = "bcdfghjlmnpqstwxyz"


@dataclass
class Request:
    kind: str
    path: str
    staff: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class Connection:
    """One keep-alive HTTP/1.1 connection on 127.0.0.1; reopened if the server closed it."""

    def __init__(self, port: int, cookie: str = "") -> None:
        self.port, self.cookie, self.reopened = port, cookie, 0
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPResponse, bytes]:  # fmt: skip
        sent = {**(headers or {}), **({"Cookie": self.cookie} if self.cookie else {})}
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body, sent)
                response = self.connection.getresponse()
                return response.status, response, response.read()
            except (http.client.RemoteDisconnected, ConnectionError):
                self.connection.close()
                if attempt == 2:
                    raise
                self.reopened += 1
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


def sign_in(port: int) -> str:
    """Sign the staff account in on the console; return its session cookie."""
    connection = Connection(port)
    try:
        status, response, body = connection.request("GET", "/sign-in")
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body)
        if status != 200 or token is None:
            raise RuntimeError(f"the staff console's sign-in page answered {status} without a form")
        connection.cookie = (response.getheader("Set-Cookie") or "").split(";")[0]
        form = urlencode({"name": STAFF_NAME, "password": STAFF_PASSWORD, "csrf_token": token.group(1).decode()})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        status, response, _ = connection.request("POST", "/sign-in", form.encode(), headers)
        if status != 302:
            raise RuntimeError(f"signing in on the staff console answered {status}")
        return (response.getheader("Set-Cookie") or "").split(";")[0]
    finally:
        connection.close()


def answering(port: int, paths: list[str]) -> list[str]:
    """Return those of *paths* the screens show (the guides only if the county wrote any)."""
    connection = Connection(port)
    try:
        return [path for path in paths if connection.request("GET", path)[0] == 200]
    finally:
        connection.close()


def links(port: int, page: str, pattern: str) -> list[str]:
    """Return the distinct paths on *page* of the screens that match *pattern* (found in its hrefs)."""
    connection = Connection(port)
    try:
        status, _, body = connection.request("GET", page)
    finally:
        connection.close()
    if status != 200:
        raise RuntimeError(f"GET {page} answered {status}")
    found = re.findall(rf'href="({pattern})"', body.decode("utf-8"))
    return sorted(set(found))


def request_mix(port: int, database: Path, count: int, seed: int) -> list[Request]:
    """Draw *count* requests: paths of lists from the screens' own links, item ids and initials from the content."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        powers = [row[0] for row in connection.execute("select id from powers")]
        now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        notices = [row[0] for row in connection.execute("select id from notices where published_at <= ?", (now,))]
        titles = connection.execute("select title, initials from search_items").fetchall()
    categories = links(port, "/powers", r"/powers/category/\d+")
    power_lists = answering(port, [*categories, *(f"{path}?page=2" for path in categories)])
    domains = links(port, "/notices", r"/notices/[a-z]+")
    notice_lists = answering(port, ["/notices", "/notices/archive", *domains, *(f"{path}?page=2" for path in domains)])
    areas = links(port, "/catalogue", r"/catalogue/area/\d+")
    others = answering(port, ["/guides", "/contacts", "/ten-ones", "/about"])
    rng = random.Random(seed)
    words = [initials for _title, initials in titles if initials]
    han = [title for title, _initials in titles if title]

    def search() -> str:
        roll = rng.random()
        if roll < 0.4:
            query = rng.choice(INITIAL_LETTERS)
        elif roll < 0.8:
            word = rng.choice(words).split()[0]
            query = word[: rng.randint(2, 3)]
        else:
            title = rng.choice(han)
            start = rng.randrange(len(title))
            query = title[start : start + rng.randint(1, 2)]
        return f"/search?q={quote(query)}"

    # How often each kind comes, and how to draw a request of it.
    kinds: list[tuple[int, Callable[[], Request]]] = [
        (8, lambda: Request("home", "/")),
        (4, lambda: Request("power categories", "/powers")),
        (10, lambda: Request("power list", rng.choice(power_lists))),
        (9, lambda: Request("notice list", rng.choice(notice_lists))),
        (21, lambda: Request("power item", f"/powers/{rng.choice(powers)}")),
        (18, lambda: Request("notice", f"/notice/{rng.choice(notices)}")),
        (3, lambda: Request("catalogue", rng.choice(["/catalogue", *areas]))),
        (8, lambda: Request("search page", search())),
        (9, lambda: Request("search key", search(), headers=UPDATE_HEADER)),
        (8, lambda: Request("other screens", rng.choice(others))),
        (2, lambda: Request("staff console", rng.choice(["/", "/notices/", "/duties/"]), staff=True)),
    ]  # fmt: skip
    draws = rng.choices([draw for _weight, draw in kinds], weights=[weight for weight, _draw in kinds], k=count)
    return [draw() for draw in draws]


def tree_rss_mb(pid: int) -> float:
    """Return the RSS of process *pid* and all its descendants, in MB."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        if match := re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE):
            total += int(match.group(1)) / 1024
    return total


def peak_mb(pid: int) -> float:
    match = re.search(r"^VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def wait_until_answering(port: int, path: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kiosk serve ended (exit {process.returncode})")
        try:
            connection = Connection(port)
            try:
                if connection.request("GET", path)[0] == 200:
                    return
            finally:
                connection.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"kiosk serve did not answer {path} on port {port} within {START_TIMEOUT_S:.0f} s")


class Soak:
    """The clients and the memory sampler, and what they saw."""

    def __init__(self, pid: int, screens: int, staff: int, cookie: str, interval: float) -> None:
        self.pid, self.screens, self.staff, self.cookie, self.interval = pid, screens, staff, cookie, interval
        self.times: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.samples: list[tuple[float, int, float]] = []  # seconds since the start, requests done, tree RSS in MB
        self.done = 0
        self.reopened = 0
        self.lock = threading.Lock()
        self.finished = threading.Event()

    def client(self, requests: list[Request]) -> None:
        screens, staff = Connection(self.screens), Connection(self.staff, self.cookie)
        try:
            for request in requests:
                connection = staff if request.staff else screens
                started = time.perf_counter()
                try:
                    status, _, _ = connection.request("GET", request.path, None, request.headers)
                except OSError as error:
                    status, problem = 0, str(error)
                seconds = time.perf_counter() - started
                with self.lock:
                    self.done += 1
                    if status == 200:
                        self.times.setdefault(request.kind, []).append(seconds)
                    else:
                        self.errors.append(f"{request.path}: {status or problem}")
        finally:
            self.reopened += screens.reopened + staff.reopened
            screens.close()
            staff.close()

    def sample(self, started: float) -> None:
        """Read the serve tree's RSS now; print it at once (a long soak's log shows how it goes)."""
        at, done, rss = time.perf_counter() - started, self.done, tree_rss_mb(self.pid)
        self.samples.append((at, done, rss))
        print(f"{at:8.0f} {done:9,} {rss:8.1f} MB", flush=True)

    def sampler(self, started: float) -> None:
        while not self.finished.wait(self.interval):
            self.sample(started)

    def run(self, requests: list[Request], concurrency: int) -> float:
        """Send *requests* on *concurrency* clients; return the seconds it took."""
        print(f"{'seconds':>8} {'requests':>9} {'RSS (tree)':>11}")
        started = time.perf_counter()
        self.sample(started)
        sampler = threading.Thread(target=self.sampler, args=(started,), daemon=True)
        sampler.start()
        clients = [threading.Thread(target=self.client, args=(requests[i::concurrency],)) for i in range(concurrency)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        seconds = time.perf_counter() - started
        self.finished.set()
        sampler.join()
        self.sample(started)
        return seconds


def serve_environment(staff_port: int) -> dict[str, str]:
    """The settings of a deployed kiosk, but the nightly sync's window hours away from now."""
    from sync.contract.dates import DEFAULT_TIMEZONE, local_now

    opens = local_now(DEFAULT_TIMEZONE) + timedelta(hours=6)
    window = f"{opens:%H}:00-{(opens + timedelta(hours=1)):%H}:00"
    return {**os.environ, "KIOSK_STAFF_PORT": str(staff_port), "KIOSK_SYNC_WINDOW": window}


def qr_cache(data_dir: Path) -> tuple[int, float]:
    """Return the files and MB in the kiosk's QR caches (every folder named qr in its data folder)."""
    files = [f for folder in data_dir.rglob("qr") if folder.is_dir() for f in folder.rglob("*") if f.is_file()]
    return len(files), sum(f.stat().st_size for f in files) / 2**20


def benchmark(size: int, count: int, concurrency: int, interval: float, seed: int) -> int:
    from sync.receive.install import current_database

    with tempfile.TemporaryDirectory(prefix="kiosk-bench-soak-") as temporary:
        work = Path(temporary)
        county = new_county(work, size, seed, county_share=1.0)
        county.publish()
        data_dir = work / "kiosk"
        init_kiosk(data_dir, county, county.repo)
        installed = kiosk_sync(data_dir)
        if installed.outcome != "updated":
            raise RuntimeError(f"kiosk sync: {installed.outcome}: {installed.error}")
        run_kiosk("staff", "add", STAFF_NAME, "--password", STAFF_PASSWORD, "--data", data_dir)
        database = current_database(data_dir)
        assert database is not None
        listening = socket.create_server(("127.0.0.1", 0), backlog=64)  # what systemd holds (village-kiosk.socket)
        screens_port, staff_port = listening.getsockname()[1], free_port()
        command = [sys.executable, "-m", "kiosk.cli", "serve", "--data", str(data_dir)]
        with open(work / "serve.log", "wb") as log:
            process = start_on_socket(listening, command, env=serve_environment(staff_port), cwd=REPOSITORY,
                                      stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
            try:
                wait_until_answering(screens_port, "/healthz", process)
                wait_until_answering(staff_port, "/sign-in", process)
                started_mb = tree_rss_mb(process.pid)
                cookie = sign_in(staff_port)  # argon2id: 64 MiB for a moment, in the serve process
                signed_mb = tree_rss_mb(process.pid)
                print(f"county: {size:,} items, all county-wide (seed {seed}); kiosk database"
                      f" {database.stat().st_size / 2**20:.1f} MB; kiosk serve (screens and staff console) started"
                      f" at {started_mb:.1f} MB, {signed_mb:.1f} MB after the staff sign-in", flush=True)  # fmt: skip
                soak = Soak(process.pid, screens_port, staff_port, cookie, interval)
                requests = request_mix(screens_port, database, count, seed)
                print(f"{count:,} requests at concurrency {concurrency}, keep-alive:", flush=True)
                seconds = soak.run(requests, concurrency)
                hwm = peak_mb(process.pid)
            finally:
                stop_process(process)
                listening.close()
        files, cache_mb = qr_cache(data_dir)
    print(f"{count:,} requests in {seconds:.1f} s ({count / seconds:.0f}/s); {soak.reopened} connections reopened")
    print()
    print(f"{'kind':<17} {'requests':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
    for kind, times in sorted(soak.times.items(), key=lambda item: -len(item[1])):
        print(f"{kind:<17} {len(times):>8,} {percentile_ms(times, 0.5):7.2f} {percentile_ms(times, 0.95):7.2f}"
              f" {max(times) * 1000:7.1f}")  # fmt: skip
    final = soak.samples[-1][2]
    highest = max(rss for _at, _done, rss in soak.samples)
    print_results([
        (f"kiosk serve RSS after {count:,} requests (process tree)", f"{final:.1f} MB", f"≤ {RSS_TARGET_MB:.0f} MB",
         final <= RSS_TARGET_MB),
        ("highest RSS sample", f"{highest:.1f} MB", f"≤ {RSS_TARGET_MB:.0f} MB", highest <= RSS_TARGET_MB),
        ("peak RSS of the serve process (VmHWM)", f"{hwm:.1f} MB", "—", None),
        ("QR cache at the end", f"{files:,} files, {cache_mb:.1f} MB", "—", None),
        ("requests that failed", f"{len(soak.errors)}", "0", not soak.errors),
    ])  # fmt: skip
    for error in soak.errors[:10]:
        print(f"FAILED: {error}", file=sys.stderr)
    return 1 if soak.errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Soak kiosk serve with mixed requests and watch its memory.")
    parser.add_argument("--size", type=int, default=10_000, help="items in the county (default 10000)")
    parser.add_argument("--requests", type=int, default=20_000, help="requests in all (default 20000)")
    parser.add_argument("--concurrency", type=int, default=8, help="clients at once (default 8)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between RSS samples (default 30)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the county and the mix (default 1)")
    args = parser.parse_args(argv)
    return benchmark(args.size, args.requests, args.concurrency, args.interval, args.seed)


if __name__ == "__main__":
    sys.exit(main())
