"""Software updates attacked: a content key that lists a release itself, wheels a kiosk held from an older
release, a technician's links and folders in the releases folder, a damaged update record, and a county
officer's careless release. Each is refused or handled, and the running release keeps serving."""

from __future__ import annotations

import json
import os
import sqlite3
import zipfile
from pathlib import Path

import pytest
from tuf.api.metadata import TargetFile, Targets

from kiosk.device.update import Updater
from sync.contract import software
from sync.contract.channel import canonical
from sync.publish.repository import RepositoryError, signing_now
from sync.publish.software import publish_release, set_state
from sync.receive.software import Channel
from sync.receive.updater import SyncError
from tests.county_repo import CountyRepo
from tests.test_software_channel import wheelhouse
from tests.test_software_update import fake_wheel, kiosk  # noqa: F401  (the fixture)


def _plain_wheel(folder: Path, name: str, version: str) -> None:
    """A wheel of the project *name* holding one module that says its version."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": f"VERSION = {version!r}\n".encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = ("\n".join([*(f"{n},," for n in files), f"{info}/RECORD,,"]) + "\n").encode()
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as archive:
        for entry, data in files.items():
            archive.writestr(entry, data)


def test_a_release_or_wheel_the_content_role_lists_itself_is_refused(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path
) -> None:
    """The top-level targets role (the content key) is read before any delegation: listing software/… there
    must not stand in for the software role."""
    repository = county_repo.repository
    publish_release(repository, wheelhouse(tmp_path / "w1", "0.2.0"))
    wheel = f"{software.WHEELS}village_kiosk-0.2.0-py3-none-any.whl"
    evil: dict[str, object] = {"version": "9.9.9", "upgrade_from": "0", "wheels": [], "state": "active",
                               "villages": None, "percent": None}  # fmt: skip
    for path, data in ((wheel, b"the content key's code"), (software.CHANNEL, canonical({"releases": [evil]}))):
        snapshot, now = repository.snapshot(), signing_now()
        listed = repository.write_target(path, data)

        def list_it(role: Targets, path: str = path, listed: TargetFile = listed) -> None:
            role.targets[path] = listed

        repository.resign_role("targets", snapshot, now, list_it)
        repository.sign_snapshot_and_timestamp(snapshot, now)
        with pytest.raises(SyncError, match="content role lists"):
            channel = Channel(kiosk_data)
            release = channel.offer("0.1.0")
            assert release is not None and release["version"] == "0.2.0", "the content key's wheel is the one refused"
            channel.fetch_wheels(release, tmp_path / "fetched")
        assert not (tmp_path / "fetched" / wheel.rsplit("/", 1)[1]).exists()


def test_only_the_offered_releases_wheels_are_installed_not_those_held_from_a_withdrawn_one(
    kiosk: Updater,  # noqa: F811
    county_repo: CountyRepo,
    tmp_path: Path,
) -> None:
    """A withdrawn release's newer dependency stays in the kiosk's wheel folder; pip must not choose it."""
    bad = fake_wheel(tmp_path / "w1", "0.2.0", checks=False, requires=("helper",))
    _plain_wheel(bad, "helper", "2.0")
    publish_release(county_repo.repository, bad)
    assert kiosk.run(current="0.1.0").step == "check", "fetched, installed, refused: its wheels are held"
    set_state(county_repo.repository, "0.2.0", "withdrawn")
    good = fake_wheel(tmp_path / "w2", "0.3.0", requires=("helper",))
    _plain_wheel(good, "helper", "1.0")
    publish_release(county_repo.repository, good)
    result = kiosk.run(current="0.1.0")
    assert (result.outcome, result.running) == ("installed", "0.3.0"), result
    [installed] = (kiosk.releases / "0.3.0").glob("lib/python*/site-packages/helper-*.dist-info")
    assert installed.name == "helper-1.0.dist-info", "the dependency the county shipped with 0.3.0"


def test_a_technicians_absolute_link_and_folders_in_releases_survive_an_update(
    kiosk: Updater,  # noqa: F811
    county_repo: CountyRepo,
    tmp_path: Path,
) -> None:
    publish_release(county_repo.repository, fake_wheel(tmp_path / "w1", "0.2.0"))
    assert kiosk.run(current="0.1.0").outcome == "installed"
    current = kiosk.releases / "current"
    current.unlink()
    current.symlink_to(kiosk.releases.resolve() / "0.2.0")  # ln -s /opt/village-kiosk/releases/0.2.0 current
    kept = kiosk.releases / "backup-before-repair"
    kept.mkdir()
    (kept / "notes.txt").write_text("do not lose", encoding="utf-8")
    publish_release(county_repo.repository, fake_wheel(tmp_path / "w2", "0.3.0"))
    result = kiosk.run(current="0.2.0")
    assert (result.outcome, result.running) == ("installed", "0.3.0"), result
    assert (kiosk.releases / "previous" / ".installed").is_file(), "the release to go back to is kept"
    assert (kiosk.releases / "previous").resolve() == (kiosk.releases / "0.2.0").resolve()
    assert (kept / "notes.txt").is_file(), "only releases are pruned"


def test_a_damaged_update_record_neither_stops_updates_nor_points_outside_releases(
    kiosk: Updater,  # noqa: F811
    county_repo: CountyRepo,
    tmp_path: Path,
) -> None:
    publish_release(county_repo.repository, fake_wheel(tmp_path / "w1", "0.2.0"))
    assert kiosk.run(current="0.1.0").outcome == "installed"
    with sqlite3.connect(kiosk.data_dir / "local.db") as db:
        db.execute("create table if not exists test_notes (note text)")
        db.execute("insert into test_notes values ('written by 0.2.0')")
    outside = tmp_path / "outside"
    (outside / "bin").mkdir(parents=True)
    record = kiosk.data_dir / "software" / "update.json"
    damaged: list[object] = [
        {"step": "confirm"}, {"step": "confirm", "offered": ["0.2.0"]}, {"step": "switch", "offered": None},
        {"step": "confirm", "offered": "0.9.9", "running": "0.2.0", "before": "0.2.0"},
        {"step": "switch_back", "offered": "0.2.0", "running": "0.2.0", "before": "../outside"},
        {"step": "confirm", "offered": "../outside", "running": 7, "before": str(outside)},
    ]  # fmt: skip
    for bad in damaged:
        record.write_text(json.dumps(bad), encoding="utf-8")
        result = kiosk.run(current="0.2.0")
        assert (result.outcome, result.running) == ("unchanged", "0.2.0"), (bad, result)
        assert os.readlink(kiosk.releases / "current") == "0.2.0", bad
        with sqlite3.connect(kiosk.data_dir / "local.db") as db:
            assert db.execute("select note from test_notes").fetchall() == [("written by 0.2.0",)], bad


def test_a_current_that_is_a_folder_or_an_unreadable_local_db_fails_before_anything_changes(
    kiosk: Updater,  # noqa: F811
    county_repo: CountyRepo,
    tmp_path: Path,
) -> None:
    publish_release(county_repo.repository, fake_wheel(tmp_path / "w1", "0.2.0"))
    current = kiosk.releases / "current"
    current.mkdir(parents=True)  # a technician copied a release there by hand
    (current / "keep").write_text("the running kiosk", encoding="utf-8")
    result = kiosk.run(current="0.1.0")
    assert (result.outcome, result.step) == ("failed", "switch"), result
    assert "not a link" in (result.error or ""), result.error
    assert (current / "keep").is_file() and not (kiosk.data_dir / "software" / "local.db.before").exists()

    (current / "keep").unlink()
    current.rmdir()
    local = kiosk.data_dir / "local.db"
    local.write_bytes(b"not a database, after a bad shutdown" * 200)
    damaged = kiosk.run(current="0.1.0")
    assert (damaged.outcome, damaged.running) == ("failed", "0.1.0"), damaged
    assert "local.db" in (damaged.error or ""), damaged.error
    assert not current.exists(), "never switched"


def test_a_careless_release_is_refused_before_anything_is_signed(county_repo: CountyRepo, tmp_path: Path) -> None:
    repository = county_repo.repository
    before = repository.snapshot().signed.version
    odd = wheelhouse(tmp_path / "odd", "0.2.0")
    (odd / "folder-1.0-py3-none-any.whl").mkdir()
    with pytest.raises(RepositoryError, match=r"folder-1\.0"):
        publish_release(repository, odd)
    with pytest.raises(RepositoryError, match="taoyuann"):
        publish_release(repository, wheelhouse(tmp_path / "w1", "0.2.0"), villages=["taoyuan", "taoyuann"])
    with pytest.raises(RepositoryError, match="upgrade"):
        publish_release(repository, wheelhouse(tmp_path / "w1", "0.2.0"), upgrade_from="0.2.0")
    assert repository.snapshot().signed.version == before
    published = publish_release(repository, wheelhouse(tmp_path / "w1", "0.2.0"), villages=["taoyuan", "baisha"])
    assert published["villages"] == ["baisha", "taoyuan"], "baisha has no content of its own, and is the county's"
