"""The county itself in the studio: its townships and villages in a form (a village added in an empty row),
a change that would leave items naming a village no longer there refused with each file and line, and
every form's fields named in the words of its own kind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from sync.authoring.importing import plan_import
from sync.contract.content import load_county
from sync.contract.pinyin import slug
from tests.county_repo import CountyRepo
from tests.test_staff import csrf_token
from tests.test_studio import ITEM, VILLAGE_ITEM, form_of_page, signed, studio  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL


def test_a_village_is_added_in_the_county_form_and_approved_into_county_yaml(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang, li = signed(studio, "wang"), signed(studio, "li")
    page = wang.get("/studio/county/county")
    assert page.status_code == 200 and "Townships" in page.text and "Villages" in page.text
    fields = form_of_page(wang, "/studio/county/county")
    assert fields["name"] == "青禾县（示例）" and fields["townships.0.villages.0.name"] == "桃源村"
    empty = next(name for name, value in fields.items() if re.fullmatch(r"townships\.0\.villages\.\d+\.code", name)
                 and not value)  # fmt: skip
    row = empty.rsplit(".", 1)[0]
    typed = {**fields, f"{row}.code": "xinhe", f"{row}.name": "新河村", "reason": "新设行政村", "submit": "1"}
    saved = wang.post("/studio/county/county", data={**typed, "csrf_token": csrf_token(wang, "/studio/county/county")})
    assert saved.status_code == 302, saved.text
    [change_id] = re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)
    li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    text = (county_repo.content / "county.yaml").read_text(encoding="utf-8")
    assert "      - code: xinhe\n        name: 新河村\n" in text and text.startswith("# yaml-language-server")
    assert "xinhe" in {village["code"] for village in load_county(county_repo.content).villages()}


def test_taking_away_a_village_that_items_name_is_refused_with_each_file_and_line(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang = signed(studio, "wang")
    fields = form_of_page(wang, "/studio/county/county")
    assert fields["townships.0.villages.0.code"] == "taoyuan"
    emptied = {**fields, "townships.0.villages.0.code": "", "townships.0.villages.0.name": "", "submit": "1"}
    answer = wang.post(
        "/studio/county/county", data={**emptied, "csrf_token": csrf_token(wang, "/studio/county/county")}
    )
    assert answer.status_code == 422, "saved as a draft, never submitted"
    alert = answer.text[
        answer.text.index('role="alert"') : answer.text.index("</div>", answer.text.index('role="alert"'))
    ]
    assert re.search(r"powers/taoyuan-minsu-jingying\.yaml:\d+: no village with code &#39;taoyuan&#39;", alert), alert
    assert "taoyuan" in (county_repo.content / "county.yaml").read_text(encoding="utf-8")


def test_each_form_names_its_fields_in_the_words_of_its_kind(studio: Flask) -> None:  # noqa: F811
    wang = signed(studio, "wang")
    notice = wang.get("/studio/notices/new").text
    assert '<label for="title">Title' in notice
    contacts = wang.get("/studio/county/contacts").text
    assert '<label for="contacts.0.name">Name' in contacts and '<label for="contacts.0.phone">Phone' in contacts
    power = wang.get("/studio/powers/new").text
    assert '<label for="name">Name of the matter' in power


def test_the_list_and_an_area_are_downloaded_as_excel_in_the_layout_the_import_reads(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
    tmp_path: Path,
) -> None:
    wang = signed(studio, "wang")
    assert 'href="/studio/export/powers.xlsx"' in wang.get("/studio/powers").text
    answer = wang.get("/studio/export/powers.xlsx")
    assert answer.status_code == 200 and (answer.mimetype or "").endswith("spreadsheetml.sheet")
    assert "attachment" in answer.headers["Content-Disposition"]
    sheet = tmp_path / "清单.xlsx"
    sheet.write_bytes(answer.data)
    plan = plan_import(sheet, county_repo.content)
    powers = load_county(county_repo.content).powers
    assert len(plan.items) == len(powers) and not plan.problems
    assert {item.action for item in plan.items} == {"unchanged"}, "read back, the folder's own list changes nothing"

    areas = wang.get("/studio/county/catalogue").text
    [link] = re.findall(r'href="(/studio/export/catalogue/[^"]+\.xlsx)"', areas)[:1]
    area_sheet = wang.get(link)
    assert area_sheet.status_code == 200 and len(area_sheet.data) > 1000
    assert wang.get("/studio/export/catalogue/no-such-area.xlsx").status_code == 404
    assert signed(studio, "chen").get("/studio/export/powers.xlsx").status_code == 403, "staff: the dashboard only"


def test_each_item_shows_who_changed_it_when_and_why(studio: Flask) -> None:  # noqa: F811
    wang, li = signed(studio, "wang"), signed(studio, "li")
    fields = form_of_page(wang, f"/studio/powers/{ITEM}", 'id="item-form"')
    saved = wang.post("/studio/powers/save", data={**fields, "fee": "免费", "reason": "按县财政局通知", "submit": "1",
                                                    "csrf_token": csrf_token(wang, "/studio/powers")})  # fmt: skip
    assert saved.status_code == 302
    [change_id] = re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)
    li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    form = wang.get(f"/studio/powers/{ITEM}").text
    link = f'href="/studio/history?path=powers/{ITEM}.yaml"'
    assert link in form
    own = wang.get(f"/studio/history?path=powers/{ITEM}.yaml").text
    assert "按县财政局通知" in own and "wang" in own and "approved by li" in own
    other = wang.get(f"/studio/history?path=powers/{VILLAGE_ITEM}.yaml").text
    assert "按县财政局通知" not in other, "another item's history has only its own changes"
    assert wang.get("/studio/history?path=../county-server/county.db").status_code == 404


def test_a_contact_added_in_an_empty_row_gets_an_id_made_from_its_name(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang, li = signed(studio, "wang"), signed(studio, "li")
    fields = form_of_page(wang, "/studio/county/contacts")
    empty = next(name for name, value in fields.items() if re.fullmatch(r"contacts\.\d+\.name", name) and not value)
    row = empty.rsplit(".", 1)[0]
    assert fields[f"{row}.id"] == ""
    typed = {**fields, f"{row}.name": "石桥村村务监督委员会", f"{row}.phone": "0000-5550999",
             f"{row}.kind": "supervision", "submit": "1"}  # fmt: skip
    saved = wang.post(
        "/studio/county/contacts", data={**typed, "csrf_token": csrf_token(wang, "/studio/county/contacts")}
    )
    assert saved.status_code == 302, saved.text
    [change_id] = re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)
    li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    text = (county_repo.content / "contacts.yaml").read_text(encoding="utf-8")
    made = slug("石桥村村务监督委员会")
    assert made.startswith("shiqiao-") and f"  - id: {made}\n    name: 石桥村村务监督委员会\n" in text, "its id first"
    assert made in {c["id"] for c in load_county(county_repo.content).contacts}


def test_the_ten_ones_are_edited_in_their_form_and_approved_into_their_file(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang, li = signed(studio, "wang"), signed(studio, "li")
    fields = form_of_page(wang, "/studio/county/ten-ones")
    assert fields["items.0.title"] and fields["items.0.description"]
    typed = {**fields, "items.0.description": fields["items.0.description"] + "（已更新）", "submit": "1"}
    saved = wang.post(
        "/studio/county/ten-ones", data={**typed, "csrf_token": csrf_token(wang, "/studio/county/ten-ones")}
    )
    assert saved.status_code == 302, saved.text
    [change_id] = re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)
    li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    assert load_county(county_repo.content).ten_ones["items"][0]["description"].endswith("（已更新）")
