"""Installing content: atomic, keeps the previous version, survives SIGKILL at any point."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from sync.contract.content import load_county
from sync.contract.snapshot import village_snapshot
from sync.receive.database import database_version
from sync.receive.install import InstallError, current_database, install_snapshot, read_state
from tests.county_files import write_county

PNG = b"\x89PNG\r\n\x1a\n" + b"photo of the paper notice" * 40


def county_with_photo(root: Path) -> Path:
    county = write_county(root)
    (county / "media" / "board.png").write_bytes(PNG)
    notice = county / "notices" / "finance.md"
    notice.write_text(notice.read_text(encoding="utf-8").replace("expires:", "photos: [media/board.png]\nexpires:"))
    return county


def snapshot_for(county: Path, version: int, extra_powers: int = 0) -> tuple[dict[str, Any], dict[str, Path]]:
    loaded = load_county(county)
    base = loaded.powers[0]
    loaded.powers += [{**base, "id": f"extra-{n}", "name": f"附加事项{n}"} for n in range(extra_powers)]
    return village_snapshot(loaded, "apple", version, f"2026-11-{version:02d}")


def read_version(data: Path) -> tuple[int, int]:
    """Return (version, number of power items) of the current content, in one read."""
    path = current_database(data)
    assert path is not None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        version = int(db.execute("select value from meta where key = 'version'").fetchone()[0])
        return version, db.execute("select count(*) from powers").fetchone()[0]


def integrity(path: Path) -> str:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return str(db.execute("pragma integrity_check").fetchone()[0])


@pytest.fixture()
def county(tmp_path: Path) -> Path:
    return county_with_photo(tmp_path / "county")


def test_install_makes_content_current_and_keeps_previous(tmp_path: Path, county: Path) -> None:
    data = tmp_path / "data"
    first = install_snapshot(data, *snapshot_for(county, 1))
    second = install_snapshot(data, *snapshot_for(county, 2, extra_powers=2))
    assert read_state(data) == {"current": second.name, "previous": first.name}
    assert read_version(data) == (2, 3)
    third = install_snapshot(data, *snapshot_for(county, 3))
    assert read_state(data) == {"current": third.name, "previous": second.name}
    assert not first.exists(), "a version older than the previous one is removed"
    assert sorted(p.name for p in (data / "content").glob("content-*.db")) == sorted([second.name, third.name])


def test_media_is_content_addressed_and_collected(tmp_path: Path, county: Path) -> None:
    data = tmp_path / "data"
    install_snapshot(data, *snapshot_for(county, 1))
    (blob,) = (data / "media").iterdir()
    assert blob.read_bytes() == PNG and blob.suffix == ".png"
    notice = county / "notices" / "finance.md"
    notice.write_text(notice.read_text(encoding="utf-8").replace("photos: [media/board.png]\n", ""))
    install_snapshot(data, *snapshot_for(county, 2))
    assert blob.exists(), "the previous version still uses the photo"
    install_snapshot(data, *snapshot_for(county, 3))
    assert not blob.exists(), "no kept version uses the photo any more"


def test_older_version_is_refused_and_nothing_changes(tmp_path: Path, county: Path) -> None:
    data = tmp_path / "data"
    install_snapshot(data, *snapshot_for(county, 5))
    before = read_state(data)
    with pytest.raises(InstallError, match="version 4 is older than the installed 5"):
        install_snapshot(data, *snapshot_for(county, 4))
    assert read_state(data) == before


def test_media_not_matching_its_checksum_is_refused(tmp_path: Path, county: Path) -> None:
    data = tmp_path / "data"
    install_snapshot(data, *snapshot_for(county, 1))
    before = read_state(data)
    snapshot, media = snapshot_for(county, 2)
    (blob,) = media
    (data / "media" / blob).unlink()  # so version 2 must bring the photo itself
    tampered = tmp_path / "tampered.png"
    tampered.write_bytes(PNG + b"!")
    with pytest.raises(InstallError, match="does not match its checksum"):
        install_snapshot(data, snapshot, {blob: tampered})
    assert read_state(data) == before and read_version(data) == (1, 1)


def test_readers_see_one_version_or_the_other_never_a_mix(tmp_path: Path, county: Path) -> None:
    data = tmp_path / "data"
    install_snapshot(data, *snapshot_for(county, 1))
    seen: set[tuple[int, int]] = set()
    stop = threading.Event()

    def read_continuously() -> None:
        for _ in range(20_000):
            if stop.is_set():
                break
            seen.add(read_version(data))

    reader = threading.Thread(target=read_continuously)
    reader.start()
    for version in range(2, 12):
        install_snapshot(data, *snapshot_for(county, version, extra_powers=version))
    stop.set()
    reader.join(timeout=30)
    assert seen <= {(1, 1)} | {(v, 1 + v) for v in range(2, 12)}
    assert len(seen) > 1, "the reader should have seen the content change"


# A child process installs version 2 and SIGKILLs itself at one point of the install:
# before or after the n-th call of one of the install's steps.
CHILD = """
import os, signal, sys
from pathlib import Path
import sync.receive.database as database
import sync.receive.install as install
from tests.test_install import snapshot_for

point, data, county = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
module, name, when, nth = {
    "media": (install, "atomic_write", "after", 1),
    "rows": (database, "_insert_rows", "before", 3),
    "built": (install, "write_database", "after", 1),
    "before-switch": (install, "_switch_current", "before", 1),
    "switched": (install, "_switch_current", "after", 1),
    "collecting": (install, "_collect_garbage", "before", 1),
}[point]
original, calls = getattr(module, name), []
def wrapper(*args, **kwargs):
    calls.append(1)
    if when == "before" and len(calls) == nth:
        os.kill(os.getpid(), signal.SIGKILL)
    result = original(*args, **kwargs)
    if when == "after" and len(calls) == nth:
        os.kill(os.getpid(), signal.SIGKILL)
    return result
setattr(module, name, wrapper)
install.install_snapshot(data, *snapshot_for(county, 2, extra_powers=3))
"""


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ("media", (1, 1)),
        ("rows", (1, 1)),
        ("built", (1, 1)),
        ("before-switch", (1, 1)),
        ("switched", (2, 4)),
        ("collecting", (2, 4)),
    ],
)
def test_sigkill_during_install_leaves_one_consistent_version(
    tmp_path: Path, county: Path, point: str, expected: tuple[int, int]
) -> None:
    data = tmp_path / "data"
    install_snapshot(data, *snapshot_for(county, 1))
    # Let version 1's photo be new to version 2, so the media step has work to do.
    (blob,) = (data / "media").iterdir()
    blob.unlink()
    root = Path(__file__).resolve().parent.parent
    child = subprocess.run(
        [sys.executable, "-c", CHILD, point, str(data), str(county)], cwd=root, capture_output=True, timeout=60
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()

    state = read_state(data)
    assert read_version(data) == expected
    for name in filter(None, state.values()):
        assert integrity(data / "content" / name) == "ok"

    # A later install completes and tidies what the crash left behind.
    final = install_snapshot(data, *snapshot_for(county, 3))
    assert read_version(data) == (3, 1) and database_version(final) == 3
    state = read_state(data)
    left = sorted(p.name for p in (data / "content").iterdir())
    assert left == sorted([".install.lock", "state.json", state["current"], state["previous"]]), "no leftovers"
    assert state["current"] == final.name


def test_lost_files_do_not_break_the_next_install_or_allow_a_rollback(tmp_path: Path, county: Path) -> None:
    data = tmp_path / "data"
    install_snapshot(data, *snapshot_for(county, 1))
    second = install_snapshot(data, *snapshot_for(county, 2))
    (data / "content" / read_state(data)["previous"]).unlink()  # e.g. removed by hand
    third = install_snapshot(data, *snapshot_for(county, 3))
    assert read_state(data) == {"current": third.name, "previous": second.name}
    third.unlink()
    with pytest.raises(InstallError, match="version 2 is older than the installed 3"):
        install_snapshot(data, *snapshot_for(county, 2))


def test_the_kiosk_shows_a_new_version_from_its_next_request(tmp_path: Path, county: Path) -> None:
    from kiosk.screens import create_app

    data = tmp_path / "data"
    install_snapshot(data, *snapshot_for(county, 1))
    client = create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "x"}).test_client()
    assert "内容更新于 2026年11月1日" in client.get("/").get_data(as_text=True)
    assert client.get("/powers/extra-0").status_code == 404
    install_snapshot(data, *snapshot_for(county, 2, extra_powers=1))
    assert "内容更新于 2026年11月2日" in client.get("/").get_data(as_text=True)
    assert client.get("/powers/extra-0").status_code == 200
