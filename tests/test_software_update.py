"""`kiosk update` on a kiosk: a release the county publishes is fetched, installed by pip into an environment
of its own, self-checked, switched to and confirmed by its screens answering; a release whose screens do
not answer is switched back, with local.db as it was. Real pip, real environments, real processes: the
wheels are small stand-ins for the kiosk (their `kiosk` command answers selfcheck and serves /healthz)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import signal
import socket
import sqlite3
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.device.update import Updater
from sync.publish.software import publish_release
from sync.receive.updater import sync_kiosk
from tests.county_repo import CountyRepo

FAKE_KIOSK = """
import http.server, importlib.metadata, json, os, sys
HEALTHY, CHECKS = {healthy!r}, {checks!r}
VERSION = importlib.metadata.version("village-kiosk")  # as the real kiosk says it: its wheel's

def main():
    if sys.argv[1] == "selfcheck":
        sys.exit(0 if CHECKS else "selfcheck: the migrations failed")
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({{"version": VERSION}}).encode()
            self.send_response(200 if HEALTHY else 500)
            self.end_headers()
            self.wfile.write(body if HEALTHY else b"broken")
        def log_message(self, *args):
            pass
    if os.environ.get("LISTEN_FDS"):  # the socket a service manager holds (bench/update.py, as deployed)
        import socket
        server = http.server.HTTPServer(("127.0.0.1", 0), Health, bind_and_activate=False)
        server.socket.close()
        server.socket = socket.socket(fileno=3)
    else:
        port = os.environ.get("FAKE_PORT") or os.environ["KIOSK_PORT"]
        server = http.server.HTTPServer(("127.0.0.1", int(port)), Health)
    server.serve_forever()
"""
RESTART = """
import os, pathlib, signal, subprocess, sys, time
pidfile, releases, port = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
if pidfile.exists():
    try:
        os.kill(int(pidfile.read_text()), signal.SIGTERM)
        time.sleep(0.3)
    except ProcessLookupError:
        pass
child = subprocess.Popen([str(releases / "current" / "bin" / "kiosk"), "serve"], env={**os.environ, "FAKE_PORT": port},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
pidfile.write_text(str(child.pid))
"""


def fake_wheel(
    folder: Path, version: str, *, healthy: bool = True, checks: bool = True, requires: tuple[str, ...] = ()
) -> Path:
    """A wheel of village-kiosk *version* whose `kiosk` command passes or fails its self-check and health."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"village_kiosk-{version}.dist-info"
    needs = "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    files = {
        "fakekiosk.py": FAKE_KIOSK.format(healthy=healthy, checks=checks).encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: village-kiosk\nVersion: {version}\n{needs}".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": b"[console_scripts]\nkiosk = fakekiosk:main\n",
    }
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    wheel = folder / f"village_kiosk-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return folder


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@pytest.fixture
def kiosk(county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path) -> Iterator[Updater]:
    """A synced kiosk, its releases folder, and a restart command that runs releases/current on a free port."""
    assert sync_kiosk(kiosk_data).outcome == "updated"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script, pidfile, releases = tmp_path / "restart.py", tmp_path / "screens.pid", tmp_path / "releases"
    script.write_text(RESTART, encoding="utf-8")
    updater = Updater(kiosk_data, releases, [sys.executable, str(script), str(pidfile), str(releases), str(port)],
                      f"http://127.0.0.1:{port}/healthz", confirm_seconds=10)  # fmt: skip
    try:
        yield updater
    finally:
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pidfile.read_text()), signal.SIGTERM)


def _notes(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "local.db") as db:
        db.execute("create table if not exists test_notes (note text)")
        return [row[0] for row in db.execute("select note from test_notes")]


def test_a_release_is_installed_beside_the_old_one_and_a_broken_one_is_switched_back(
    kiosk: Updater, county_repo: CountyRepo, tmp_path: Path
) -> None:
    publish_release(county_repo.repository, fake_wheel(tmp_path / "w1", "0.2.0"))
    first = kiosk.run(current="0.1.0")
    assert (first.outcome, first.running, first.step) == ("installed", "0.2.0", None), first.error
    assert os.readlink(kiosk.releases / "current") == "0.2.0"
    assert first.bytes_downloaded > 0

    _notes(kiosk.data_dir)
    with sqlite3.connect(kiosk.data_dir / "local.db") as db:
        db.execute("insert into test_notes values ('before 0.3.0')")
    publish_release(county_repo.repository, fake_wheel(tmp_path / "w2", "0.3.0", healthy=False))
    second = kiosk.run(current="0.2.0")
    assert (second.outcome, second.running, second.offered, second.step) == ("rolled_back", "0.2.0", "0.3.0", "confirm")
    assert "did not answer with version 0.3.0" in (second.error or "")
    assert os.readlink(kiosk.releases / "current") == "0.2.0", "back on the release that worked"
    assert _notes(kiosk.data_dir) == ["before 0.3.0"], "local.db as it was before the switch"
    again = kiosk.run(current="0.2.0")  # the next night: 0.3.0 is still offered
    assert (again.outcome, again.offered) == ("unchanged", "0.3.0") and "switched back" in (again.error or "")
    assert os.readlink(kiosk.releases / "current") == "0.2.0", "not tried again: the screens stay up"


def test_the_wheels_kept_are_the_running_releases_and_old_releases_are_pruned(
    kiosk: Updater, county_repo: CountyRepo, tmp_path: Path
) -> None:
    """Every cache of an unattended kiosk has a bound: a year of releases must not fill its disk."""
    running = "0.1.0"
    for version in ("0.2.0", "0.3.0", "0.4.0"):
        publish_release(county_repo.repository, fake_wheel(tmp_path / version, version))
        result = kiosk.run(current=running)
        assert (result.outcome, result.running) == ("installed", version), result.error
        running = version
    wheels = sorted(path.name for path in (kiosk.data_dir / "software" / "wheels").iterdir())
    assert wheels == ["village_kiosk-0.4.0-py3-none-any.whl"]
    releases = sorted(path.name for path in kiosk.releases.iterdir())
    assert releases == ["0.3.0", "0.4.0", "current", "previous"] and os.readlink(kiosk.releases / "current") == "0.4.0"


def test_a_release_that_fails_its_self_check_changes_nothing(
    kiosk: Updater, county_repo: CountyRepo, tmp_path: Path
) -> None:
    publish_release(county_repo.repository, fake_wheel(tmp_path / "w1", "0.2.0", checks=False))
    result = kiosk.run(current="0.1.0")
    assert (result.outcome, result.running, result.step) == ("failed", "0.1.0", "check")
    assert "the migrations failed" in (result.error or "")
    assert not (kiosk.releases / "current").exists(), "never switched"
    assert kiosk.run(current="0.2.0").outcome == "unchanged"


def test_the_real_screens_answer_health_and_the_real_self_check_passes_on_a_kiosks_data(kiosk_data: Path) -> None:
    from click.testing import CliRunner

    from kiosk.cli import main
    from kiosk.screens import create_app
    from kiosk.settings import app_version

    empty = create_app({"DATA_DIR": str(kiosk_data)}).test_client().get("/healthz")
    assert empty.status_code == 200 and empty.json == {"version": app_version(), "content": None}
    synced = sync_kiosk(kiosk_data)
    answer = create_app({"DATA_DIR": str(kiosk_data)}).test_client().get("/healthz")
    assert answer.status_code == 200 and answer.json["content"] == str(synced.version)  # type: ignore[index]
    checked = CliRunner().invoke(main, ["selfcheck", "--data", str(kiosk_data)])
    assert checked.exit_code == 0 and app_version() in checked.output, checked.output


KILLED_AT = """
import json, os, signal, sys, urllib.request
from pathlib import Path
from kiosk.device import update

step, options = sys.argv[1], json.loads(sys.argv[2])

def die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if step == "fetch":  # in the middle of a wheel: its first bytes read, the rest not
    from sync.receive import fetcher
    chunks = fetcher.ResumableFetcher._chunks_of
    def killing_chunks(self, stream):
        for chunk in chunks(self, stream):
            yield chunk
            if "village_kiosk-0.2.0" in str(self.last_url):
                die()
    fetcher.ResumableFetcher._chunks_of = killing_chunks
elif step in ("install", "check", "restart"):
    run = update.Updater._run
    def killing_run(self, at, command, timeout):
        if at == step and (step != "install" or "pip" in command):
            die()
        return run(self, at, command, timeout)
    update.Updater._run = killing_run
elif step == "switch":
    from kiosk.device import release_files
    point = release_files.point
    def killing_point(link, name):
        point(link, name)
        if link.name == "current":
            die()
    release_files.point = killing_point
else:
    urllib.request.urlopen = die
updater = update.Updater(Path(options["data"]), Path(options["releases"]), options["restart"], options["health"], 10)
updater.run(current="0.1.0")
"""


@pytest.mark.parametrize("step", ["fetch", "install", "check", "switch", "restart", "confirm"])
def test_a_kill_at_any_step_leaves_a_release_serving_and_the_next_run_finishes_the_update(
    kiosk: Updater, county_repo: CountyRepo, tmp_path: Path, step: str
) -> None:
    import json
    import subprocess

    publish_release(county_repo.repository, fake_wheel(tmp_path / "w1", "0.1.0"))
    assert kiosk.run(current="0.0.1").outcome == "installed"
    publish_release(county_repo.repository, fake_wheel(tmp_path / "w2", "0.2.0"))
    options = {"data": str(kiosk.data_dir), "releases": str(kiosk.releases), "restart": kiosk.restart,
               "health": kiosk.health_url}  # fmt: skip
    killed = subprocess.run([sys.executable, "-c", KILLED_AT, step, json.dumps(options)], check=False, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    serving = os.readlink(kiosk.releases / "current")
    assert serving in ("0.1.0", "0.2.0") and (kiosk.releases / serving / ".installed").is_file(), "never neither"
    assert serving == ("0.2.0" if step in ("switch", "restart", "confirm") else "0.1.0")

    again = kiosk.run(current="0.1.0")  # killed after the switch: the new release is confirmed, not installed again
    assert (again.outcome, again.running) == ("installed", "0.2.0"), again
    assert os.readlink(kiosk.releases / "current") == "0.2.0" and os.readlink(kiosk.releases / "previous") == "0.1.0"
