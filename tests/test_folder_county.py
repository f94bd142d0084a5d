"""The county the studio's preview reads, kept up to date as the content folder's history moves: after an
approval or a hand edit only the changed files are read again, and the result is what a full load gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sync.authoring import folder_county
from sync.authoring.folder_county import FolderCounty
from sync.authoring.history import History
from sync.contract.content import ContentInvalid, County, load_county
from tests.test_content_history import POWER, edit, folder  # noqa: F401  (the fixture)

NOTICE = "notices/fanghuo-yunling-2026.md"


def _by_id(listed: list[Any]) -> dict[str, Any]:
    return {item["id"]: item for item in listed}


def _same(one: County, other: County) -> None:
    assert _by_id(one.powers) == _by_id(other.powers) and _by_id(one.notices) == _by_id(other.notices)
    assert one.contacts == other.contacts and one.catalogue == other.catalogue and one.ten_ones == other.ten_ones


def test_approvals_and_hand_edits_are_read_file_by_file_as_a_full_load_reads_them(
    folder: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = History(folder)
    history.start()
    kept = FolderCounty(folder)
    first_state, _county = kept.current()
    assert kept.current()[0] == first_state, "the same state: nothing read again"

    loads: list[Path] = []

    def counted_load(root: Path, reader: Any = None) -> County:
        loads.append(root)
        return load_county(root, reader)

    monkeypatch.setattr(folder_county, "load_county", counted_load)
    edit(folder, POWER, "fee: 不收费", "fee: 每份2元")  # approved: written, then recorded
    history.record([POWER], "王芳", "收费调整", "李审核")
    edit(folder, "contacts.yaml", "24小时", "全天24小时")  # by hand, not recorded yet
    (folder / NOTICE).unlink()
    (folder / "powers" / ".caiwu.yaml.swp").write_bytes(b"\0editor")
    state, county = kept.current()
    assert state != first_state and loads == [], "read file by file, not loaded again"
    _same(county, load_county(folder))
    assert next(p for p in county.powers if p["id"] == "caiwu-kaizhi-shenpi")["fee"] == "每份2元"
    assert "fanghuo-yunling-2026" not in {n["id"] for n in county.notices}

    edit(folder, "county.yaml", "name: 梨花村", "name: 梨花村（新）")  # everything depends on it
    kept.current()
    assert loads == [folder], "county.yaml: the whole folder again"


def test_a_changed_file_with_a_problem_is_refused_and_nothing_half_read_is_kept(folder: Path) -> None:  # noqa: F811
    History(folder).start()
    kept = FolderCounty(folder)
    kept.current()
    edit(folder, POWER, "fee: 不收费", "fee: [不收费]")
    with pytest.raises(ContentInvalid) as refused:
        kept.current()
    assert [problem.path for problem in refused.value.problems] == [POWER]
    edit(folder, POWER, "fee: [不收费]", "fee: 不收费")
    _same(kept.current()[1], load_county(folder))
