"""The content folder's history: every change a commit with its author, reason and diff; hand edits
recorded too; a change taken back by a new commit; nothing git would read as an option gets through."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from sync.authoring.history import FIRST, HAND_EDIT, History, HistoryError, RevertConflict
from tests.county_files import copy_demo

POWER = "powers/caiwu-kaizhi-shenpi.yaml"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return copy_demo(tmp_path)


def edit(folder: Path, path: str, old: str, new: str) -> None:
    file = folder / path
    text = file.read_text(encoding="utf-8")
    assert old in text
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_change_is_a_commit_with_its_author_reviewer_reason_and_diff(folder: Path) -> None:
    history = History(folder)
    history.start()
    first = history.head()
    edit(folder, POWER, "fee: 不收费", "fee: 免费")
    made = history.record([POWER], "王芳", "按县财政局通知改收费标准", committer="李审核")
    assert made is not None and made != first
    latest, before = history.log(limit=2)
    assert (latest.commit, latest.author, latest.committer) == (made, "王芳", "李审核")
    assert latest.reason == "按县财政局通知改收费标准"
    assert before.author == FIRST and before.commit == first
    diff = history.diff(made)
    assert f"+++ b/{POWER}" in diff and "-fee: 不收费" in diff and "+fee: 免费" in diff
    assert b"fee: \xe4\xb8\x8d\xe6\x94\xb6\xe8\xb4\xb9" in (history.file_at(first or "", POWER) or b"")  # 不收费
    assert history.file_at(made, "powers/no-such-item.yaml") is None
    assert [entry.commit for entry in history.log(POWER)] == [made, first]
    assert history.record([POWER], "王芳", "nothing changed") is None, "no empty commits"


def test_starting_twice_keeps_the_history_and_an_existing_repository_is_used_as_it_is(folder: Path) -> None:
    History(folder).start()
    edit(folder, POWER, "fee: 不收费", "fee: 免费")
    made = History(folder).record([POWER], "王芳", "改")
    History(folder).start()
    assert History(folder).head() == made and len(History(folder).log()) == 2


def test_hand_edits_are_recorded_before_the_next_change_and_leftovers_are_not(folder: Path) -> None:
    history = History(folder)
    history.start()
    edit(folder, "county.yaml", "\n", "\n# 手工改的注释\n")
    (folder / "powers" / ".caiwu-kaizhi-shenpi.yaml.swp").write_bytes(b"vim")
    (folder / "powers" / "~$清单.xlsx").write_bytes(b"excel")
    hand = history.record_hand_edits()
    assert hand is not None and history.log(limit=1)[0].author == HAND_EDIT
    shown = history.diff(hand)
    assert "county.yaml" in shown and ".swp" not in shown and "xlsx" not in shown
    assert history.record_hand_edits() is None


def test_a_change_is_taken_back_by_a_new_commit_unless_a_later_one_touched_the_same_lines(folder: Path) -> None:
    history = History(folder)
    history.start()
    edit(folder, POWER, "fee: 不收费", "fee: 免费")
    fee = history.record([POWER], "王芳", "改收费")
    edit(folder, POWER, "name: 村级财务开支审批", "name: 村级财务开支审批事项")
    history.record([POWER], "王芳", "改名称")
    assert fee is not None
    back = history.revert(fee, "李审核", "收费标准改错了")
    text = (folder / POWER).read_text(encoding="utf-8")
    assert "fee: 不收费" in text and "name: 村级财务开支审批事项" in text, "only the one change is taken back"
    assert history.log(limit=1)[0].commit == back and history.log(limit=1)[0].reason == "收费标准改错了"
    with pytest.raises(HistoryError, match="already been taken back"):
        history.revert(fee, "李审核", "again")

    edit(folder, POWER, "fee: 不收费", "fee: 每份5元")
    later = history.record([POWER], "王芳", "又改收费")
    edit(folder, POWER, "fee: 每份5元", "fee: 每份10元")
    history.record([POWER], "赵六", "再改")
    assert later is not None
    before = (folder / POWER).read_text(encoding="utf-8")
    with pytest.raises(RevertConflict, match="later change touched the same lines"):
        history.revert(later, "李审核", "撤回")
    assert (folder / POWER).read_text(encoding="utf-8") == before, "the folder is left as it was"
    status = subprocess.run(["git", "status", "--porcelain"], cwd=folder, capture_output=True, text=True, check=True)
    assert status.stdout == ""


@pytest.mark.parametrize("commit", ["--output=/tmp/x", "HEAD", "a" * 39, "G" * 40])
def test_only_a_full_commit_id_is_taken_from_outside(folder: Path, commit: str) -> None:
    history = History(folder)
    history.start()
    with pytest.raises(HistoryError, match="is not a commit"):
        history.diff(commit)
    with pytest.raises(HistoryError, match="is not a commit"):
        history.revert(commit, "x", "y")


def test_changes_made_at_once_from_many_threads_are_each_recorded(folder: Path) -> None:
    history = History(folder)
    history.start()
    paths = [f"powers/caiwu-kaizhi-shenpi-{number}.yaml" for number in range(8)]
    errors: list[BaseException] = []

    def change(path: str) -> None:
        try:
            with history.lock():
                (folder / path).write_text((folder / POWER).read_text(encoding="utf-8"), encoding="utf-8")
                history.record([path], "王芳", f"add {path}")
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=change, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(entry.reason for entry in history.log(limit=20) if entry.author == "王芳") == sorted(
        f"add {path}" for path in paths
    )
