"""Files are written whole or not at all and survive a power cut: the one atomic_write, and where it is used."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from sync.contract.files import atomic_write
from sync.publish import keys
from sync.receive.updater import STATUS, init_kiosk, sync_kiosk
from tests.county_repo import VILLAGE, make_county_repo


def _record_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[os.stat_result]:
    """Record what each os.fsync call was given (file or folder), and still fsync it."""
    synced: list[os.stat_result] = []
    real_fsync: Callable[[int], None] = os.fsync

    def recording(descriptor: int) -> None:
        synced.append(os.fstat(descriptor))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording)
    return synced


def _is(path: Path, seen: os.stat_result) -> bool:
    here = path.stat()
    return (here.st_dev, here.st_ino) == (seen.st_dev, seen.st_ino)


def test_a_failure_before_the_rename_leaves_the_old_file_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    atomic_write(path, b'{"current": "content-1.db"}')

    def power_cut(*_args: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError, match="Input/output"):
        atomic_write(path, b'{"current": "content-2.db"}')
    assert path.read_bytes() == b'{"current": "content-1.db"}'
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"], "no half-written temporary file left"


def test_the_file_and_then_its_folder_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced = _record_fsyncs(monkeypatch)
    path = tmp_path / "status.json"
    atomic_write(path, b"{}")
    assert len(synced) == 2
    assert stat.S_ISREG(synced[0].st_mode) and synced[0].st_size == 2, "the data, before the rename"
    assert stat.S_ISDIR(synced[1].st_mode) and _is(tmp_path, synced[1]), "the folder, after the rename"


def test_a_private_file_is_never_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "kiosk-key.pem"
    path.write_bytes(b"old")
    path.chmod(0o644)
    atomic_write(path, b"secret", mode=0o600)
    assert path.read_bytes() == b"secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_published_timestamp_and_the_kiosk_status_survive_a_power_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = _record_fsyncs(monkeypatch)
    county = make_county_repo(tmp_path / "county")
    metadata = county.path / "metadata"
    assert any(_is(metadata / "timestamp.json", seen) for seen in synced), "timestamp.json fsynced"
    assert any(_is(metadata, seen) for seen in synced), "the metadata folder fsynced after the rename"

    synced.clear()
    data = tmp_path / "kiosk"
    init_kiosk(data, VILLAGE, str(county.path), county.root)
    sync_kiosk(data)
    assert any(_is(data / STATUS, seen) for seen in synced), "the sync status fsynced"
    assert any(_is(data, seen) for seen in synced), "the data folder fsynced after the rename"


def test_a_new_signing_key_survives_a_power_cut_and_is_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = _record_fsyncs(monkeypatch)
    path = tmp_path / "online" / "timestamp.pem"
    keys.generate(path)
    assert any(_is(path, seen) for seen in synced) and any(_is(path.parent, seen) for seen in synced)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        keys.generate(path)
    assert path.read_bytes() == before
