"""我要办 on the kiosk and the phone, through the test client: one question a screen, answers as plain links,
back and start over, the ending's matters with their QR codes, read-aloud and the printed slip."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from kiosk.county import create_county_app
from kiosk.data import guides
from kiosk.data.content_db import get_db
from kiosk.demo import install_demo
from kiosk.screens import create_app
from kiosk.screens import guides as guide_screens
from sync.contract.guides import walk
from sync.receive.install import readable_content
from tests.county_repo import VILLAGE, CountyRepo
from tests.qr_images import decode_qr, qr_image, qr_sources
from tests.test_slip import Printers, token_on
from tests.test_speech import espeak_ng, fetch, seconds_of

GUIDE = "/guides/shenghuo-kunnan"
DIBAO = f"{GUIDE}/1-1-1"  # 收入一直很低 → 比低保标准低 → 没有汽车、商品房、存款
ANSWER = re.compile(r'<a class="guide-answer" href="([^"]+)">')


def html(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, path
    return response.get_data(as_text=True)


def test_the_home_screen_leads_to_the_guides_and_the_first_step_offers_each(client: FlaskClient) -> None:
    home = html(client, "/")
    assert '<a class="guide-entry" href="/guides">' in home and "我要办" in home
    first = html(client, "/guides")
    assert "第1步" in first and first.count("<h1") == 1 and "您想办什么事？" in first
    assert ANSWER.findall(first) == [f"{GUIDE}/", "/guides/jianfang/", "/guides/yibao-yanglao/"]
    assert "生活困难，想申请补助" in first and "低保、临时救助、残疾人补贴、危房改造" in first


def test_one_question_a_screen_each_answer_a_link_to_the_next(client: FlaskClient) -> None:
    page = html(client, f"{GUIDE}/")
    assert page.count("<h1") == 1 and "您家遇到的是哪种困难？" in page and "第2步" in page
    assert ANSWER.findall(page) == [f"{GUIDE}/1", f"{GUIDE}/2", f"{GUIDE}/3", f"{GUIDE}/4"]
    second = html(client, f"{GUIDE}/1")
    assert "全家每个人每月平均的收入，比当地的低保标准还低吗？" in second and "第3步" in second
    assert "低保标准由县里公布" in second, "the question's help is under it"
    assert ANSWER.findall(second) == [f"{GUIDE}/1-1", f"{GUIDE}/1-2", f"{GUIDE}/1-3"]
    main = second.split('<main id="main">')[1].split("</main>")[0]
    speak = '<button type="button" class="button big speak-button"'
    assert "<form" not in main and "<button" not in main.replace(speak, ""), "answers are plain links"


def test_back_goes_to_the_question_before_and_start_over_to_the_first_step(client: FlaskClient) -> None:
    page = html(client, f"{GUIDE}/1-1")
    back = re.search(r'<a class="button big guide-back" href="([^"]+)">', page)
    restart = re.search(r'<a class="button big guide-restart" href="([^"]+)">', page)
    assert back and back.group(1) == f"{GUIDE}/1" and restart and restart.group(1) == "/guides"
    assert f'<a class="button back-button" href="{GUIDE}/1">' in page, "the top bar's Back does the same"
    assert "上一步" in page and "从头再来" in page
    assert "全家每个人每月平均的收入" in html(client, back.group(1))
    first = html(client, f"{GUIDE}/")
    assert re.search(r'guide-back" href="/guides"', first), "back from the first question is the first step"


def test_the_ending_shows_the_matters_with_their_qr_codes_and_whom_to_call(client: FlaskClient) -> None:
    page = html(client, DIBAO)
    assert "可以申请最低生活保障（低保）" in page and "下一步怎么办" in page and "带上户口簿" in page
    links = re.findall(r'<a class="guide-matter-link" href="([^"]+)">', page)
    assert links == ["/powers/dibao-shenqing", "/catalogue/shjz-zhengce-biaozhun", "/catalogue/shjz-dibao-duixiang"]
    assert "最低生活保障申请" in page
    assert page.count('<img class="qr-code"') == 3, "a QR code for each matter, as its detail page has"
    assert 'href="tel:0000-5550201"' in page and "青禾县民政局社会救助热线" in page
    for asked in ("您家遇到的是哪种困难？", "家里收入一直很低，日子过不下去", "没有"):
        assert asked in page, "the answers given are listed"
    assert "guide-answer" not in page.replace("guide-answer-", ""), "no more questions"
    assert 'guide-back" href="/guides/shenghuo-kunnan/1-1"' in page
    assert "print-form" not in page, "no printer, no Print button"


def test_the_qr_codes_lead_to_each_matters_phone_page(client: FlaskClient) -> None:
    sources = qr_sources(html(client, DIBAO))
    found = [decode_qr(qr_image(client, src), scale=8) for src in sources]
    assert found == [f"https://gk.qinghe.example.cn/m/taoyuan/{kind}/{item}" for kind, item in
                     (("power", "dibao-shenqing"), ("catalogue", "shjz-zhengce-biaozhun"),
                      ("catalogue", "shjz-dibao-duixiang"))]  # fmt: skip


def test_an_answer_the_guide_does_not_have_is_not_found(client: FlaskClient) -> None:
    for path in (f"{GUIDE}/9", f"{DIBAO}-1", f"{GUIDE}/1--1", f"{GUIDE}/x", "/guides/no-such/", "/guides/no-such/1"):
        assert client.get(path).status_code == 404, path


def test_reaching_an_ending_goes_through_the_one_counting_call(client: FlaskClient) -> None:
    reached: list[tuple[str, str]] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(guide_screens, "_ending_reached", lambda g, ending: reached.append((g["id"], ending["id"])))
        html(client, f"{GUIDE}/1")
        html(client, DIBAO)
        html(client, f"{DIBAO}?print=done")  # the same ending again, after its slip was printed
    assert reached == [("shenghuo-kunnan", "dibao")]


def test_in_english_the_interface_is_english_and_the_county_words_marked_chinese(english: FlaskClient) -> None:
    page = html(english, f"{GUIDE}/1")
    assert "Step 3" in page and "Previous question" in page and "Start over" in page
    assert '<h1 lang="zh-Hans">全家每个人每月平均的收入' in page
    ending = html(english, DIBAO)
    assert "What to do next" in ending and '<span class="guide-matter-title" lang="zh-Hans">最低生活保障申请' in ending


def test_a_kiosk_whose_content_came_before_guides_offers_none(demo_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    install_demo(data)
    path = readable_content(data).path
    assert path is not None
    with sqlite3.connect(path) as db:
        db.execute("drop table guides")
    client = create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "t"}).test_client()
    assert "guide-entry" not in html(client, "/")
    assert client.get("/guides").status_code == 404 and client.get(f"{GUIDE}/").status_code == 404


# --- Read aloud and print --------------------------------------------------------------------------


def test_each_step_is_read_aloud_question_then_numbered_answers(demo_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    install_demo(data)
    client = create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "x", "SPEECH_COMMAND": espeak_ng()}
                        ).test_client()  # fmt: skip
    page = html(client, f"{GUIDE}/1")
    assert 'data-speech-src="/speech/guide/shenghuo-kunnan.wav?answers=1"' in page and "朗读" in page
    assert 'data-speech-src="/speech/guides.wav"' in html(client, "/guides")
    for answers in ("", "?answers=1", "?answers=1-1-1"):  # the first step, a question, an ending
        path = f"/speech/guide/shenghuo-kunnan.wav{answers}" if answers else "/speech/guides.wav"
        status, media_type, wav = fetch(client, path)
        assert (status, media_type, wav[:4]) == (200, "audio/wav", b"RIFF"), path
        assert seconds_of(wav) > 3, path
    assert client.get("/speech/guide/shenghuo-kunnan.wav?answers=9").status_code == 404
    with create_app({"TESTING": True, "DATA_DIR": str(data)}).test_request_context():
        found = guides.guide(get_db(), "shenghuo-kunnan")
        assert found is not None
        step = walk(found, "1")
        assert step is not None
        said = guide_screens.spoken_step(step, [])
    assert said.startswith("全家每个人每月平均的收入，比当地的低保标准还低吗？\n低保标准由县里公布")
    assert said.endswith("一、是，比低保标准低。\n二、不是，比低保标准高。\n三、不清楚低保标准是多少。")


def test_with_a_printer_the_ending_prints_a_slip_of_what_to_do(demo_data: Path) -> None:
    printers = Printers()
    client = create_app({"TESTING": True, "DATA_DIR": str(demo_data), "SECRET_KEY": "t", "PRINTER_FACTORY": printers}
                        ).test_client()  # fmt: skip
    assert "print-form" not in html(client, f"{GUIDE}/1"), "a question has nothing to print"
    token = token_on(client, DIBAO)
    response = client.post(f"/print/guide{DIBAO[7:]}", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == f"{DIBAO}?print=done"
    slip = printers.output.decode("gb18030", errors="replace")
    for said in ("可以申请最低生活保障", "最低生活保障申请", "0000-5550201", "gk.qinghe.example.cn/m/taoyuan/guides/"):
        assert said in slip.replace("\n", ""), said
    assert '<p class="print-note" role="status">' in html(client, response.headers["Location"])
    assert client.post(f"/print/guide{GUIDE[7:]}/1", data={"csrf_token": token}).status_code == 404
    stale = client.post(f"/print/guide{DIBAO[7:]}", data={"csrf_token": "old"})
    assert stale.status_code == 400 and "没有打印" in stale.get_data(as_text=True) and len(printers.made) == 1


# --- The phone pages -------------------------------------------------------------------------------


@pytest.fixture()
def phone(county_repo: CountyRepo, tmp_path: Path) -> FlaskClient:
    config: dict[str, Any] = {"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(tmp_path / "c"),
                              "SECRET_KEY": "t"}  # fmt: skip
    return create_county_app(config).test_client()


def test_the_phone_has_the_same_guides_one_question_a_page(phone: FlaskClient) -> None:
    base = f"/m/{VILLAGE}/guides"
    assert f'href="{base}/"' in html(phone, f"/m/{VILLAGE}/")
    answers = re.compile(r'<a class="answer" href="([^"]+)"')
    assert answers.findall(html(phone, f"{base}/"))[0] == f"{base}/shenghuo-kunnan/"
    path = f"{base}/shenghuo-kunnan/"
    for taken in range(3):  # the first answer three times: 收入低 → 比标准低 → 没有
        page = html(phone, path)
        assert page.count("<h1") == 1 and f"第{taken + 2}步" in page
        path = answers.findall(page)[0]
    ending = html(phone, path)
    assert path == f"{base}/shenghuo-kunnan/1-1-1" and "可以申请最低生活保障（低保）" in ending
    assert f'href="/m/{VILLAGE}/power/dibao-shenqing"' in ending and 'href="tel:0000-5550201"' in ending
    assert f'href="{base}/shenghuo-kunnan/1-1">上一步' in ending and f'href="{base}/">从头再来' in ending
    english = html(phone, f"{base}/shenghuo-kunnan/1?lang=en")
    assert f'href="{base}/shenghuo-kunnan/1-1?lang=en"' in english and "Step 3" in english
    assert phone.get(f"{base}/shenghuo-kunnan/1-1-1-1").status_code == 404
    assert phone.get(f"{base}/no-such/").status_code == 404
