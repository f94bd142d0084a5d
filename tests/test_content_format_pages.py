"""What the content can say (issue 16, point 4), on the kiosk's screens and phone pages, in zh, en and elder mode."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.county import create_county_app
from kiosk.demo import install_demo
from kiosk.screens import create_app
from sync.contract.content import load_county
from sync.contract.snapshot import village_snapshot
from sync.receive.install import install_snapshot
from tests.county_files import write_county
from tests.county_repo import CountyRepo, make_county_repo
from tests.test_screens import text_of
from tests.test_staff import csrf_token
from tests.test_studio import form_of, post, signed, studio  # noqa: F401  (the fixture)

DIBAO = "/powers/dibao-shenqing"
DECISION = "/powers/zhongda-shixiang-juece"


# The demo county, installed for 桃源村: every new field in use. An install of its own, so that what these
# pages count (kiosk/data: items opened) stays out of the session's shared demo kiosk.


@pytest.fixture(scope="module")
def own_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("format-demo")
    install_demo(data)
    return data


@pytest.fixture()
def client(own_demo: Path) -> FlaskClient:
    return create_app({"TESTING": True, "DATA_DIR": str(own_demo), "SECRET_KEY": "test"}).test_client()


def test_the_official_number_is_shown_with_the_name(client: FlaskClient) -> None:
    page = client.get(DIBAO).get_data(as_text=True)
    kicker = re.search(r'<p class="kicker">(.*?)</p>\s*<h1[^>]*>最低生活保障申请</h1>', page, re.S)
    assert kicker and text_of_html(kicker.group(1)) == "便民服务 · 编号 QHXW-21"
    listed = text_of(client.get("/powers/category/5"))
    assert "最低生活保障申请 编号 QHXW-21 · 办理时限" in listed
    village_item = text_of(client.get("/powers/taoyuan-minsu-jingying"))
    assert "编号" not in village_item, "an item without a number shows none"
    client.get("/lang/en")
    assert "No. QHXW-21" in text_of(client.get(DIBAO))


def test_the_search_finds_an_item_by_its_number(client: FlaskClient) -> None:
    found = client.get("/search", query_string={"q": "QHXW-21"}).get_data(as_text=True)
    assert 'href="/powers/dibao-shenqing"' in found


def test_the_villages_own_committee_supervises_a_county_wide_item(client: FlaskClient) -> None:
    page = client.get(DIBAO).get_data(as_text=True)
    supervision = page[page.index('class="supervision"') : page.index("</dd>", page.index('class="supervision"'))]
    assert "桃源村村务监督委员会" in supervision and "周建平（主任）" in supervision and "县民政局" in supervision
    assert 'href="tel:0000-5550311"' in supervision and 'href="tel:0000-5550201"' in supervision
    only_own = text_of(client.get("/powers/yinzhang-shiyong"))
    assert "桃源村村务监督委员会" in only_own and "0000-5550311" in only_own
    client.get("/lang/en")
    assert "in place of" not in text_of(client.get(DIBAO))


def test_a_failed_vote_goes_back_in_the_flowchart_and_keeps_the_mark(client: FlaskClient) -> None:
    page = text_of(client.get(DECISION))
    assert "四议两公开" in page
    assert "未获通过 ↩ 回到第 4 步：村“两委”商议" in page
    assert "村民意见分歧较大" in page and "暂缓实施，向村民说明情况" in page
    html = client.get(DECISION).get_data(as_text=True)
    assert html.count('href="#flow-step-4"') == 2, "both failed votes link back to the 两委 step"
    client.get("/lang/en")
    assert "Back to step 4: 村“两委”商议" in text_of(client.get(DECISION))


def test_the_catalogue_content_as_a_list(client: FlaskClient) -> None:
    page = client.get("/catalogue/shjz-dibao-duixiang").get_data(as_text=True)
    published = page[page.index("公开内容") :]
    published = published[: published.index("</dd>")]
    assert re.findall(r"<li>(.*?)</li>", published) == [
        "拟保障对象的户主姓名（部分隐去）",
        "保障人数、保障金额",
        "保障对象名单（不公开个人隐私信息）",
    ]
    one_text = client.get("/catalogue/shjz-zhengce-biaozhun").get_data(as_text=True)
    assert "城乡低保标准、特困人员基本生活标准和照料护理标准、临时救助标准</dd>" in one_text


def test_the_home_tile_counts_the_published_areas(client: FlaskClient) -> None:
    assert "26个重点领域政务公开目录" in text_of(client.get("/"))
    client.get("/lang/en")
    assert "What government must publish, in 26 areas" in text_of(client.get("/"))


def test_elder_mode_shows_the_same(client: FlaskClient) -> None:
    client.get("/elder")
    page = text_of(client.get(DIBAO))
    assert "编号 QHXW-21" in page and "桃源村村务监督委员会" in page


# A county of its own: one catalogue area, eight ten ones without descriptions, a village with no committee.


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_county(tmp_path_factory.mktemp("small") / "county")
    (root / "ten_ones.yaml").write_text("items:\n" + "".join(f"  - title: 第{n}个一\n" for n in range(1, 9)))
    power = root / "powers" / "dibao.yaml"
    text = power.read_text(encoding="utf-8")
    power.write_text(text.replace("  body: 村务监督委员会\n  phone: 0000-5550100\n", "  village: true\n"))
    return root


@pytest.fixture(scope="module")
def small_kiosk(small: Path, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    data = tmp_path_factory.mktemp("small-kiosk")
    snapshot, media = village_snapshot(load_county(small), "apple", 1, "2026-11-27")
    install_snapshot(data, snapshot, media)
    return create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "test"})


def test_the_tile_says_one_area_when_one_is_published(small_kiosk: Flask) -> None:
    client = small_kiosk.test_client()
    assert "1个重点领域政务公开目录" in text_of(client.get("/"))
    client.get("/lang/en")
    assert "What government must publish, in 1 area" in text_of(client.get("/"))


def test_ten_ones_without_descriptions_and_of_another_count(small_kiosk: Flask) -> None:
    page = small_kiosk.test_client().get("/ten-ones").get_data(as_text=True)
    assert page.count('class="ten-one"') == 8 and "<p></p>" not in page
    assert "第8个一" in page


def test_a_stand_in_supervises_where_the_village_has_no_committee(small_kiosk: Flask) -> None:
    client = small_kiosk.test_client()
    page = text_of(client.get("/powers/dibao"))
    assert "县纪委监委举报电话" in page and "0000-12388" in page and "代行" in page
    client.get("/lang/en")
    assert "in place of the village's own supervision committee" in text_of(client.get("/powers/dibao"))


# The phone pages: the county's server cuts each village's view the same way.


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    root = tmp_path_factory.mktemp("phone")
    county: CountyRepo = make_county_repo(root)
    config = {"TESTING": True, "REPO": str(county.path), "DATA_DIR": str(root / "server"), "SECRET_KEY": "t"}
    yield create_county_app(config).test_client()


def test_phone_pages_fill_each_villages_own_committee(phone: FlaskClient) -> None:
    taoyuan = text_of(phone.get("/m/taoyuan/power/dibao-shenqing"))
    assert "桃源村村务监督委员会" in taoyuan and "0000-5550311" in taoyuan and "县民政局" in taoyuan
    songping = text_of(phone.get("/m/songping/power/dibao-shenqing"))
    assert "松坪村村务监督委员会" in songping and "0000-5550411" in songping and "桃源村" not in songping


def test_phone_pages_show_the_number_the_outcomes_and_the_list(phone: FlaskClient) -> None:
    assert "编号 QHXW-21" in text_of(phone.get("/m/taoyuan/power/dibao-shenqing"))
    assert "No. QHXW-21" in text_of(phone.get("/m/taoyuan/power/dibao-shenqing?lang=en"))
    assert "编号 QHXW-21" in text_of(phone.get("/m/taoyuan/powers/5"))
    decision = text_of(phone.get("/m/taoyuan/power/zhongda-shixiang-juece"))
    assert "未获通过 ↩ 回到第 4 步：村“两委”商议" in decision and "四议两公开" in decision
    catalogue = phone.get("/m/taoyuan/catalogue/shjz-dibao-duixiang").get_data(as_text=True)
    assert "<li>保障人数、保障金额</li>" in catalogue
    assert "26个重点领域政务公开目录" in text_of(phone.get("/m/taoyuan/"))


def text_of_html(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


# The studio: a block's outcomes in the steps editor, through a clerk's save and a review.


def test_the_studio_keeps_a_blocks_outcomes_through_a_save_and_a_review(
    studio: Flask,  # noqa: F811 - the fixture
    county_repo: CountyRepo,
) -> None:
    wang = signed(studio, "wang")
    fields = form_of(wang, "/studio/powers/zhongda-shixiang-juece")
    assert fields["steps.2.kind"] == "four_two" and fields["steps.2.outcomes.1.to"] == "decide-2"
    assert fields["steps.2.outcomes.2.when"] == "村民意见分歧较大" and fields["supervision.village"] == "on"
    typed = {**fields, "steps.2.outcomes.0.when": "党员大会未通过", "reason": "改写结果", "submit": "1"}
    assert post(wang, "/studio/powers/save", typed).status_code == 302  # type: ignore[attr-defined]
    li = signed(studio, "li")
    change = re.search(r"/studio/changes/(\d+)", li.get("/studio/").text)
    assert change is not None
    token = csrf_token(li, "/studio/")
    assert li.post(f"/studio/changes/{change.group(1)}/approve", data={"csrf_token": token}).status_code == 302
    power = next(p for p in load_county(county_repo.content).powers if p["id"] == "zhongda-shixiang-juece")
    by_id = {step["id"]: step["goes_to"] for step in power["steps"]}
    assert by_id["decide-3"] == [{"when": "通过", "to": "decide-4"}, {"when": "党员大会未通过", "to": "decide-2"}]
    assert {"when": "未获通过", "to": "decide-2"} in by_id["decide-4"] and power["four_two"]
    assert power["supervision"]["village"] is True, "the village's own committee kept"
