"""Benchmark a kiosk software update: bytes fetched when only the kiosk's own wheel changed, time from
`kiosk update` to the new release serving, and how long the screens were down.

Everything on 127.0.0.1: the wheelhouse is made beforehand, as a county makes one (README: "Kiosk software
releases": pip wheel, then pip download), and given with --wheelhouse. A county repository with the demo
content is published and served on a loopback port; a kiosk is set up and synced from it.

1. Release A (the kiosk's wheel, its version + ".post1") is published and installed from nothing.
2. Release B (the same wheels but the kiosk's, now ".post2") is published. A thread asks the screens'
   /healthz every 100 ms while `kiosk update` runs; the downtime is the longest run of failed answers, and
   the longest wait is the slowest answer (a page asked for during the restart waits for the new screens).
   Targets (issue 15): bytes fetched ≤ 1.2 × the kiosk's wheel, update ≤ 60 s, downtime ≤ 5 s.

The screens run as deployed (deploy/): a stand-in for systemd holds their socket (village-kiosk.socket) and
restarts `releases/current/bin/kiosk serve` on it when `kiosk update` asks by creating a file
(KIOSK_RESTART_COMMAND, village-kiosk-restart.path).

Usage, from the repository root:
    .venv/bin/python -m bench.update --wheelhouse DIR
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

from bench.wire import free_port, print_results, serving, start_on_socket, stop_process

ROOT = Path(__file__).resolve().parent.parent
BYTES_TARGET, TIME_TARGET_S, DOWNTIME_TARGET_S = 1.2, 60.0, 5.0


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def with_version(wheel: Path, version: str, folder: Path) -> Path:
    """The kiosk's *wheel* made version *version* (its dist-info renamed, METADATA and RECORD rewritten)."""
    old = wheel.name.split("-")[1]
    files = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            name = name.replace(f"village_kiosk-{old}.dist-info", f"village_kiosk-{version}.dist-info")
            if name.endswith(".dist-info/METADATA"):
                data = data.replace(f"\nVersion: {old}\n".encode(), f"\nVersion: {version}\n".encode(), 1)
            files[name] = data
    info = f"village_kiosk-{version}.dist-info"
    files.pop(f"{info}/RECORD", None)
    record = [_record_line(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    target = folder / wheel.name.replace(f"-{old}-", f"-{version}-")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return target


class ServiceManager(threading.Thread):
    """Stands in for systemd: holds the screens' socket and starts `kiosk serve` of releases/current on it
    whenever *request* appears (removed first, as deploy/village-kiosk-restart.service does)."""

    def __init__(self, releases: Path, data: Path, request: Path) -> None:
        super().__init__(daemon=True)
        self.releases, self.request, self.stopping = releases, request, threading.Event()
        self.listening = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = int(self.listening.getsockname()[1])
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        self.env.update(KIOSK_DATA_DIR=str(data), KIOSK_STAFF_PORT=str(free_port()), KIOSK_SYNC_NIGHTLY="0",
                        KIOSK_REPORT_MINUTES="0", KIOSK_UPDATE_NIGHTLY="0")  # fmt: skip
        self.screens: subprocess.Popen[bytes] | None = None

    def run(self) -> None:
        while not self.stopping.wait(0.05):
            if self.request.exists():
                self.request.unlink()
                self.restart()

    def restart(self) -> None:
        if self.screens is not None:
            stop_process(self.screens)
        command = [str(self.releases / "current" / "bin" / "kiosk"), "serve"]
        self.screens = start_on_socket(self.listening, command, env=self.env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)  # fmt: skip

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)
        if self.screens is not None:
            stop_process(self.screens)
        self.listening.close()


class Poller(threading.Thread):
    """Asks the health URL every 100 ms; records the longest run of failed answers and the slowest answer."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.longest, self.slowest, self.stopping = url, 0.0, 0.0, threading.Event()

    def run(self) -> None:
        down_since: float | None = None
        while not self.stopping.wait(0.1):
            asked = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=30) as answer:  # 127.0.0.1 only
                    ok = answer.status == 200
            except OSError:
                ok = False
            now = time.monotonic()
            if ok:
                self.slowest = max(self.slowest, now - asked)
            if ok and down_since is not None:
                self.longest, down_since = max(self.longest, now - down_since), None
            elif not ok and down_since is None:
                down_since = now
        if down_since is not None:
            self.longest = max(self.longest, time.monotonic() - down_since)


def benchmark(wheelhouse: Path) -> int:
    from kiosk.county.repo_files import RepositoryApp
    from kiosk.device.update import Updater
    from sync.publish.software import publish_release
    from sync.receive.updater import init_kiosk, sync_kiosk
    from tests.county_repo import VILLAGE, make_county_repo

    with tempfile.TemporaryDirectory(prefix="kiosk-bench-update-") as temporary:
        root = Path(temporary)
        base = wheelhouse
        [kiosk_wheel] = base.glob("village_kiosk-*.whl")
        version = kiosk_wheel.name.split("-")[1]
        total = sum(wheel.stat().st_size for wheel in base.glob("*.whl"))
        print(f"wheelhouse: {len(list(base.glob('*.whl')))} wheels, {total / 2**20:.1f} MB")
        releases = {}
        for suffix in ("post1", "post2"):
            folder = root / suffix
            folder.mkdir()
            for wheel in base.glob("*.whl"):
                if wheel != kiosk_wheel:
                    os.link(wheel, folder / wheel.name)
            releases[suffix] = with_version(kiosk_wheel, f"{version}.{suffix}", folder)
        county = make_county_repo(root / "county")
        data, request = root / "kiosk", root / "restart-screens"
        manager = ServiceManager(root / "releases", data, request)
        manager.start()
        port = manager.port
        results: list[tuple[str, str, str, bool | None]] = []
        try:
            with serving(RepositoryApp(county.path)) as repo_port:
                init_kiosk(data, VILLAGE, f"http://127.0.0.1:{repo_port}", county.root)
                sync_kiosk(data)
                updater = Updater(data, root / "releases", ["touch", str(request)], f"http://127.0.0.1:{port}/healthz",
                                  confirm_seconds=60)  # fmt: skip
                publish_release(county.repository, root / "post1")
                started = time.perf_counter()
                first = updater.run(current=version)
                first_s = time.perf_counter() - started
                if first.outcome != "installed":
                    raise RuntimeError(f"the first release was not installed: {first}")
                first_mb = first.bytes_downloaded / 2**20
                results.append(("first install (every wheel)", f"{first_s:.1f} s, {first_mb:.1f} MB", "—", None))
                publish_release(county.repository, root / "post2")
                poller = Poller(f"http://127.0.0.1:{port}/healthz")
                poller.start()
                started = time.perf_counter()
                second = updater.run(current=f"{version}.post1")
                second_s = time.perf_counter() - started
                poller.stopping.set()
                poller.join(5)
                if second.outcome != "installed":
                    raise RuntimeError(f"the second release was not installed: {second}")
                ratio = second.bytes_downloaded / releases["post2"].stat().st_size
                results.append(("bytes fetched ÷ the kiosk's wheel", f"{ratio:.2f}× ({second.bytes_downloaded} B)",
                                f"≤ {BYTES_TARGET}×", ratio <= BYTES_TARGET))  # fmt: skip
                results.append(("update, start to the new release serving", f"{second_s:.1f} s",
                                f"≤ {TIME_TARGET_S:.0f} s", second_s <= TIME_TARGET_S))  # fmt: skip
                results.append(("screens down (health every 100 ms)", f"{poller.longest:.1f} s",
                                f"≤ {DOWNTIME_TARGET_S:.0f} s", poller.longest <= DOWNTIME_TARGET_S))  # fmt: skip
                results.append(("longest wait for a page in the switch", f"{poller.slowest:.1f} s", "—", None))
        finally:
            manager.stop()
        shutil.rmtree(root / "releases", ignore_errors=True)
    print_results(results, measured_width=28)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time a kiosk software update: bytes, time and downtime.")
    parser.add_argument("--wheelhouse", type=Path, required=True,
                        help="A folder of wheels made as the README's 'Kiosk software releases' says")  # fmt: skip
    return benchmark(parser.parse_args(argv).wheelhouse)


if __name__ == "__main__":
    sys.exit(main())
