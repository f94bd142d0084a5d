"""A kiosk repairs itself: damaged content, local.db or state files, and a full disk."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from kiosk.cli import main
from kiosk.data import accounts, content_db, notices
from kiosk.data.local_db import open_local, path_of
from kiosk.demo import install_demo
from kiosk.device.status import kiosk_status
from kiosk.screens import create_app
from kiosk.staff import create_staff_app
from sync.contract.dates import local_now
from sync.receive import install
from sync.receive.install import content_dir, current_database, read_state
from sync.receive.updater import CONFIG, STATUS, sync_kiosk
from tests.county_repo import CountyRepo
from tests.qr_images import qr_image, qr_sources

POWER = "caiwu-kaizhi-shenpi"  # a power item of the demo village
PASSWORD = "correct horse battery"


def truncate(path: Path) -> None:
    """Cut a file to half its size, as a power cut during a copy or a worn SD card leaves it."""
    with open(path, "r+b") as file:
        file.truncate(path.stat().st_size // 2)


def screens(data: Path, **config: object) -> Flask:
    return create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "repair-test", **config})


def status_of(data: Path) -> tuple[int, str]:
    """Run `kiosk status` in English; return its exit code and output."""
    result = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"}).invoke(main, ["status", "--data", str(data)])
    return result.exit_code, result.output


def staff_home(data: Path) -> str:
    """Sign in to the staff console of *data* and return its home page."""
    app = create_staff_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "t", "DEFAULT_LOCALE": "en"})
    db = open_local(data)
    accounts.add(db, "anna", "admin", PASSWORD, actor="test")
    db.close()
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/sign-in", data={"name": "anna", "password": PASSWORD, "csrf_token": token})
    return client.get("/").get_data(as_text=True)


# --- Damaged content ----------------------------------------------------------------------------------


def test_a_damaged_current_version_gives_way_to_the_previous_and_staff_are_told(tmp_path: Path) -> None:
    data = tmp_path / "data"
    install_demo(data, version=1)
    current = install_demo(data, version=2)
    truncate(current)
    client = screens(data).test_client()
    home = client.get("/")
    assert home.status_code == 200, "the screens show the previous version"
    assert client.get(f"/powers/{POWER}").status_code == 200
    assert kiosk_status(data)["serving"] == "previous" and kiosk_status(data)["version"] == 1
    code, output = status_of(data)
    assert code == 0 and "Traceback" not in output
    assert "is damaged: the screens show the previous version 1" in output and current.name in output
    assert "damaged: the screens show the previous version (1)" in staff_home(data)


def test_damage_inside_a_version_found_on_a_read_gives_way_to_the_previous(tmp_path: Path) -> None:
    data = tmp_path / "data"
    install_demo(data, version=1)
    current = install_demo(data, version=2)
    with sqlite3.connect(current) as db:  # the pages of the notices' table and index, overwritten in place
        found = db.execute("select pageno from dbstat where name in ('notices', 'notices_by_domain')")
        pages = [row[0] for row in found]
        page_size = db.execute("pragma page_size").fetchone()[0]
    with open(current, "r+b") as file:
        for page in pages:
            file.seek((page - 1) * page_size)
            file.write(b"\xa5" * page_size)
    client = screens(data).test_client()
    assert client.get(f"/powers/{POWER}").status_code == 200, "the rest of the version still reads"
    notices = client.get("/notices/finance", follow_redirects=True)
    assert notices.status_code == 200 and len(notices.history) == 1, "read again from the previous version"
    assert kiosk_status(data)["serving"] == "previous"
    install._verdicts.clear()  # as in another process, e.g. the next sync
    assert not install.intact(current), "the next sync installs this version again"


def test_every_version_damaged_shows_a_repair_screen_and_the_next_sync_reinstalls(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    installed = current_database(kiosk_data)
    assert installed is not None
    truncate(installed)
    client = screens(kiosk_data).test_client()
    page = client.get("/")
    assert page.status_code == 503 and "内容正在修复" in page.get_data(as_text=True)
    client.get("/lang/en")
    assert "Content is being repaired" in client.get(f"/powers/{POWER}").get_data(as_text=True)
    assert kiosk_status(kiosk_data)["serving"] == "repairing"
    again = sync_kiosk(kiosk_data)
    assert (again.outcome, again.error) == ("updated", None), "a damaged version is not 'unchanged'"
    assert client.get(f"/powers/{POWER}").status_code == 200
    assert sync_kiosk(kiosk_data).outcome == "unchanged"
    assert sorted(f.name for f in content_dir(kiosk_data).iterdir()) == sorted(
        [".install.lock", "state.json", read_state(kiosk_data)["current"]]
    ), "the damaged file is gone and not kept as the previous version"


# --- Damaged local.db and state files -------------------------------------------------------------------


def test_a_damaged_local_db_is_set_aside_and_a_fresh_one_made(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    install_demo(data)
    db = open_local(data)
    accounts.add(db, "anna", "admin", PASSWORD, actor="test")
    db.close()
    truncate(path_of(data))
    damaged = path_of(data).read_bytes()
    with caplog.at_level(logging.ERROR):
        client = screens(data).test_client()
    assert client.get("/").status_code == 200 and client.get(f"/powers/{POWER}").status_code == 200
    [aside] = [p for p in data.iterdir() if p.name.startswith("local.db.damaged-")]
    assert aside.read_bytes() == damaged, "set aside whole, never deleted"
    assert any("set aside as " + aside.name in record.getMessage() for record in caplog.records)
    code, output = status_of(data)
    assert code == 0 and f"local.db was damaged and set aside as {aside.name}" in output
    assert f"set aside as {aside.name}" in staff_home(data)


@pytest.mark.parametrize(
    ("file", "says"),
    [
        ("content/state.json", "content/state.json is damaged"),
        (CONFIG, "kiosk.json is damaged"),
        (STATUS, "sync-status.json is damaged"),
    ],
)
@pytest.mark.parametrize("damage", [b"", b'{"current": ', b"\xff\xfe", b"[1, 2]"])
def test_a_damaged_state_file_gives_a_clear_message_never_a_traceback(
    county_repo: CountyRepo, kiosk_data: Path, file: str, says: str, damage: bytes
) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    (kiosk_data / file).write_bytes(damage)
    code, output = status_of(kiosk_data)
    assert code == 0 and "Traceback" not in output and says in output, output
    synced = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"}).invoke(main, ["sync", "--data", str(kiosk_data)])
    assert not isinstance(synced.exception, Exception) or isinstance(synced.exception, SystemExit), synced.output
    if file == CONFIG:
        assert synced.exit_code == 1 and "kiosk.json is damaged" in synced.output and "kiosk init" in synced.output
    else:
        assert synced.exit_code == 0, synced.output
        assert json.loads((kiosk_data / file).read_text(encoding="utf-8")), "the sync wrote it again"
        assert says not in status_of(kiosk_data)[1]
    assert screens(kiosk_data).test_client().get(f"/powers/{POWER}").status_code == 200


def test_a_damaged_state_json_falls_back_to_the_newest_intact_content_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    install_demo(data, version=1)
    second = install_demo(data, version=2)
    third = install_demo(data, version=3)
    truncate(third)
    (content_dir(data) / "state.json").write_text("", encoding="utf-8")
    assert read_state(data)["current"] == second.name
    assert kiosk_status(data)["version"] == 2
    assert screens(data).test_client().get("/").status_code == 200


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, server: subprocess.Popen[bytes], seconds: float = 30) -> int:
    """Return the status of GET *url* once the server answers; fail if it exits or never answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            error.close()
            return int(error.code)
        except OSError:
            assert server.poll() is None, f"kiosk serve exited: {output_of(server)}"
            assert time.monotonic() < deadline, "kiosk serve did not answer"
            time.sleep(0.2)


def serve(data: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    environment = {**os.environ, "KIOSK_PORT": str(port), "KIOSK_STAFF_PORT": str(free_port()),
                   "KIOSK_DEFAULT_LOCALE": "en", "KIOSK_REPORT_MINUTES": "0", **env}  # fmt: skip
    server = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "serve", "--data", str(data)], env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.terminate()
        server.wait(timeout=10)
        assert server.stdout is not None
        server.stdout.close()


def output_of(server: subprocess.Popen[bytes]) -> str:
    server.terminate()
    out, _ = server.communicate(timeout=10)
    return out.decode()


def test_kiosk_serve_starts_with_every_state_file_damaged_and_says_so(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    open_local(kiosk_data).close()
    for name in ("content/state.json", CONFIG, STATUS):
        (kiosk_data / name).write_text("", encoding="utf-8")
    truncate(path_of(kiosk_data))
    for url, server in serve(kiosk_data):
        assert wait_for(f"{url}/powers/{POWER}", server) == 200
        output = output_of(server)
        assert "Traceback" not in output
        for says in ("content/state.json is damaged", "kiosk.json is damaged", "sync-status.json is damaged",
                     "local.db was damaged and set aside"):  # fmt: skip
            assert says in output, output


# --- A full disk -----------------------------------------------------------------------------------------


class FullDisk:
    """A small ext4 file system, loop-mounted, that a test fills and frees."""

    def __init__(self, root: Path) -> None:
        self.image, self.path = root / "disk.img", root / "disk"

    def mount(self, megabytes: int = 16) -> None:
        self.path.mkdir()
        with open(self.image, "wb") as image:
            image.truncate(megabytes * 2**20)
        for command in (["mkfs.ext4", "-q", str(self.image)], ["mount", "-o", "loop", str(self.image), str(self.path)]):
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"the full-disk tests need root and loop devices: {' '.join(command)} failed: "
                                   f"{done.stderr.strip()}")  # fmt: skip

    def fill(self) -> None:
        """Take every free block, the root-reserved ones too (tests run as root)."""
        with open(self.path / "filler", "ab", buffering=0) as file:
            for chunk in (1 << 16, 4096, 1):
                try:
                    for _ in range(1 << 20):
                        file.write(b"\0" * chunk)
                except OSError as error:
                    assert error.errno == errno.ENOSPC
        assert shutil.disk_usage(self.path).free == 0

    def free(self) -> None:
        (self.path / "filler").unlink()

    def unmount(self) -> None:
        held = getattr(content_db._per_thread, "held", None)  # this thread's content connection, if any
        if held is not None:
            held[1].close()
            content_db._per_thread.held = None
        if subprocess.run(["umount", str(self.path)], check=False).returncode != 0:
            subprocess.run(["umount", "--lazy", str(self.path)], check=True)
        self.image.unlink(missing_ok=True)


@pytest.fixture()
def full_disk(tmp_path: Path) -> Iterator[FullDisk]:
    disk = FullDisk(tmp_path)
    try:
        disk.mount()
        yield disk
    finally:
        disk.unmount()


@pytest.fixture()
def kiosk_on_small_disk(full_disk: FullDisk) -> Path:
    """The demo kiosk, started once (local.db and its keys made), on the small disk."""
    install_demo(full_disk.path)
    create_app({"DATA_DIR": str(full_disk.path)})
    create_staff_app({"DATA_DIR": str(full_disk.path)})
    return full_disk.path


def test_detail_pages_and_their_qr_codes_answer_on_a_full_disk(full_disk: FullDisk, kiosk_on_small_disk: Path) -> None:
    village_notice = posted_village_notice(kiosk_on_small_disk)
    client = screens(kiosk_on_small_disk).test_client()
    full_disk.fill()
    page = client.get(f"/powers/{POWER}")
    assert page.status_code == 200 and 'class="qr-code"' in page.get_data(as_text=True)
    (src,) = qr_sources(page.get_data(as_text=True))
    assert qr_image(client, src), "drawn at install: nothing to write"
    (src,) = qr_sources(client.get(f"/notice/{village_notice}").get_data(as_text=True))
    assert qr_image(client, src), "the village's own notice: drawn, though it cannot be kept"
    assert not list((kiosk_on_small_disk / "qr").glob("*.png")), "nothing could be cached"
    full_disk.free()
    assert qr_image(client, src)
    assert len(list((kiosk_on_small_disk / "qr").glob("*.png"))) == 1, "cached once there is room"


def posted_village_notice(data: Path, title: str = "关于村道维修的通知") -> str:
    """Post a notice of the village's own (staff console), on show now; return its id."""
    today = local_now("Asia/Shanghai").date()
    values = {"domain": "village", "title": title, "body": "本周六上午维修村道。", "published": f"{today:%Y-%m-%d}"}
    return notices.create(open_local(data), "bo", values, local_now("Asia/Shanghai"), publish=True)


def test_read_aloud_plays_on_a_full_disk_made_in_memory(full_disk: FullDisk, kiosk_on_small_disk: Path) -> None:
    client = screens(kiosk_on_small_disk).test_client()
    full_disk.fill()
    audio = client.get(f"/speech/power/{POWER}.wav")
    assert audio.status_code == 200 and audio.data[:4] == b"RIFF"
    assert int.from_bytes(audio.data[4:8], "little") == len(audio.data) - 8, "a whole WAV, lengths filled in"


def test_the_qr_cache_of_village_notices_keeps_to_its_budget_oldest_first(demo_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_data, data, ignore=shutil.ignore_patterns("qr"))  # other tests' codes stay behind
    client = screens(data, QR_CACHE_BYTES=1500).test_client()
    made = []
    for number in range(8):
        notice = posted_village_notice(data, f"第{number}号通知")
        (src,) = qr_sources(client.get(f"/notice/{notice}").get_data(as_text=True))
        assert qr_image(client, src)
        made.append(max((data / "qr").glob("*.png"), key=lambda p: p.stat().st_mtime_ns))
        time.sleep(0.01)  # distinct modification times, oldest first
    kept = list((data / "qr").glob("*.png"))
    assert 1 <= len(kept) < len(made) and sum(p.stat().st_size for p in kept) <= 1500
    assert made[-1] in kept and made[0] not in kept, "the oldest went first"


def test_svg_codes_drawn_before_are_deleted_when_the_screens_start(demo_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_data, data, ignore=shutil.ignore_patterns("qr"))
    (data / "qr").mkdir()
    for number in range(50):  # what an earlier kiosk left: any number of them, never pruned
        (data / "qr" / f"{number:032x}.svg").write_text("<svg></svg>", encoding="utf-8")
    (data / "qr" / "kept.png").write_bytes(b"png")
    screens(data)
    assert [p.name for p in (data / "qr").iterdir()] == ["kept.png"]


def test_kiosk_serve_starts_on_a_full_disk_with_a_warning(full_disk: FullDisk, kiosk_on_small_disk: Path) -> None:
    full_disk.fill()
    for url, server in serve(kiosk_on_small_disk, KIOSK_SYNC_NIGHTLY="0"):
        assert wait_for(f"{url}/", server) == 200
        assert wait_for(f"{url}/powers/{POWER}", server) == 200
        output = output_of(server)
        assert "(nearly) full" in output and "Fatal Python error" not in output, output


def test_a_failed_install_on_a_full_disk_leaves_no_leftovers_and_the_content_intact(
    full_disk: FullDisk, kiosk_on_small_disk: Path
) -> None:
    before = read_state(kiosk_on_small_disk)
    full_disk.fill()
    with pytest.raises(Exception, match="the installed content is unchanged") as refused:
        install_demo(kiosk_on_small_disk, version=2)
    assert type(refused.value).__name__ == "InstallError"
    assert read_state(kiosk_on_small_disk) == before
    left = sorted(p.name for p in content_dir(kiosk_on_small_disk).iterdir())
    assert left == sorted([".install.lock", "state.json", before["current"]]), "no .tmp or -journal left"
    assert not [p for p in (kiosk_on_small_disk / "media").iterdir() if p.name.startswith(".")]
    assert screens(kiosk_on_small_disk).test_client().get(f"/powers/{POWER}").status_code == 200


def test_leftovers_of_an_earlier_install_are_removed_when_the_next_one_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    current = install_demo(data, version=2)
    build = content_dir(data) / ".content-3-ab12cd34.db.tmp"
    leftovers = [build, build.with_name(build.name + "-journal"), data / "media" / ".0123abcd.png.5e6f7a8b.tmp"]
    for leftover in leftovers:
        leftover.write_bytes(b"half")
    with pytest.raises(Exception, match="older than the installed 2"):
        install_demo(data, version=1)
    assert not [p for p in leftovers if p.exists()] and current.exists()
