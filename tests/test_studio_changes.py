"""The studio's drafts: one open change per file, saves that cannot silently overwrite each other,
review by someone else, and an approval that writes the file and records it, or refuses a conflict."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.county.store import open_store
from kiosk.county.studio import changes
from sync.authoring.history import History
from tests.county_files import copy_demo

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

PATH = "powers/caiwu-kaizhi-shenpi.yaml"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_store(tmp_path / "county-server")
    yield connection
    connection.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    content = copy_demo(tmp_path)
    History(content).start()
    return content


def draft(db: sqlite3.Connection, folder: Path, author: str = "王芳", fee: str = "免费") -> changes.Change:
    text = (folder / PATH).read_text(encoding="utf-8")
    return changes.save_draft(
        db, kind="power", path=PATH, item_id="caiwu-kaizhi-shenpi", title="村级财务开支审批", township="",
        base=History(folder).blob(PATH), content=text.replace("fee: 不收费", f"fee: {fee}"), author=author,
        reason="按县财政局通知改收费标准",
    )  # fmt: skip


def test_an_approved_change_is_in_the_folder_with_its_author_reviewer_and_reason(
    db: sqlite3.Connection, folder: Path
) -> None:
    change = draft(db, folder)
    assert "fee: 不收费" in (folder / PATH).read_text(encoding="utf-8"), "a draft leaves the folder as it is"
    changes.submit(db, change.id, "王芳")
    with pytest.raises(changes.ChangeError, match="another reviewer approves it") as own:
        changes.approve(db, change.id, "王芳", folder)
    assert own.value.code == "own_change"
    commit = changes.approve(db, change.id, "李审核", folder, note="同意")
    assert "fee: 免费" in (folder / PATH).read_text(encoding="utf-8")
    latest = History(folder).log(limit=1)[0]
    assert (latest.commit, latest.author, latest.committer) == (commit, "王芳", "李审核")
    assert latest.reason.startswith("按县财政局通知改收费标准") and f"Studio-change: {change.id}" in latest.reason
    approved = changes.get(db, change.id)
    assert approved is not None and (approved.state, approved.reviewer, approved.commit_id) == (
        "approved",
        "李审核",
        commit,
    )
    actions = [row[0] for row in db.execute("select action from audit_log where target_kind = 'power' order by id")]
    assert actions == ["studio.draft", "studio.submit", "studio.approve"]
    assert changes.mark_published(db, 7, "赵发布") == 1
    published = changes.get(db, change.id)
    assert published is not None and published.state == "published"


def test_a_file_has_one_open_change_and_a_stale_save_is_refused_not_lost(db: sqlite3.Connection, folder: Path) -> None:
    first = draft(db, folder)
    with pytest.raises(changes.ChangeError, match="王芳 is already changing this item") as second:
        draft(db, folder, author="张三")
    assert second.value.code == "open_elsewhere"
    text = first.content or ""
    saved = changes.save_draft(
        db, kind="power", path=PATH, item_id="caiwu-kaizhi-shenpi", title="村级财务开支审批", township="",
        base=first.base, content=text.replace("免费", "每份2元"), author="张三", reason="改", change_id=first.id,
        revision=first.revision,
    )  # fmt: skip
    assert saved.revision == first.revision + 1 and "每份2元" in (saved.content or "")
    with pytest.raises(changes.ChangeError, match="张三 saved this change") as stale:
        changes.save_draft(
            db, kind="power", path=PATH, item_id="caiwu-kaizhi-shenpi", title="村级财务开支审批", township="",
            base=first.base, content=text.replace("免费", "每份3元"), author="王芳", reason="改", change_id=first.id,
            revision=first.revision,
        )  # fmt: skip
    assert stale.value.code == "stale"
    kept = changes.get(db, first.id)
    assert kept is not None and "每份2元" in (kept.content or ""), "the later save is kept, the stale one refused"


def test_a_change_to_a_file_that_changed_meanwhile_is_a_conflict(db: sqlite3.Connection, folder: Path) -> None:
    change = draft(db, folder)
    changes.submit(db, change.id, "王芳")
    hand = (folder / PATH).read_text(encoding="utf-8").replace("time_limit: 票据取得后30日内报账", "time_limit: 15日内")
    (folder / PATH).write_text(hand, encoding="utf-8")  # edited by hand after the draft began
    with pytest.raises(changes.ChangeError, match="changed in the content folder after this draft began") as refused:
        changes.approve(db, change.id, "李审核", folder)
    assert refused.value.code == "conflict"
    assert (folder / PATH).read_text(encoding="utf-8") == hand, "nothing overwritten"
    assert History(folder).log(limit=1)[0].author == "(edited outside the studio)", "the hand edit is recorded"
    still = changes.get(db, change.id)
    assert still is not None and still.state == "submitted"


def test_sending_back_needs_a_reason_and_the_author_submits_again(db: sqlite3.Connection, folder: Path) -> None:
    change = draft(db, folder)
    with pytest.raises(changes.ChangeError, match="only a submitted change"):
        changes.send_back(db, change.id, "李审核", "收费依据不全")
    changes.submit(db, change.id, "王芳")
    with pytest.raises(changes.ChangeError, match="say why"):
        changes.send_back(db, change.id, "李审核", "  ")
    changes.send_back(db, change.id, "李审核", "请附上县财政局文件号")
    returned = changes.get(db, change.id)
    assert returned is not None and (returned.state, returned.note) == ("returned", "请附上县财政局文件号")
    assert [c.id for c in changes.listed(db, ("returned",))] == [change.id]
    changes.submit(db, change.id, "王芳")
    assert changes.approve(db, change.id, "李审核", folder) is not None


def test_an_approval_cut_short_after_the_commit_is_finished_by_the_next_one(
    db: sqlite3.Connection, folder: Path
) -> None:
    change = draft(db, folder)
    changes.submit(db, change.id, "王芳")
    (folder / PATH).write_text(change.content or "", encoding="utf-8")  # as an approval killed after writing
    History(folder).record([PATH], "王芳", "cut short", "李审核")
    assert changes.approve(db, change.id, "李审核", folder) is None, "nothing left to write or record"
    done = changes.get(db, change.id)
    assert done is not None and done.state == "approved"
