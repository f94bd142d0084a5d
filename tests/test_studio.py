"""The studio in the county server: a clerk changes a power item in a form (no YAML), a reviewer of
its township approves it into the content folder, and roles and townships are kept to."""

from __future__ import annotations

import difflib
import html
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.county import create_county_app
from kiosk.county.repo_files import RepositoryApp
from kiosk.county.store import open_store
from kiosk.data import accounts
from kiosk.screens import create_app
from sync.authoring.history import History
from sync.contract.content import load_county
from sync.receive.updater import sync_kiosk
from tests.county_repo import CountyRepo
from tests.servers import serving
from tests.test_import_xlsx import CATALOGUE_ROWS, power_row, write_catalogue_sheet, write_sheet
from tests.test_staff import PASSWORD, csrf_token, sign_in

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

ITEM = "caiwu-kaizhi-shenpi"  # county-wide in the demo
VILLAGE_ITEM = "dibao-shenqing"


@pytest.fixture
def studio(county_repo: CountyRepo, tmp_path: Path) -> Flask:
    data = tmp_path / "county-server"
    app = create_county_app({"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(data), "SECRET_KEY": "s",
                             "DEFAULT_LOCALE": "en", "CONTENT_DIR": str(county_repo.content)})  # fmt: skip
    db = open_store(data)
    for name, role, township in (("wang", "editor", ""), ("li", "reviewer", ""), ("zhao", "reviewer", "yunling"),
                                 ("sun", "editor", "yunling"), ("chen", "staff", "")):  # fmt: skip
        accounts.add(db, name, role, PASSWORD, "(test)", roles=accounts.COUNTY_ROLES, township=township)
    db.close()
    return app


def signed(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


def form_of(client: FlaskClient, path: str) -> dict[str, str]:
    """Every field the item form at *path* would post as it is shown (its inputs, text areas and chosen options)."""
    return form_of_page(client, path, 'id="item-form"')


def form_of_page(client: FlaskClient, path: str, marker: str = 'class="staff-form studio-form"') -> dict[str, str]:
    """Every field the form marked *marker* on the page at *path* would post as it is shown."""
    return form_of_text(client.get(path).text, marker)


def form_of_text(page: str, marker: str = 'id="item-form"') -> dict[str, str]:
    """Every field the form marked *marker* in *page* would post as it is shown."""
    form = page[page.index(marker) : page.index("</form>", page.index(marker))]
    fields: dict[str, str] = {}
    for name, value in re.findall(r'<input[^>]* name="([^"]+)"[^>]* value="([^"]*)"', form):
        fields[name] = _unescape(value)
    for tag in re.findall(r"<input [^>]*>", form):
        if 'type="checkbox"' in tag and " checked" in tag:
            fields[re.search(r'name="([^"]+)"', tag).group(1)] = "on"  # type: ignore[union-attr]
    for name, value in re.findall(r'<textarea[^>]* name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        fields[name] = _unescape(value)
    for name, options in re.findall(r'<select[^>]* name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        fields[name] = chosen.group(1) if chosen else ""
    for name in ("save", "submit", "op"):
        fields.pop(name, None)
    return fields


def _unescape(text: str) -> str:
    return html.unescape(text)


def post(client: FlaskClient, path: str, fields: dict[str, str]) -> object:
    return client.post(path, data={**fields, "csrf_token": csrf_token(client, "/studio/powers")})


def test_a_clerk_changes_an_item_in_a_form_and_a_reviewer_approves_it_into_the_folder(
    studio: Flask, county_repo: CountyRepo
) -> None:
    wang = signed(studio, "wang")
    fields = form_of(wang, f"/studio/powers/{ITEM}")
    assert fields["name"] == "村级财务开支审批" and fields["supervision.phone"] == "0000-12388"
    assert fields["steps.1.then"] == "decide" and fields["steps.1.branches.1.to"] == "reject"
    saved = post(wang, "/studio/powers/save", {**fields, "fee": "免费", "reason": "按县财政局通知", "submit": "1"})
    assert saved.status_code == 302  # type: ignore[attr-defined]
    file = county_repo.content / "powers" / f"{ITEM}.yaml"
    assert "fee: 不收费" in file.read_text(encoding="utf-8"), "nothing reaches the folder before review"

    li = signed(studio, "li")
    home = li.get("/studio/").text
    assert "村级财务开支审批" in home and "Waiting for my review" in home
    change = re.search(r"/studio/changes/(\d+)", home)
    assert change is not None
    page = li.get(f"/studio/changes/{change.group(1)}").text
    assert "-fee: 不收费" in page and "+fee: 免费" in page and "flow-step" in page
    approved = li.post(f"/studio/changes/{change.group(1)}/approve",
                       data={"note": "同意", "csrf_token": csrf_token(li, "/studio/")})  # fmt: skip
    assert approved.status_code == 302
    text = file.read_text(encoding="utf-8")
    assert "fee: 免费" in text and 'phone: "0000-12388"' in text, "the changed field only; quoting kept"
    assert "# yaml-language-server" in text.splitlines()[0], "the file's comment is kept"
    latest = History(county_repo.content).log(limit=1)[0]
    assert (latest.author, latest.committer) == ("wang", "li") and latest.reason.startswith("按县财政局通知")
    load_county(county_repo.content)  # the folder still validates as kiosk county validate reads it
    history = li.get("/studio/history").text
    assert "按县财政局通知" in history and "approved by li" in history


def test_problems_are_shown_at_their_fields_in_plain_words_and_a_draft_with_problems_is_not_submitted(
    studio: Flask, county_repo: CountyRepo
) -> None:
    wang = signed(studio, "wang")
    fields = form_of(wang, f"/studio/powers/{ITEM}")
    broken = {**fields, "supervision.phone": "电话", "fee": "", "steps.2.then": "next", "submit": "1"}
    answer = post(wang, "/studio/powers/save", broken)
    page = answer.text  # type: ignore[attr-defined]
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert re.search(r'id="supervision.phone-error">[^<]*digits', page), "the phone's problem beside the phone"
    assert 'id="fee-error"' in page
    # the refusal step (the third) says nothing of where it goes: it would run on into the approval
    assert re.search(r'id="steps.2.id-error">[^<]*runs on into', page), "the fall-through is explained at its step"
    assert "“end” is “then the procedure ends”" in page
    assert "Saved as a draft, with problems" in page
    db = open_store(Path(studio.config["DATA_DIR"]))
    try:
        [state] = db.execute("select state from studio_changes").fetchone()
        assert state == "draft", "saved, not submitted"
    finally:
        db.close()
    assert "fee: 不收费" in (county_repo.content / "powers" / f"{ITEM}.yaml").read_text(encoding="utf-8")


def test_a_new_item_gets_its_id_from_its_name_and_steps_are_edited_with_buttons(studio: Flask) -> None:
    wang = signed(studio, "wang")
    fields = form_of(wang, "/studio/powers/new")
    typed = {**fields, "name": "农村危房改造申请", "category": "便民服务", "basis": "《农村危房改造管理办法》",
             "responsible": "村民委员会", "fee": "不收费", "time_limit": "20个工作日",
             "supervision.body": "村务监督委员会", "supervision.phone": "0571-12345678",
             "steps.0.title": "村民提出申请", "steps.0.actor": "申请人"}  # fmt: skip
    added = post(wang, "/studio/powers/save", {**typed, "op": "add"})
    assert added.status_code == 200  # type: ignore[attr-defined]
    redrawn = added.text  # type: ignore[attr-defined]
    assert 'name="steps.1.title"' in redrawn and 'value="村民提出申请"' in redrawn, "a step added, nothing lost"
    typed.update({"steps.1.title": "村委会审核", "steps.1.actor": "村民委员会", "steps.1.then": "end"})
    saved = post(wang, "/studio/powers/save", {**typed, "steps.1.id": "", "steps.1.then": "end"})
    assert saved.status_code == 302, saved.text  # type: ignore[attr-defined]
    location = saved.headers["Location"]  # type: ignore[attr-defined]
    assert location.endswith("/studio/powers/nongcun-weifang-gaizao-shenqing")
    draft = wang.get(location).text
    assert 'value="村委会审核"' in draft and "Draft 1" in draft, "the new item's draft opens in its form"
    hostile = post(wang, "/studio/powers/save", {**typed, "id": "../../county", "name": "另一个"})
    assert hostile.status_code == 422 and "only lower-case letters" in hostile.text  # type: ignore[attr-defined]


def test_roles_and_townships_are_kept_to(studio: Flask) -> None:
    chen = signed(studio, "chen")
    assert chen.get("/studio/").status_code == 403, "a dashboard account has no studio"
    sun = signed(studio, "sun")  # an editor of 云岭乡 (yunling) only
    fields = form_of(sun, f"/studio/powers/{ITEM}")
    refused = post(sun, "/studio/powers/save", {**fields, "fee": "免费"})
    assert refused.status_code == 403 and "township yunling only" in refused.text  # type: ignore[attr-defined]
    own = form_of(sun, "/studio/powers/yunling-huling-xuanpin")  # its own township's item
    mine = post(sun, "/studio/powers/save", {**own, "fee": "免费", "submit": "1"})
    assert mine.status_code == 302  # type: ignore[attr-defined]

    wang = signed(studio, "wang")
    other = form_of(wang, f"/studio/powers/{VILLAGE_ITEM}")
    assert post(wang, "/studio/powers/save", {**other, "fee": "免费", "submit": "1"}).status_code == 302  # type: ignore[attr-defined]
    zhao = signed(studio, "zhao")  # a reviewer of yunling
    waiting = zhao.get("/studio/").text
    ids = re.findall(r"/studio/changes/(\d+)", waiting)
    assert len(ids) == 1, "only its own township's change waits for it"
    token = csrf_token(zhao, "/studio/")
    db = open_store(Path(studio.config["DATA_DIR"]))
    try:
        [other_id] = db.execute("select id from studio_changes where item_id = ?", (VILLAGE_ITEM,)).fetchone()
    finally:
        db.close()
    assert zhao.post(f"/studio/changes/{other_id}/approve", data={"csrf_token": token}).status_code == 404
    assert zhao.post(f"/studio/changes/{ids[0]}/approve", data={"csrf_token": token}).status_code == 302


def test_an_excel_list_becomes_drafts_and_its_two_bad_rows_are_fixed_in_the_form(
    studio: Flask, county_repo: CountyRepo, tmp_path: Path
) -> None:
    rows = [power_row(n) for n in range(1, 21)]
    rows[6] = power_row(7, **{"办理时限": ""})  # the sheet's row 9: title and header rows come first
    rows[11] = power_row(12, **{"监督方式": "村务监督委员会"})  # no phone anywhere
    sheet = write_sheet(tmp_path / "清单.xlsx", rows)
    wang = signed(studio, "wang")
    token = csrf_token(wang, "/studio/import")
    with sheet.open("rb") as file:
        preview = wang.post("/studio/import", data={"sheet": (file, "清单.xlsx"), "csrf_token": token},
                            content_type="multipart/form-data")  # fmt: skip
    page = preview.text
    assert preview.status_code == 200 and "18 new, 0 changed, 0 unchanged" in page
    assert "row 9: 「办理时限」 is empty" in page and "row 14: no supervision phone" in page
    before = sorted(p.name for p in (county_repo.content / "powers").iterdir())
    made = re.search(r'action="(/studio/import/[^"]+)"', page)
    assert made is not None
    done = wang.post(made.group(1), data={"name": "清单.xlsx", "area": "", "csrf_token": token})
    assert done.status_code == 302
    assert sorted(p.name for p in (county_repo.content / "powers").iterdir()) == before, "drafts only"
    assert not list((Path(studio.config["DATA_DIR"]) / "studio-imports").iterdir()), "the upload is not kept"
    home = wang.get("/studio/").text
    assert home.count("/studio/changes/") == 20
    wang.post("/studio/submit-mine", data={"csrf_token": token})
    assert "18 submitted for review; 2 still have problems to fix." in wang.get("/studio/").text

    for item_id, field, value in (("cunji-shixiang-07-shenpi", "time_limit", "10个工作日"),
                                  ("cunji-shixiang-12-shenpi", "supervision.phone", "0000-5552411")):  # fmt: skip
        fields = form_of(wang, f"/studio/powers/{item_id}")
        assert fields["name"].startswith("村级事项") and fields[field] == ""
        fixed = post(wang, "/studio/powers/save", {**fields, field: value, "submit": "1"})
        assert fixed.status_code == 302, fixed.text  # type: ignore[attr-defined]

    li = signed(studio, "li")
    waiting = sorted(set(re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)), key=int)
    assert len(waiting) == 20
    review_token = csrf_token(li, "/studio/")
    for change_id in waiting:
        assert li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": review_token}).status_code == 302
    county = load_county(county_repo.content)  # the folder validates, as kiosk county validate reads it
    names = {power["name"] for power in county.powers}
    assert {f"村级事项{n:02d}审批" for n in range(1, 21)} <= names


@pytest.mark.parametrize("kind", ["not a table", "too large"])
def test_a_file_that_is_no_table_or_too_large_is_refused_with_a_reason(studio: Flask, kind: str) -> None:
    wang = signed(studio, "wang")
    token = csrf_token(wang, "/studio/import")
    content = b"PK\x03\x04 not really a workbook" if kind == "not a table" else b"x" * (5 * 1024 * 1024)
    # The body is made here, in memory: werkzeug's test client spools a large file to a temporary file it
    # never closes when the app refuses the request unread.
    boundary = "studio-test-boundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="sheet"; filename="list.xlsx"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n")  # fmt: skip
    body = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    answer = wang.post("/studio/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert answer.status_code == (422 if kind == "not a table" else 413)
    assert 'role="alert"' in answer.text
    assert ("larger than 4 MB" in answer.text) == (kind == "too large")
    stored = Path(studio.config["DATA_DIR"]) / "studio-imports"
    assert not stored.exists() or not list(stored.iterdir())


def with_publisher(studio: Flask, county_repo: CountyRepo) -> None:
    """Add zhou, a publisher of the whole county, and give the studio the repository's keys to sign with."""
    db = open_store(Path(studio.config["DATA_DIR"]))
    accounts.add(db, "zhou", "publisher", PASSWORD, "(test)", roles=accounts.COUNTY_ROLES)
    db.close()
    studio.config["KEYS_DIR"] = str(county_repo.keys)


def test_a_publisher_publishes_from_the_browser_and_a_kiosk_shows_the_change(
    studio: Flask, county_repo: CountyRepo, kiosk_data: Path
) -> None:
    with_publisher(studio, county_repo)
    wang, li, zhou = signed(studio, "wang"), signed(studio, "li"), signed(studio, "zhou")
    fields = form_of(wang, f"/studio/powers/{ITEM}")
    post(wang, "/studio/powers/save", {**fields, "steps.0.title": "经办人取得合法票据并签字", "submit": "1"})
    [change_id] = re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)
    assert li.get("/studio/publish").status_code == 403, "a reviewer does not publish"
    assert wang.post("/studio/publish", data={"csrf_token": csrf_token(wang, "/studio/")}).status_code == 403
    li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    waiting = zhou.get("/studio/publish").text
    assert "村级财务开支审批" in waiting
    before = county_repo.repository.snapshot().signed.version
    done = zhou.post("/studio/publish", data={"csrf_token": csrf_token(zhou, "/studio/publish")})
    assert done.status_code == 200 and f"Published version {before + 1}." in done.text
    assert re.search(r"<td>county</td><td>0</td><td>1</td><td>0</td>", done.text), "one county-wide item changed"
    assert "published" in subprocess.run(["git", "tag"], cwd=county_repo.content, capture_output=True, text=True,
                                         check=True).stdout  # fmt: skip
    with serving(RepositoryApp(county_repo.path)) as url:
        assert sync_kiosk(kiosk_data, url).outcome == "updated"
    kiosk = create_app({"TESTING": True, "DATA_DIR": str(kiosk_data), "SECRET_KEY": "x"}).test_client()
    page = kiosk.get(f"/powers/{ITEM}").get_data(as_text=True)
    assert "经办人取得合法票据并签字" in page and "flow-step" in page


def test_publishing_a_folder_with_a_problem_signs_nothing_and_says_where(
    studio: Flask, county_repo: CountyRepo
) -> None:
    with_publisher(studio, county_repo)
    county_repo.edit(f"powers/{ITEM}.yaml", "fee: 不收费", "fee: 12")  # by hand, outside the studio
    zhou = signed(studio, "zhou")
    before = county_repo.repository.snapshot().signed.version
    refused = zhou.post("/studio/publish", data={"csrf_token": csrf_token(zhou, "/studio/publish")})
    assert refused.status_code == 422 and f"powers/{ITEM}.yaml" in refused.text and "fee" in refused.text
    assert county_repo.repository.snapshot().signed.version == before


def test_a_draft_is_previewed_on_a_village_kiosk_before_review_and_nothing_is_published(
    studio: Flask, county_repo: CountyRepo
) -> None:
    wang = signed(studio, "wang")
    fields = form_of(wang, f"/studio/powers/{VILLAGE_ITEM}")
    post(wang, "/studio/powers/save", {**fields, "steps.0.title": "申请人向村委会提出书面申请（预览）"})
    [change_id] = re.findall(r"/studio/changes/(\d+)", wang.get("/studio/").text)
    chooser = wang.get(f"/studio/preview/{change_id}").text
    frame = re.search(r'<iframe class="kiosk-frame" src="([^"]+)"', chooser)
    assert frame is not None and frame.group(1).endswith(f"/powers/{VILLAGE_ITEM}")
    village = frame.group(1).split("/")[4]
    screen = wang.get(frame.group(1))
    page = screen.get_data(as_text=True)
    assert screen.status_code == 200 and "申请人向村委会提出书面申请（预览）" in page and "flow-step" in page
    assert "frame-ancestors 'self'" in screen.headers["Content-Security-Policy"]
    assert f'href="/studio/preview/{change_id}/{village}/static/kiosk.css' in page, "its links stay in the preview"
    home = wang.get(f"/studio/preview/{change_id}/{village}/")
    assert home.status_code == 200 and "桃源村" in home.get_data(as_text=True), "the village's own home screen"
    folder_now = wang.get(f"/studio/preview/0/{village}/powers/{VILLAGE_ITEM}").get_data(as_text=True)
    assert "（预览）" not in folder_now, "the folder as it is, without the draft"
    assert "（预览）" not in (county_repo.content / "powers" / f"{VILLAGE_ITEM}.yaml").read_text(encoding="utf-8")
    assert wang.get(f"/studio/preview/{change_id}/no-such-village/").status_code == 404
    sun = signed(studio, "sun")  # an editor of another township does not see this draft
    assert sun.get(f"/studio/preview/{change_id}").status_code == 404


@pytest.mark.parametrize(
    "line",
    ['name: "带引号的名称"', "name: 'it''s 名称'", "name: 名称 # 注释", "name: >-\n  折叠的\n  名称", 'name: "a\\"b"',
     "name: 名称\nname: 第二个"],
)  # fmt: skip
def test_the_list_reads_each_items_name_as_yaml_does_however_it_is_written(county_repo: CountyRepo, line: str) -> None:
    from sync.authoring import items
    from sync.contract.source import SourceError, read_yaml

    path = county_repo.content / "powers" / f"{ITEM}.yaml"
    path.write_text(re.sub(r"^name: .*$", lambda _m: line, path.read_text(encoding="utf-8"), flags=re.M), "utf-8")
    listed = {item.id: item.title for item in items.listed(county_repo.content, items.KINDS["power"])}
    try:
        expected: str | None = read_yaml(path, f"powers/{ITEM}.yaml").data["name"]
    except SourceError:
        expected = None  # a file validate refuses (a name given twice) is not listed
    assert listed.get(ITEM) == expected


def test_a_catalogue_area_from_excel_becomes_one_draft_of_its_areas_file(
    studio: Flask, county_repo: CountyRepo, tmp_path: Path
) -> None:
    sheet = write_catalogue_sheet(tmp_path / "目录.xlsx", "测试县社会救助领域基层政务公开标准目录", CATALOGUE_ROWS)
    wang = signed(studio, "wang")
    token = csrf_token(wang, "/studio/import")
    with sheet.open("rb") as file:
        preview = wang.post("/studio/import", data={"sheet": (file, "目录.xlsx"), "csrf_token": token},
                            content_type="multipart/form-data").text  # fmt: skip
    assert "3 new, 0 changed, 0 unchanged" in preview  # new entries of the area the demo has a file for
    action = re.search(r'action="(/studio/import/[^"]+)"', preview)
    assert action is not None
    wang.post(action.group(1), data={"name": "目录.xlsx", "csrf_token": token})
    db = open_store(Path(studio.config["DATA_DIR"]))
    try:
        rows = db.execute("select id, kind, path, title from studio_changes").fetchall()
    finally:
        db.close()
    assert [tuple(row)[1:] for row in rows] == [("catalogue", "catalogue/18-shehui-jiuzhu.yaml", "社会救助")]
    page = wang.get(f"/studio/changes/{rows[0][0]}")
    assert page.status_code == 200 and "+    level1: 特困人员救助供养" in page.text
    li = signed(studio, "li")
    wang.post(f"/studio/changes/{rows[0][0]}/submit", data={"csrf_token": token})
    li.post(f"/studio/changes/{rows[0][0]}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    entries = [e for e in load_county(county_repo.content).catalogue if e["area"] == "社会救助"]
    assert ("特困人员救助供养", "救助标准") in {(e["level1"], e.get("level2")) for e in entries}


def test_taking_a_change_back_is_a_draft_another_reviewer_approves(studio: Flask, county_repo: CountyRepo) -> None:
    wang, li = signed(studio, "wang"), signed(studio, "li")
    fields = form_of(wang, f"/studio/powers/{ITEM}")
    post(wang, "/studio/powers/save", {**fields, "fee": "免费", "reason": "改收费", "submit": "1"})
    [change_id] = re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)
    li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    file = county_repo.content / "powers" / f"{ITEM}.yaml"
    assert "fee: 免费" in file.read_text(encoding="utf-8")
    history = History(county_repo.content)
    approved, first = history.log(limit=2)
    token = csrf_token(li, "/studio/")
    refused = li.post(f"/studio/history/{first.commit}/revert", data={"reason": "全部撤回", "csrf_token": token})
    assert refused.status_code == 302 and "cannot be taken back" in li.get(refused.headers["Location"]).text
    assert len(History(county_repo.content).log()) == 2 and file.exists(), "the first record is never taken back"

    li.post(f"/studio/history/{approved.commit}/revert", data={"reason": "收费依据有误", "csrf_token": token})
    assert "fee: 免费" in file.read_text(encoding="utf-8"), "a take-back is a draft: nothing changes yet"
    home = li.get("/studio/").text
    [back_id] = [number for number in re.findall(r"/studio/changes/(\d+)", home) if number != change_id]
    li.post(f"/studio/changes/{back_id}/submit", data={"csrf_token": token})
    own = li.post(f"/studio/changes/{back_id}/approve", data={"csrf_token": token})
    assert own.status_code == 302 and "fee: 免费" in file.read_text(encoding="utf-8"), (
        "its proposer does not approve it"
    )
    db = open_store(Path(studio.config["DATA_DIR"]))
    accounts.add(db, "he", "reviewer", PASSWORD, "(test)", roles=accounts.COUNTY_ROLES)
    db.close()
    he = signed(studio, "he")
    he.post(f"/studio/changes/{back_id}/approve", data={"csrf_token": csrf_token(he, "/studio/")})
    assert "fee: 不收费" in file.read_text(encoding="utf-8")
    latest = History(county_repo.content).log(limit=1)[0]
    assert (latest.author, latest.committer) == ("li", "he") and latest.reason.startswith("收费依据有误")


def test_a_table_previewed_and_abandoned_is_removed_a_day_later(studio: Flask, tmp_path: Path) -> None:
    stored = Path(studio.config["DATA_DIR"]) / "studio-imports"
    stored.mkdir(parents=True)
    abandoned, recent = stored / ("a" * 32 + ".xlsx"), stored / ("b" * 32 + ".xlsx")
    abandoned.write_bytes(b"old")
    recent.write_bytes(b"new")
    day_and_a_bit = time.time() - 25 * 3600
    os.utime(abandoned, (day_and_a_bit, day_and_a_bit))
    wang = signed(studio, "wang")
    sheet = write_sheet(tmp_path / "清单.xlsx", [power_row(1)])
    token = csrf_token(wang, "/studio/import")
    with sheet.open("rb") as file:
        wang.post("/studio/import", data={"sheet": (file, "清单.xlsx"), "csrf_token": token},
                  content_type="multipart/form-data")  # fmt: skip
    assert not abandoned.exists() and recent.exists()


def test_the_countys_contacts_and_duties_are_edited_in_forms_and_keep_their_comments(
    studio: Flask, county_repo: CountyRepo
) -> None:
    wang, li = signed(studio, "wang"), signed(studio, "li")
    assert signed(studio, "sun").get("/studio/county/contacts").status_code == 403, "the county's own, not a township's"
    contacts = county_repo.content / "contacts.yaml"
    before = contacts.read_text(encoding="utf-8")
    fields = form_of_page(wang, "/studio/county/contacts")
    assert fields["contacts.1.name"] == "青禾县政务服务便民热线" and fields["contacts.1.kind"] == "hotline"
    typed = {**fields, "contacts.1.hours": "全天", "reason": "热线改为全天", "submit": "1"}
    answer = wang.post("/studio/county/contacts", data={**typed, "csrf_token": csrf_token(wang, "/studio/")})
    assert answer.status_code == 302
    [change_id] = re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)
    assert "-    hours: 24小时" in li.get(f"/studio/changes/{change_id}").text
    li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    after = contacts.read_text(encoding="utf-8")
    changed = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert changed == ["-     hours: 24小时", "+     hours: 全天"], "one line changed; comments and order kept"

    duties = form_of_page(wang, "/studio/county/duties")
    unchanged = wang.post("/studio/county/duties", data={**duties, "csrf_token": csrf_token(wang, "/studio/")})
    assert unchanged.status_code == 302, "a form saved as it is passes the checks: due days stay whole numbers"
    [duty_change] = [c for c in re.findall(r"/studio/changes/(\d+)", wang.get("/studio/").text) if c != change_id]
    assert "No difference from the content folder." in wang.get(f"/studio/changes/{duty_change}").text


def test_a_catalogue_area_is_edited_in_one_form_and_keeps_its_writing(studio: Flask, county_repo: CountyRepo) -> None:
    wang, li = signed(studio, "wang"), signed(studio, "li")
    areas = wang.get("/studio/county/catalogue").text
    assert 'href="/studio/county/catalogue/18-shehui-jiuzhu"' in areas and "社会救助" in areas
    assert wang.get("/studio/county/catalogue/..%2Fcounty").status_code == 404
    file = county_repo.content / "catalogue" / "18-shehui-jiuzhu.yaml"
    before = file.read_text(encoding="utf-8")
    fields = form_of_page(wang, "/studio/county/catalogue/18-shehui-jiuzhu")
    assert fields["area"] == "社会救助" and fields["items.0.audience"] == "全社会"
    typed = {**fields, "items.0.time_limit": "标准调整之日起10个工作日内", "submit": "1"}
    assert wang.post("/studio/county/catalogue/18-shehui-jiuzhu",
                     data={**typed, "csrf_token": csrf_token(wang, "/studio/")}).status_code == 302  # fmt: skip
    [change_id] = re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)
    li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    changed = [line for line in difflib.ndiff(before.splitlines(), file.read_text(encoding="utf-8").splitlines())
               if line[:1] in "+-"]  # fmt: skip
    assert changed == ["-     time_limit: 标准调整之日起20个工作日内", "+     time_limit: 标准调整之日起10个工作日内"]
    load_county(county_repo.content)


def test_a_notice_is_written_in_a_form_with_a_table_pasted_from_excel(studio: Flask, county_repo: CountyRepo) -> None:
    wang, li = signed(studio, "wang"), signed(studio, "li")
    assert "桃源村2026年10月财务收支公开" in wang.get("/studio/notices").text
    fields = form_of(wang, "/studio/notices/caiwu-2026-10-taoyuan")
    assert fields["title"] == "桃源村2026年10月财务收支公开" and fields["village"] == "taoyuan"
    assert fields["body"].startswith("根据《农村集体经济组织财务公开规定》")
    pasted = "项目\t金额\r\n补充收入\t1,200.00\r\n"
    redrawn = post(wang, "/studio/notices/save", {**fields, "table": pasted, "op": "table"})
    assert redrawn.status_code == 200  # type: ignore[attr-defined]
    typed = form_of_text(redrawn.text)  # type: ignore[attr-defined]
    assert typed["body"].endswith("| 项目 | 金额 |\n| --- | ---: |\n| 补充收入 | 1,200.00 |\n"), "at the end, as typed"
    saved = post(wang, "/studio/notices/save", {**typed, "reason": "补充收入", "submit": "1"})
    assert saved.status_code == 302  # type: ignore[attr-defined]
    [change_id] = re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)
    li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    text = (county_repo.content / "notices" / "caiwu-2026-10-taoyuan.md").read_text(encoding="utf-8")
    assert text.startswith("---\nid: caiwu-2026-10-taoyuan\n") and "| 补充收入 | 1,200.00 |" in text
    [notice] = [n for n in load_county(county_repo.content).notices if n["id"] == "caiwu-2026-10-taoyuan"]
    assert '<td class="align-right">1,200.00</td>' in notice["body_html"], "the amounts stay aligned right on the kiosk"

    new = form_of(wang, "/studio/notices/new")
    answer = post(
        wang,
        "/studio/notices/save",
        {**new, "title": "2026年冬季防火告知书", "domain": "村务", "body": "冬季注意防火。"},
    )
    assert answer.status_code == 422 and 'id="published-error"' in answer.text  # type: ignore[attr-defined]
    fixed = form_of_text(answer.text)  # type: ignore[attr-defined]
    done = post(wang, "/studio/notices/save", {**fixed, "published": "2026-12-10", "submit": "1"})
    assert done.status_code == 302  # type: ignore[attr-defined]
    assert wang.get(done.headers["Location"]).status_code == 200  # type: ignore[attr-defined]


def test_control_characters_never_reach_a_file_and_only_its_author_or_a_reviewer_withdraws_a_draft(
    studio: Flask,
) -> None:
    db = open_store(Path(studio.config["DATA_DIR"]))
    accounts.add(db, "zhang", "editor", PASSWORD, "(test)", roles=accounts.COUNTY_ROLES)
    db.close()
    wang = signed(studio, "wang")
    fields = form_of(wang, f"/studio/powers/{ITEM}")
    typed = {
        **fields,
        "fee": "不\x00收\u202e费\u2028",
        "summary": "第一行\r\n\u3000\u3000第二行\x1b",
        "steps.0.title": "经办\x07人",
    }
    assert post(wang, "/studio/powers/save", typed).status_code == 302  # type: ignore[attr-defined]
    db = open_store(Path(studio.config["DATA_DIR"]))
    try:
        [(change_id, content)] = db.execute("select id, content from studio_changes").fetchall()
    finally:
        db.close()
    assert "fee: 不收费\n" in content and "title: 经办人\n" in content
    assert 'summary: "第一行\\n\u3000\u3000第二行"' in content, "line breaks and full-width spaces stay"
    assert not any(ch in content for ch in "\x00\u202e\u2028\x1b\x07\r")
    zhang = signed(studio, "zhang")
    token = csrf_token(zhang, "/studio/")
    assert zhang.post(f"/studio/changes/{change_id}/withdraw", data={"csrf_token": token}).status_code == 403
    li = signed(studio, "li")
    assert (
        li.post(f"/studio/changes/{change_id}/withdraw", data={"csrf_token": csrf_token(li, "/studio/")}).status_code
        == 302
    )
