"""Bad days for `kiosk update`: a wheel tampered with on the server, the network cut in the middle of a wheel
(resumed at the next run), and a disk without room for the release. Each fails with a clear reason and
leaves the running release as it was."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kiosk.county.repo_files import RepositoryApp
from kiosk.device import release_files, update
from kiosk.device.update import Updater
from sync.publish.software import publish_release
from tests.county_repo import CountyRepo
from tests.servers import Fault, FaultInjector, serving
from tests.test_field_repair import FullDisk
from tests.test_software_update import fake_wheel, kiosk  # noqa: F401  (the fixture)

BIG = os.urandom(300_000)  # a dependency wheel large enough to be cut in the middle


def _wheelhouse(folder: Path, version: str) -> Path:
    fake_wheel(folder, version)
    (folder / "dependency-1.0-py3-none-any.whl").write_bytes(BIG)
    return folder


def test_a_wheel_tampered_with_on_the_server_is_refused_and_nothing_changes(
    kiosk: Updater,  # noqa: F811
    county_repo: CountyRepo,
    tmp_path: Path,
) -> None:
    publish_release(county_repo.repository, _wheelhouse(tmp_path / "w1", "0.2.0"))
    [stored] = (county_repo.path / "targets" / "software" / "wheels").glob("*.village_kiosk-0.2.0-*.whl")
    data = bytearray(stored.read_bytes())
    data[-40] ^= 0xFF  # same length, one byte changed: a mirror's substitution
    stored.write_bytes(bytes(data))
    result = kiosk.run(current="0.1.0")
    assert (result.outcome, result.running, result.step) == ("failed", "0.1.0", "fetch")
    assert "hash" in (result.error or "").lower() or "verif" in (result.error or "").lower(), result.error
    assert not (kiosk.releases / "0.2.0").exists() and not (kiosk.releases / "current").exists()
    assert not (kiosk.data_dir / "software" / "wheels" / stored.name.split(".", 1)[1]).exists()


def test_the_network_cut_in_the_middle_of_a_wheel_resumes_at_the_next_run(
    kiosk: Updater,  # noqa: F811
    county_repo: CountyRepo,
    tmp_path: Path,
) -> None:
    publish_release(county_repo.repository, _wheelhouse(tmp_path / "w1", "0.2.0"))
    injector = FaultInjector(RepositoryApp(county_repo.path))
    injector.add(Fault("dependency-1.0", cut_after=len(BIG) // 2))
    with serving(injector) as url:
        kiosk.source = url
        kiosk.fetcher_options = {"attempts": 1}
        cut = kiosk.run(current="0.1.0")
        assert (cut.outcome, cut.step, cut.running) == ("failed", "fetch", "0.1.0"), cut
        assert cut.bytes_downloaded >= len(BIG) // 2, "what arrived is counted, and kept"
        resumed = kiosk.run(current="0.1.0")
    assert (resumed.outcome, resumed.running) == ("installed", "0.2.0"), resumed
    ranged = [r for r in injector.requests if "dependency-1.0" in r["path"] and r["range"]]
    assert ranged and ranged[-1]["range"].startswith(f"bytes={len(BIG) // 2}"), "the rest only, by Range"
    assert resumed.bytes_downloaded < len(BIG), "the next run fetched only what the cut left"


def test_a_disk_without_room_refuses_before_anything_changes(
    kiosk: Updater,  # noqa: F811
    county_repo: CountyRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    publish_release(county_repo.repository, _wheelhouse(tmp_path / "w1", "0.2.0"))
    real = shutil.disk_usage
    full = "sync.receive.signed_files.shutil.disk_usage"
    monkeypatch.setattr(full, lambda path: real(path)._replace(free=10 * 2**20))
    refused = kiosk.run(current="0.1.0")
    assert refused.outcome == "failed" and "not enough free disk" in (refused.error or ""), refused
    assert refused.bytes_downloaded < len(BIG) // 10, "only metadata came: refused before any wheel"
    monkeypatch.undo()
    monkeypatch.setattr(release_files, "free_bytes", lambda folder: 1000)  # the wheels came; the release has no room
    no_room = kiosk.run(current="0.1.0")
    assert (no_room.outcome, no_room.step) == ("failed", "install")
    assert "not enough free disk to install release 0.2.0" in (no_room.error or "")
    assert not (kiosk.releases / "0.2.0").exists() and not (kiosk.releases / "current").exists()
    assert len(list((kiosk.data_dir / "software" / "wheels").glob("*.whl"))) == 2


def test_a_python_path_set_for_the_running_kiosk_does_not_reach_the_new_release(
    kiosk: Updater,  # noqa: F811
    county_repo: CountyRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pip in the new environment would take a package found on PYTHONPATH for the release, and install nothing."""
    elsewhere = tmp_path / "elsewhere" / "village_kiosk-0.2.0.dist-info"
    elsewhere.mkdir(parents=True)
    (elsewhere / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: village-kiosk\nVersion: 0.2.0\n", encoding="utf-8"
    )
    monkeypatch.setenv("PYTHONPATH", str(elsewhere.parent))
    publish_release(county_repo.repository, fake_wheel(tmp_path / "w1", "0.2.0"))
    result = kiosk.run(current="0.1.0")
    assert (result.outcome, result.running) == ("installed", "0.2.0"), result
    assert (kiosk.releases / "0.2.0" / "bin" / "kiosk").is_file()


def test_a_really_full_disk_refuses_the_release_and_a_disk_that_fills_midway_is_left_as_it_was(
    kiosk: Updater,  # noqa: F811
    county_repo: CountyRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The releases on a small ext4 file system of their own (loop-mounted: the tests run as root)."""
    disk = FullDisk(tmp_path)
    disk.path = kiosk.releases  # mounted where the kiosk keeps its releases
    disk.mount(megabytes=96)
    try:
        publish_release(county_repo.repository, fake_wheel(tmp_path / "w1", "0.1.0"))
        assert kiosk.run(current="0.0.1").outcome == "installed"
        publish_release(county_repo.repository, fake_wheel(tmp_path / "w2", "0.2.0"))
        filler = disk.path / "filler"
        with open(filler, "wb") as file:  # about 10 MB left: less than a new environment takes
            os.posix_fallocate(file.fileno(), 0, shutil.disk_usage(disk.path).free - 10 * 2**20)
        free = shutil.disk_usage(disk.path).free

        refused = kiosk.run(current="0.1.0")
        assert (refused.outcome, refused.step) == ("failed", "install"), refused
        assert "not enough free disk to install release 0.2.0" in (refused.error or "")
        assert sorted(p.name for p in kiosk.releases.iterdir()) == ["0.1.0", "current", "filler", "lost+found"]
        assert shutil.disk_usage(disk.path).free == free, "refused before anything was written"

        monkeypatch.setattr(update, "VENV_BYTES", 0)  # a wrong estimate: the disk fills in the middle
        midway = kiosk.run(current="0.1.0")
        assert (midway.outcome, midway.step) == ("failed", "install"), midway
        assert "the disk filled up while release 0.2.0 was installed" in (midway.error or ""), midway.error
        assert not (kiosk.releases / "0.2.0").exists(), "the half-made one went"
        assert shutil.disk_usage(disk.path).free >= free - 2**20, "its space came back at once"
        assert os.readlink(kiosk.releases / "current") == "0.1.0"

        filler.unlink()
        done = kiosk.run(current="0.1.0")
        assert (done.outcome, done.running) == ("installed", "0.2.0"), done
    finally:
        disk.unmount()


def test_a_second_update_while_one_runs_does_nothing_and_says_so(
    kiosk: Updater,  # noqa: F811
    county_repo: CountyRepo,
    tmp_path: Path,
) -> None:
    """The nightly update and one a technician types at the same time would build the same release twice."""
    import fcntl

    publish_release(county_repo.repository, fake_wheel(tmp_path / "w1", "0.2.0"))
    (kiosk.data_dir / "software").mkdir(parents=True, exist_ok=True)
    record = kiosk.data_dir / "software" / "update.json"
    record.write_text('{"offered": "0.2.0", "step": "install"}')  # what the running one has written so far
    with open(kiosk.data_dir / "software" / "update.lock", "a") as running:
        fcntl.flock(running, fcntl.LOCK_EX)
        second = kiosk.run(current="0.1.0")
    assert (second.outcome, second.offered) == ("failed", None) and "another kiosk update" in (second.error or "")
    assert record.read_text() == '{"offered": "0.2.0", "step": "install"}', "the running one's record untouched"
    assert not kiosk.releases.exists()
    assert kiosk.run(current="0.1.0").outcome == "installed", "once it is done, the next one runs"
