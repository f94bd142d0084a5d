"""The studio against a careless or hostile clerk: a form posted by hand, another township's item or
change, an import placed elsewhere; whatever is posted, nothing is read or written outside the
items' folders, and a township's accounts stay on their township's items."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from kiosk.county.store import open_store
from kiosk.county.studio import changes
from sync.authoring.history import History
from sync.contract.content import load_county
from tests.county_files import copy_demo
from tests.county_repo import CountyRepo
from tests.test_import_xlsx import power_row, write_sheet
from tests.test_staff import csrf_token
from tests.test_studio import ITEM, form_of, post, signed, studio  # noqa: F401 - studio: the fixture

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

YUNLING_ITEM = "yunling-huling-xuanpin"  # the demo's one item of 云岭乡 (yunling)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    content = copy_demo(tmp_path)
    History(content).start()
    return content


def open_changes(app: Flask) -> list[tuple[int, str, str, str, str | None]]:
    db = open_store(Path(app.config["DATA_DIR"]))
    try:
        rows = db.execute("select id, path, township, author, content from studio_changes order by id").fetchall()
        return [tuple(row) for row in rows]
    finally:
        db.close()


def test_a_form_posted_by_hand_reads_and_writes_no_file_but_its_items(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret.txt"  # beside the county's folders: e.g. the server's own settings
    secret.write_text("password = hunter2\n", encoding="utf-8")
    wang = signed(studio, "wang")
    fields = form_of(wang, f"/studio/powers/{ITEM}")
    base = History(county_repo.content).blob_of(secret.read_bytes())
    for path in ("../../secret.txt", str(secret), "county.yaml", ".git/config", "powers/../county.yaml"):
        answer = post(wang, "/studio/powers/save", {**fields, "path": path, "base": base, "submit": "1"})
        assert answer.status_code == 404, path  # type: ignore[attr-defined]
    assert open_changes(studio) == [], "no draft of any of them, so no page shows their text as a difference"
    assert secret.read_text(encoding="utf-8") == "password = hunter2\n"


def test_a_change_whose_file_is_not_an_item_is_neither_saved_nor_approved(tmp_path: Path, folder: Path) -> None:
    db = open_store(tmp_path / "county-server")
    try:
        with pytest.raises(changes.ChangeError) as refused:
            changes.save_draft(db, kind="power", path="../outside.yaml", item_id="x", title="x", township="", base="",
                               content="id: x\n", author="王芳", reason="")  # fmt: skip
        assert refused.value.code == "bad_path"
        # a change stored before paths were checked (or by hand in county.db): approving it writes nothing
        db.execute("insert into studio_changes (kind, path, item_id, title, base, content, state, author, created_at,"
                   " updated_at) values ('power', '../outside.yaml', 'x', 'x', '', 'id: x', 'submitted', '王芳',"
                   " '', '')")  # fmt: skip
        db.commit()
        with pytest.raises(changes.ChangeError) as refused:
            changes.approve(db, 1, "李审核", folder)
        assert refused.value.code == "bad_path"
        assert not (folder.parent / "outside.yaml").exists()
    finally:
        db.close()


def test_a_township_editor_cannot_take_a_county_item_into_its_township(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    sun = signed(studio, "sun")  # an editor of yunling only
    fields = form_of(sun, f"/studio/powers/{ITEM}")  # county-wide: every village's kiosk shows it
    taken = post(sun, "/studio/powers/save", {**fields, "fee": "每次十元", "township": "yunling", "submit": "1"})
    assert taken.status_code == 403 and "township yunling only" in taken.text  # type: ignore[attr-defined]
    assert open_changes(studio) == []
    own = form_of(sun, f"/studio/powers/{YUNLING_ITEM}")
    assert post(sun, "/studio/powers/save", {**own, "fee": "免费", "submit": "1"}).status_code == 302  # type: ignore[attr-defined]
    [(_id, _path, township, _author, _text)] = open_changes(studio)
    assert township == "yunling", "its own township's item: its own township's reviewers"


def test_moving_an_item_between_townships_is_for_a_reviewer_of_the_whole_county(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang = signed(studio, "wang")  # an editor of the whole county moves a county item into yunling
    fields = form_of(wang, f"/studio/powers/{ITEM}")
    assert post(wang, "/studio/powers/save", {**fields, "township": "yunling", "submit": "1"}).status_code == 302  # type: ignore[attr-defined]
    [(change_id, _path, township, _author, _text)] = open_changes(studio)
    assert township == "", "it leaves every other township's kiosks: not yunling's reviewers' to let in"
    zhao = signed(studio, "zhao")  # a reviewer of yunling
    assert f"/studio/changes/{change_id}" not in zhao.get("/studio/").text
    token = csrf_token(zhao, "/studio/")
    assert zhao.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": token}).status_code == 404
    li = signed(studio, "li")  # a reviewer of the whole county
    approved = li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    assert approved.status_code == 302
    assert "township: yunling" in (county_repo.content / "powers" / f"{ITEM}.yaml").read_text(encoding="utf-8")


def test_a_township_editor_cannot_save_over_another_townships_change(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang = signed(studio, "wang")
    fields = form_of(wang, f"/studio/powers/{ITEM}")
    assert post(wang, "/studio/powers/save", {**fields, "fee": "免费", "submit": "1"}).status_code == 302  # type: ignore[attr-defined]
    [(change_id, path, _township, _author, text)] = open_changes(studio)
    sun = signed(studio, "sun")
    hijack = {**fields, "change": str(change_id), "revision": "1", "fee": "每次十元", "township": "yunling"}
    assert post(sun, "/studio/powers/save", hijack).status_code == 404  # type: ignore[attr-defined]
    # nor by naming its own change while posting another item's file
    own = form_of(sun, f"/studio/powers/{YUNLING_ITEM}")
    assert post(sun, "/studio/powers/save", {**own, "fee": "免费"}).status_code == 302  # type: ignore[attr-defined]
    mine = max(row[0] for row in open_changes(studio))
    crafted = {**own, "change": str(mine), "revision": "1", "path": path, "fee": "每次十元"}
    assert post(sun, "/studio/powers/save", crafted).status_code == 302  # type: ignore[attr-defined]
    rows = {row[0]: row for row in open_changes(studio)}
    assert rows[change_id][1:] == (path, "", "wang", text), "wang's change is as wang left it"
    assert rows[mine][1] == f"powers/{YUNLING_ITEM}.yaml", "a change keeps its own file"


def test_a_township_editor_imports_only_into_its_own_township(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
    tmp_path: Path,
) -> None:
    rows = [power_row(1), power_row(2, 权力名称="村级财务开支审批")]  # a new item, and the county's own item
    sheet = write_sheet(tmp_path / "清单.xlsx", rows)
    sun = signed(studio, "sun")
    token = csrf_token(sun, "/studio/import")
    place = {"place": "township:qingxi", "area": ""}  # another township, posted by hand
    with sheet.open("rb") as file:
        preview = sun.post("/studio/import", data={"sheet": (file, "清单.xlsx"), "csrf_token": token, **place},
                           content_type="multipart/form-data")  # fmt: skip
    made = re.search(r'action="(/studio/import/[^"]+)"', preview.text)
    assert made is not None, preview.text
    done = sun.post(made.group(1), data={"name": "清单.xlsx", "csrf_token": token, **place}, follow_redirects=True)
    assert "township yunling only" in done.text
    assert {row[2] for row in open_changes(studio)} <= {"yunling"}, "no draft for another township or the county"


def test_a_reviewer_approves_the_change_they_saw_not_one_saved_after(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang = signed(studio, "wang")
    fields = form_of(wang, f"/studio/powers/{ITEM}")
    assert post(wang, "/studio/powers/save", {**fields, "fee": "免费", "submit": "1"}).status_code == 302  # type: ignore[attr-defined]
    [(change_id, *_rest)] = open_changes(studio)
    li = signed(studio, "li")
    page = li.get(f"/studio/changes/{change_id}").text
    assert "+fee: 免费" in page
    seen = dict(re.findall(r'<input type="hidden" name="(csrf_token|revision)" value="([^"]*)"', page))
    # while li reads it, the submitted change is saved again: it stays submitted, with another fee
    again = form_of(wang, f"/studio/powers/{ITEM}")
    assert post(wang, "/studio/powers/save", {**again, "fee": "每户每次一百元"}).status_code == 302  # type: ignore[attr-defined]
    approved = li.post(f"/studio/changes/{change_id}/approve", data=seen, follow_redirects=True)
    assert "after you opened it" in approved.text
    assert "fee: 不收费" in (county_repo.content / "powers" / f"{ITEM}.yaml").read_text(encoding="utf-8")
    page = li.get(f"/studio/changes/{change_id}").text  # looked at again, it is let in as it now is
    assert "+fee: 每户每次一百元" in page
    seen = dict(re.findall(r'<input type="hidden" name="(csrf_token|revision)" value="([^"]*)"', page))
    assert li.post(f"/studio/changes/{change_id}/approve", data=seen).status_code == 302
    assert "fee: 每户每次一百元" in (county_repo.content / "powers" / f"{ITEM}.yaml").read_text(encoding="utf-8")


def test_when_git_fails_the_approval_says_so_and_the_folder_holds_only_what_is_recorded(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang = signed(studio, "wang")
    fields = form_of(wang, f"/studio/powers/{ITEM}")
    assert post(wang, "/studio/powers/save", {**fields, "fee": "免费", "submit": "1"}).status_code == 302  # type: ignore[attr-defined]
    [(change_id, *_rest)] = open_changes(studio)
    file = county_repo.content / "powers" / f"{ITEM}.yaml"
    lock = county_repo.content / ".git" / "refs" / "heads" / "main.lock"  # as a git killed mid-commit leaves it
    lock.write_text("", encoding="utf-8")
    li = signed(studio, "li")
    token = csrf_token(li, "/studio/")
    failed = li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": token}, follow_redirects=True)
    assert failed.status_code == 200 and "git commit failed" in failed.text and "main.lock" in failed.text
    assert "fee: 不收费" in file.read_text(encoding="utf-8"), "no unrecorded, unapproved file for a publish to take"
    assert "submitted, waiting for review" in failed.text
    assert li.get("/studio/history").status_code == 200
    lock.unlink()
    assert li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": token}).status_code == 302
    assert "fee: 免费" in file.read_text(encoding="utf-8")
    assert History(county_repo.content).log(limit=1)[0].author == "wang"


def test_a_broken_history_is_said_on_the_page_not_a_server_error(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang = signed(studio, "wang")
    fields = form_of(wang, f"/studio/powers/{ITEM}")
    assert post(wang, "/studio/powers/save", {**fields, "fee": "免费", "submit": "1"}).status_code == 302  # type: ignore[attr-defined]
    [(change_id, *_rest)] = open_changes(studio)
    (county_repo.content / ".git" / "HEAD").write_text("garbage\n", encoding="utf-8")  # e.g. a disk that filled
    li = signed(studio, "li")
    history = li.get("/studio/history")
    assert history.status_code == 200 and "not a git repository" in history.text
    token = csrf_token(li, "/studio/")
    failed = li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": token}, follow_redirects=True)
    assert failed.status_code == 200 and "not a git repository" in failed.text
    assert "fee: 不收费" in (county_repo.content / "powers" / f"{ITEM}.yaml").read_text(encoding="utf-8")


def test_an_items_id_stays_the_one_its_file_names(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang = signed(studio, "wang")
    fields = form_of(wang, f"/studio/powers/{ITEM}")
    copied = post(wang, "/studio/powers/save", {**fields, "id": "dibao-shenqing", "fee": "免费", "submit": "1"})
    assert copied.status_code == 302  # type: ignore[attr-defined]
    [(change_id, path, _township, _author, text)] = open_changes(studio)
    assert path == f"powers/{ITEM}.yaml" and f"id: {ITEM}\n" in (text or "")
    li = signed(studio, "li")
    assert (
        li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")}).status_code
        == 302
    )
    load_county(county_repo.content)  # no id used twice: the folder still publishes


def test_a_table_of_more_items_than_the_studio_makes_drafts_of_is_refused_before_any_draft(
    studio: Flask,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kiosk.county.studio import imports

    monkeypatch.setattr(imports, "MAX_DRAFTS", 5)  # the real cap is 2,000 items; a sheet of 2,001 rows takes long
    sheet = write_sheet(tmp_path / "清单.xlsx", [power_row(n) for n in range(1, 7)])
    wang = signed(studio, "wang")
    token = csrf_token(wang, "/studio/import")
    with sheet.open("rb") as file:
        answer = wang.post("/studio/import", data={"sheet": (file, "清单.xlsx"), "csrf_token": token},
                           content_type="multipart/form-data")  # fmt: skip
    assert answer.status_code == 422 and "The table holds 6 items" in answer.text and "at most 5 drafts" in answer.text
    db = open_store(Path(studio.config["DATA_DIR"]))
    try:
        assert db.execute("select count(*) from studio_changes").fetchone()[0] == 0
    finally:
        db.close()
    assert not list((Path(studio.config["DATA_DIR"]) / "studio-imports").glob("*.xlsx")), "the upload is not kept"


def test_a_save_that_comes_while_its_change_is_being_approved_waits_and_then_is_told(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    wang, li = signed(studio, "wang"), signed(studio, "li")
    fields = form_of(wang, f"/studio/powers/{ITEM}")
    assert post(wang, "/studio/powers/save", {**fields, "fee": "免费", "submit": "1"}).status_code == 302  # type: ignore[attr-defined]
    [change_id] = re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)
    again = form_of(wang, f"/studio/powers/{ITEM}")  # the draft, as its author opens it once more
    recording, go = threading.Event(), threading.Event()
    record = History.record

    def slow_record(self: History, *args: object, **kwargs: object) -> object:
        recording.set()
        assert go.wait(10)
        return record(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(History, "record", slow_record)
    token = csrf_token(li, "/studio/")
    answers: dict[str, object] = {}
    approving = threading.Thread(target=lambda: answers.update(
        approve=li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": token})))  # fmt: skip
    approving.start()
    assert recording.wait(10)
    saving = threading.Thread(target=lambda: answers.update(save=post(wang, "/studio/powers/save",
                                                                      {**again, "fee": "另收费"})))  # fmt: skip
    saving.start()
    saving.join(0.5)
    assert saving.is_alive(), "the save waits while the change is written and recorded"
    go.set()
    approving.join(10)
    saving.join(10)
    assert answers["approve"].status_code == 302  # type: ignore[attr-defined]
    assert answers["save"].status_code == 409  # type: ignore[attr-defined]
    assert "approved, published or withdrawn already" in answers["save"].text  # type: ignore[attr-defined]
    db = open_store(Path(studio.config["DATA_DIR"]))
    try:
        [change] = changes.listed(db, ("approved",))
    finally:
        db.close()
    assert "fee: 免费" in (change.content or "") and "另收费" not in (change.content or "")
    assert "fee: 免费" in (county_repo.content / "powers" / f"{ITEM}.yaml").read_text(encoding="utf-8")
