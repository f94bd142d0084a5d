"""Guides (我要办) in the studio: a clerk writes one in the form (no YAML, ids made from its words), it is
checked as `kiosk county validate` checks it, with each problem at its field (an answer leading nowhere,
questions going round in circles, a power item that does not exist), a broken one is never submitted nor
approved, a reviewer approves a sound one, a publisher publishes it and a village kiosk asks its questions;
and a township's accounts keep to their township's guides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.county.repo_files import RepositoryApp
from kiosk.county.store import open_store
from kiosk.screens import create_app
from sync.contract.content import load_county
from sync.receive.updater import sync_kiosk
from tests.county_repo import CountyRepo
from tests.servers import serving
from tests.test_staff import csrf_token
from tests.test_studio import form_of, form_of_text, post, signed, studio, with_publisher  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

GUIDE = "01-shenghuo-kunnan"  # the demo's first guide, county-wide: its file, not its id (shenghuo-kunnan)


def _state(app: Flask, path: str) -> str:
    db = open_store(Path(app.config["DATA_DIR"]))
    try:
        [state] = db.execute("select state from studio_changes where path = ? order by id desc", (path,)).fetchone()
    finally:
        db.close()
    return str(state)


def _errors(page: str) -> dict[str, str]:
    return dict(re.findall(r'class="field-error" id="([^"]+)-error">([^<]*)<', page))


def _new_guide(client: FlaskClient) -> dict[str, str]:
    """A new guide's form as a clerk fills it: two answers of one question, each to an ending of its own."""
    fields = form_of(client, "/studio/guides/new")
    assert {"questions.0.answers.0.to", "questions.0.answers.1.to", "endings.0.powers"} <= set(fields)
    typed = {**fields, "title": "家里有人去世，想办后事", "summary": "临时救助、丧葬补助",
             "questions.0.ask": "去世的老人享受低保或者是特困人员吗？",
             "questions.0.answers.0.answer": "是", "questions.0.answers.1.answer": "不是",
             "endings.0.title": "可以申请临时救助", "endings.0.what_next": "到村便民服务站说明情况。",
             "endings.0.powers": "linshi-jiuzhu"}  # fmt: skip
    redrawn = post(client, "/studio/guides/save", {**typed, "op": "rows"})  # ids made, rows added, nothing saved
    assert redrawn.status_code == 200  # type: ignore[attr-defined]
    page = redrawn.text  # type: ignore[attr-defined]
    assert "Ending 1: 可以申请临时救助" in page, "an answer chooses where it leads by the ending's words"
    again = form_of_text(page)
    assert again["questions.0.id"] and again["endings.0.id"] == "keyi-shenqing-linshi-jiuzhu"
    return {**again, "endings.1.title": "先问问县民政局", "endings.1.what_next": "打县民政局社会救助热线问一问。",
            "endings.1.contacts": "xian-minzheng-jiuzhu", "endings.1.id": "wen-minzheng",
            "questions.0.answers.0.to": again["endings.0.id"], "questions.0.answers.1.to": "wen-minzheng"}  # fmt: skip


def test_a_clerk_writes_a_guide_a_reviewer_approves_it_and_a_village_kiosk_asks_its_questions(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
    kiosk_data: Path,
) -> None:
    with_publisher(studio, county_repo)
    wang, li, zhou = signed(studio, "wang"), signed(studio, "li"), signed(studio, "zhou")
    listed = wang.get("/studio/guides").text
    assert listed.index("生活困难，想申请补助") < listed.index("想盖房子、翻修房子"), "in the kiosk's order"
    assert f'href="/studio/guides/{GUIDE}"' in listed
    saved = post(wang, "/studio/guides/save", {**_new_guide(wang), "reason": "新增导办", "submit": "1"})
    assert saved.status_code == 302, saved.text  # type: ignore[attr-defined]
    path = "guides/04-jiali-youren-qushi-xiangban-houshi.yaml"  # after the demo's 01 to 03, the kiosk's order
    assert not (county_repo.content / path).exists(), "nothing reaches the folder before review"

    [change_id] = re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)
    change = li.get(f"/studio/changes/{change_id}").text
    assert "+title: 家里有人去世，想办后事" in change and f'href="/studio/guides/{Path(path).stem}"' in change
    frame = re.search(r'<iframe class="kiosk-frame" src="([^"]+)"', li.get(f"/studio/preview/{change_id}").text)
    assert frame is not None and frame.group(1).endswith("/guides/jiali-youren-qushi-xiangban-houshi/")
    assert "去世的老人享受低保或者是特困人员吗？" in li.get(frame.group(1)).text, "its first question, on a kiosk"
    li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    text = (county_repo.content / path).read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../../schema/guide.schema.json\nid: jiali-youren")
    [guide] = [g for g in load_county(county_repo.content).guides if g["title"] == "家里有人去世，想办后事"]
    assert guide["scope"] == "county" and guide["endings"][1]["contacts"] == ["xian-minzheng-jiuzhu"]

    done = zhou.post("/studio/publish", data={"csrf_token": csrf_token(zhou, "/studio/publish")})
    assert done.status_code == 200 and "Published version" in done.text
    with serving(RepositoryApp(county_repo.path)) as url:
        assert sync_kiosk(kiosk_data, url).outcome == "updated"
    kiosk = create_app({"TESTING": True, "DATA_DIR": str(kiosk_data), "SECRET_KEY": "x"}).test_client()
    assert "家里有人去世，想办后事" in kiosk.get("/guides").get_data(as_text=True)
    asked = kiosk.get("/guides/jiali-youren-qushi-xiangban-houshi/").get_data(as_text=True)
    assert "去世的老人享受低保或者是特困人员吗？" in asked and "不是" in asked
    ending = kiosk.get("/guides/jiali-youren-qushi-xiangban-houshi/2").get_data(as_text=True)
    assert "先问问县民政局" in ending and "打县民政局社会救助热线问一问。" in ending


def test_a_broken_guide_shows_each_problem_at_its_field_and_is_never_submitted_nor_approved(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang, li = signed(studio, "wang"), signed(studio, "li")
    file = county_repo.content / "guides" / f"{GUIDE}.yaml"
    before = file.read_text(encoding="utf-8")
    fields = form_of(wang, f"/studio/guides/{GUIDE}")
    assert fields["id"] == "shenghuo-kunnan" and fields["questions.1.id"] == "shouru"
    assert fields["questions.0.answers.0.to"] == "shouru" and fields["endings.0.powers"] == "dibao-shenqing"
    page = wang.get(f"/studio/guides/{GUIDE}").text
    assert "<code>dibao-shenqing</code> 最低生活保障申请" in page, "each id an ending names shown with its name"
    broken = {  # a field, the mistake in it, and what its form says beside it
        "questions.0.answers.0.to": ("nowhere", "is no question or ending of this guide"),
        "questions.1.answers.0.to": ("kunnan", "the questions would go round in circles"),
        "endings.0.powers": ("dibao-shenqing\nno-such-item", "no power item 'no-such-item' in powers/"),
    }
    originals = {name: fields[name] for name in broken}
    change_id = ""
    for name, (value, said) in broken.items():
        current = form_of(wang, f"/studio/guides/{GUIDE}")  # the draft as last saved, and its revision
        answer = post(wang, "/studio/guides/save", {**current, **originals, name: value, "submit": "1"})
        page = answer.text  # type: ignore[attr-defined]
        assert answer.status_code == 422, page  # type: ignore[attr-defined]
        assert said in _errors(page).get(name, "").replace("&#39;", "'"), (name, _errors(page))
        assert len(_errors(page)) == 1 and "Saved as a draft, with problems" in page
        if name == "endings.0.powers":
            assert "<code>no-such-item</code> (no such item)" in page
        change_id = re.findall(r"/studio/changes/(\d+)", page)[0]
        assert _state(studio, f"guides/{GUIDE}.yaml") == "draft", "saved, never submitted"
    token = csrf_token(wang, "/studio/")
    refused = wang.post(f"/studio/changes/{change_id}/submit", data={"csrf_token": token}, follow_redirects=True)
    assert "a change with problems cannot be submitted" in refused.text
    approve = li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")},
                      follow_redirects=True)  # fmt: skip
    assert "only a submitted change can be approved" in approve.text
    assert _state(studio, f"guides/{GUIDE}.yaml") == "draft" and file.read_text(encoding="utf-8") == before


def test_a_townships_editor_keeps_to_its_townships_guides(studio: Flask) -> None:  # noqa: F811
    sun = signed(studio, "sun")  # an editor of 云岭乡 (yunling) only
    county_wide = post(sun, "/studio/guides/save", form_of(sun, f"/studio/guides/{GUIDE}"))
    assert county_wide.status_code == 403 and "township yunling only" in county_wide.text  # type: ignore[attr-defined]
    own = {**_new_guide(sun), "township": "yunling", "title": "云岭乡护林员报名"}
    other_village = {**own, "endings.0.powers": "taoyuan-minsu-jingying"}  # 桃源村's own item, in another township
    answer = post(sun, "/studio/guides/save", {**other_village, "submit": "1"})
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert "is not shown in" in _errors(answer.text)["endings.0.powers"]  # type: ignore[attr-defined]
    [change_id] = re.findall(r"/studio/changes/(\d+)", answer.text)  # type: ignore[attr-defined]
    fixed = form_of_text(answer.text)  # type: ignore[attr-defined]
    saved = post(sun, "/studio/guides/save", {**fixed, "endings.0.powers": "yunling-huling-xuanpin", "submit": "1"})
    assert saved.status_code == 302, saved.text  # type: ignore[attr-defined]
    zhao = signed(studio, "zhao")  # a reviewer of yunling sees it
    assert f"/studio/changes/{change_id}" in zhao.get("/studio/").text
    assert zhao.post(f"/studio/changes/{change_id}/approve",
                     data={"csrf_token": csrf_token(zhao, "/studio/")}).status_code == 302  # fmt: skip
    assert _state(studio, "guides/04-yunling-xianghu-linyuan-baoming.yaml") == "approved"
