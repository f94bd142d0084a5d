"""An install is O(change) (issue 17): a night that changed a few power items, notices or catalogue items
copies the installed version and writes only those items (sync/receive/patch.py). What it installs is what a
whole install of the same content holds, row for row and word for word in the search index; the version it
replaces is kept untouched as N-1; and a change a patch cannot carry, or a kept shard that is gone or damaged,
installs the whole version as before."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import sync.receive.install
import sync.receive.patch
from sync.contract.channel import read_shard
from sync.receive.install import current_database, read_state
from sync.receive.updater import init_kiosk, sync_kiosk
from tests.county_repo import VILLAGE, CountyRepo

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)
NEW_NOTICE = """---
id: shuili-2026-12-taoyuan
domain: 村务
title: 桃源村冬修水利投工公示
village: taoyuan
published: "2026-11-18"
expires: "2026-12-30"
photos:
  - media/notice-fanghuo.jpg
---
冬修水利投工情况公示如下：东渠清淤120米。
"""


def content_of(path: Path) -> dict[str, Any]:
    """Every row of a content database, and every word its full-text indexes hold (term, row, column, place)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in connection.execute("select name from sqlite_master where type = 'table'")]
        found: dict[str, Any] = {
            table: sorted(map(repr, connection.execute(f"select * from {table}")))  # noqa: S608 - names from SQLite
            for table in tables
            if not table.startswith(("search_titles", "search_bodies", "search_initials"))
        }
        for index in ("search_titles", "search_bodies", "search_initials"):
            connection.execute(f"create virtual table temp.{index}_words using fts5vocab(main, {index}, 'instance')")
            found[index] = connection.execute(f"select * from temp.{index}_words order by 1, 2, 3, 4").fetchall()  # noqa: S608
        return found
    finally:
        connection.close()


@pytest.fixture()
def writings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record how each install wrote its version: 'patch' or 'whole'."""
    done: list[str] = []
    for module, name, how in ((sync.receive.patch, "write_patched", "patch"),
                              (sync.receive.install, "write_database", "whole")):  # fmt: skip
        real = getattr(module, name)

        def recorded(*args: Any, real: Callable[..., Any] = real, how: str = how) -> Any:
            done.append(how)
            return real(*args)

        monkeypatch.setattr(module, name, recorded)
    return done


def whole_install(county_repo: CountyRepo, root: Path) -> Path:
    """Install the repository's content on a new kiosk, all of it: what a patch must equal."""
    init_kiosk(root, VILLAGE, str(county_repo.path), county_repo.root)
    assert sync_kiosk(root, now=NOW).outcome == "updated"
    installed = current_database(root)
    assert installed is not None
    return installed


def synced_whole(county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path, writings: list[str]) -> None:
    """Sync, and check the kiosk wrote its whole version, the same as a new kiosk's."""
    writings.clear()
    assert sync_kiosk(kiosk_data, now=NOW).outcome == "updated"
    assert writings == ["whole"]
    installed = current_database(kiosk_data)
    assert installed is not None
    assert content_of(installed) == content_of(whole_install(county_repo, tmp_path / "whole"))


def edit_power(county: CountyRepo) -> None:
    county.edit("powers/dibao-shenqing.yaml", "name: 最低生活保障申请", "name: 最低生活保障（低保）申请")


def add_notice(county: CountyRepo) -> None:
    (county.content / "notices" / "shuili-2026-12-taoyuan.md").write_text(NEW_NOTICE, encoding="utf-8")


def remove_notice(county: CountyRepo) -> None:
    (county.content / "notices" / "caiwu-2026-10-taoyuan.md").unlink()  # the one notice showing its photo


def edit_catalogue(county: CountyRepo) -> None:
    county.edit("catalogue/01-zhongda-jianshe.yaml", "level2: 审批、核准、备案结果", "level2: 审批核准备案的结果")


def edit_power_and_add_notice(county: CountyRepo) -> None:
    edit_power(county)
    add_notice(county)


@pytest.mark.parametrize("change", [edit_power, add_notice, remove_notice, edit_catalogue, edit_power_and_add_notice])
def test_a_patched_version_holds_what_a_whole_install_holds(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path, writings: list[str], change: Callable[..., Any]
) -> None:
    assert sync_kiosk(kiosk_data, now=NOW).outcome == "updated"
    change(county_repo)
    county_repo.publish()
    writings.clear()
    result = sync_kiosk(kiosk_data, now=NOW)
    assert result.outcome == "updated" and result.error is None, result.error
    assert writings == ["patch"], "only the items that changed were written"
    patched = current_database(kiosk_data)
    assert patched is not None
    assert content_of(patched) == content_of(whole_install(county_repo, tmp_path / "whole"))


def test_search_finds_a_patched_item_by_its_new_words_and_no_longer_by_its_old(
    county_repo: CountyRepo, kiosk_data: Path, writings: list[str]
) -> None:
    from kiosk.data.queries import search

    assert sync_kiosk(kiosk_data, now=NOW).outcome == "updated"
    edit_power(county_repo)
    add_notice(county_repo)
    county_repo.publish()
    assert sync_kiosk(kiosk_data, now=NOW).outcome == "updated"
    assert writings[-1] == "patch"
    installed = current_database(kiosk_data)
    assert installed is not None
    with sqlite3.connect(f"file:{installed}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        found = {(r["kind"], r["item_id"]) for r in search(db, "低保）", NOW)}
        assert ("power", "dibao-shenqing") in found
        assert ("notice", "shuili-2026-12-taoyuan") in {(r["kind"], r["item_id"]) for r in search(db, "冬修", NOW)}
        assert ("notice", "shuili-2026-12-taoyuan") in {(r["kind"], r["item_id"]) for r in search(db, "dxsl", NOW)}
        photos = db.execute("select photos from notices where id = 'shuili-2026-12-taoyuan'").fetchone()[0]
        assert db.execute("select count(*) from qr_codes where item_id = 'shuili-2026-12-taoyuan'").fetchone()[0] == 1
    blob = photos.strip('[]"')
    assert (kiosk_data / "media" / blob).is_file(), "the new notice's photo is stored"


def test_the_version_a_patch_replaces_is_kept_untouched_as_the_previous(
    county_repo: CountyRepo, kiosk_data: Path, writings: list[str]
) -> None:
    assert sync_kiosk(kiosk_data, now=NOW).outcome == "updated"
    first = current_database(kiosk_data)
    assert first is not None
    before = hashlib.sha256(first.read_bytes()).hexdigest()
    edit_power(county_repo)
    county_repo.publish()
    assert sync_kiosk(kiosk_data, now=NOW).outcome == "updated"
    assert writings[-1] == "patch"
    assert read_state(kiosk_data)["previous"] == first.name
    assert hashlib.sha256(first.read_bytes()).hexdigest() == before


def test_a_change_a_patch_cannot_carry_installs_the_whole_version(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path, writings: list[str]
) -> None:
    """A contact fills power items' supervisors: the whole version is written again."""
    assert sync_kiosk(kiosk_data, now=NOW).outcome == "updated"
    text = (county_repo.content / "contacts.yaml").read_text(encoding="utf-8")
    phone = text.split("phone: ", 1)[1].split("\n", 1)[0]
    county_repo.edit("contacts.yaml", f"phone: {phone}", "phone: 0571-88880000")
    edit_power(county_repo)
    county_repo.publish()
    synced_whole(county_repo, kiosk_data, tmp_path, writings)


@pytest.mark.parametrize("damage", ["lost", "damaged"])
def test_a_kept_shard_lost_or_damaged_installs_the_whole_version(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path, writings: list[str], damage: str
) -> None:
    assert sync_kiosk(kiosk_data, now=NOW).outcome == "updated"
    installed = current_database(kiosk_data)
    with sqlite3.connect(f"file:{installed}?mode=ro", uri=True) as db:
        shards = [row[0] for row in db.execute("select sha256 from targets where path like '%/shard-%'")]
    edit_power(county_repo)
    county_repo.publish()
    for sha256 in shards:  # the shards the installed version was built from, kept to compare with
        kept = kiosk_data / "tuf" / "targets" / sha256
        if damage == "lost":
            kept.unlink()
        else:
            kept.write_bytes(kept.read_bytes()[:-10] + b"0123456789")
    synced_whole(county_repo, kiosk_data, tmp_path, writings)


def test_a_patch_that_fails_leaves_the_installed_content_and_no_leftovers(
    county_repo: CountyRepo, kiosk_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sync_kiosk(kiosk_data, now=NOW).outcome == "updated"
    installed = current_database(kiosk_data)
    edit_power(county_repo)
    county_repo.publish()

    def full_disk(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sync.receive.patch, "update_qr_codes", full_disk)
    result = sync_kiosk(kiosk_data, now=NOW)
    assert result.outcome == "failed" and "No space left on device" in str(result.error)
    assert current_database(kiosk_data) == installed
    assert sorted(f.name for f in (kiosk_data / "content").iterdir()) == sorted(
        [".install.lock", "state.json", installed.name if installed else ""]
    )
    monkeypatch.undo()
    assert sync_kiosk(kiosk_data, now=NOW).outcome == "updated"


def test_a_new_notice_leaves_every_other_notice_where_it_was(county_repo: CountyRepo) -> None:
    """Notices are ordered by day, not by file: a new one moves no other notice (nor changes its shard)."""
    from sync.contract.content import load_county
    from sync.publish.bundle import build_bundles

    def orders() -> dict[str, int]:
        bundles = build_bundles(load_county(county_repo.content))
        return {
            item["id"]: item["order"]
            for bundle in bundles.values()
            for shard in bundle.shards.values()
            for item in read_shard(shard)
            if item["kind"] == "notice"
        }

    before = orders()
    add_notice(county_repo)
    after = orders()
    assert set(after) - set(before) == {"shuili-2026-12-taoyuan"}
    assert {key: after[key] for key in before} == before
    published = {n["id"]: n["published"] for n in load_county(county_repo.content).notices}
    newest_first = [published[key] for key in sorted(after, key=after.__getitem__)]
    assert newest_first == sorted(newest_first, reverse=True) and newest_first[0] > newest_first[-1]


def test_an_install_makes_its_next_batch_while_it_writes_one_and_stops_cleanly_on_a_failure() -> None:
    """A whole install's batches are made in a thread ahead of SQLite (patch._made_ahead): in order, at most two in
    memory, a failure in either thread raised in the install's, and no thread left behind."""
    import threading

    made: list[int] = []

    def batches(count: int, failing_at: int | None = None) -> Iterator[int]:
        try:
            for n in range(count):
                if n == failing_at:
                    raise KeyError("a category the list does not have")
                made.append(n)
                yield n
        finally:
            made.append(-1)  # closed

    threads = threading.active_count()
    taken = []
    for batch in sync.receive.patch._made_ahead(batches(6)):
        taken.append(batch)
        deadline = time.monotonic() + 5
        while len(made) < min(batch + 2, 6) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(made) == min(batch + 2, 6), "the next batch is made while this one is used, and no further one"
    assert taken == list(range(6)) and made[-1] == -1

    made.clear()
    with pytest.raises(KeyError, match="category"):
        list(sync.receive.patch._made_ahead(batches(6, failing_at=3)))
    assert made == [0, 1, 2, -1]

    made.clear()
    with pytest.raises(sqlite3.OperationalError):
        for _batch in sync.receive.patch._made_ahead(batches(1000)):
            raise sqlite3.OperationalError("database or disk is full")
    assert made[-1] == -1 and len(made) <= 3, "the thread stopped at its next batch"
    assert threading.active_count() == threads, "no thread left behind"
