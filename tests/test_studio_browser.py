"""The whole clerk flow in Debian's Chromium, as the county's people do it: an editor imports the
township's Excel list (20 items, 2 bad rows), fixes the bad rows in the form (a decision drawn
live, a fall-through caught), submits; the township's reviewer approves; the publisher publishes; a
village kiosk syncs and shows the items with the right flowcharts. Screenshots go to
test-artifacts/studio/ for people to look at."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect

from kiosk.county import CountyServer, create_county_app
from kiosk.county.repo_files import RepositoryApp
from kiosk.county.store import open_store
from kiosk.data import accounts
from kiosk.screens import create_app
from sync.receive.updater import sync_kiosk
from tests.browser import guarded
from tests.county_repo import CountyRepo
from tests.servers import serving
from tests.test_import_xlsx import power_row, write_sheet
from tests.test_staff import PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "studio"
DESK = {"width": 1366, "height": 768}  # a county office's laptop


@dataclass
class County:
    url: str
    app: Flask
    repo: CountyRepo
    browser: Browser

    def person(self, name: str) -> tuple[BrowserContext, Page]:
        """A browser of its own for *name*, signed in; it fails the test if a page reaches outside or errs."""
        context, outside, errors = guarded(self.browser, self.url, base_url=self.url, viewport=DESK, locale="zh-CN")
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/sign-in")
        page.fill("#name", name)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator(".staff-who")).to_contain_text(name)
        context.on("close", lambda _context: _no_surprises(outside, errors))
        return context, page


def _no_surprises(outside: list[str], errors: list[str]) -> None:
    assert outside == [], f"the studio requested something outside the server: {outside}"
    # A form sent back with its problems (422), a conflict (409) or a file too large (413) is an answer, which
    # Chromium logs as a failed load
    answers = r"/studio/(powers/save|import)[^ ]*: .* status of (422|409|413) "
    unexpected = [error for error in errors if not re.search(answers, error)]
    assert unexpected == [], f"the browser reported errors: {unexpected}"


@pytest.fixture
def county(browser: Browser, county_repo: CountyRepo, tmp_path: Path) -> Iterator[County]:
    data = tmp_path / "county-server"
    app = create_county_app({"REPO": str(county_repo.path), "DATA_DIR": str(data), "SECRET_KEY": "s",
                             "CONTENT_DIR": str(county_repo.content), "KEYS_DIR": str(county_repo.keys)})  # fmt: skip
    db = open_store(data)
    for name, role, township in (("王芳", "editor", ""), ("李审核", "reviewer", "qingxi"), ("赵发布", "publisher", "")):
        accounts.add(db, name, role, PASSWORD, "(test)", roles=accounts.COUNTY_ROLES, township=township)
    db.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serving(CountyServer(county_repo.path, app)) as url:
        yield County(url, app, county_repo, browser)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def test_the_clerk_flow_from_an_excel_list_to_the_village_kiosk(
    county: County, tmp_path: Path, kiosk_data: Path
) -> None:
    rows = [power_row(n) for n in range(1, 21)]
    rows[6] = power_row(7, **{"办理时限": ""})  # the sheet's row 9
    rows[11] = power_row(12, **{"监督方式": "村务监督委员会"})  # row 14: no phone
    sheet = write_sheet(tmp_path / "清溪镇小微权力清单.xlsx", rows)

    editor_context, editor = county.person("王芳")
    editor.goto("/studio/import")
    editor.set_input_files("#sheet", str(sheet))
    editor.select_option("#place", "township:qingxi")
    editor.get_by_role("button", name="读取表格").click()
    expect(editor.locator("body")).to_contain_text("新增 18 项，修改 0 项，不变 0 项。")
    expect(editor.locator("[role=alert]")).to_contain_text("第 9 行「办理时限」为空")
    expect(editor.locator("[role=alert]")).to_contain_text("第 14 行没有监督电话")
    shot(editor, "1-import-preview")
    editor.get_by_role("button", name="为新增和修改的事项生成草稿").click()
    expect(editor.locator(".staff-flash").first).to_contain_text("已根据表格生成 20 份草稿")
    editor.get_by_role("button", name="提交我所有没有问题的草稿").click()
    expect(editor.locator(".staff-flash").first).to_contain_text("已提交审核 18 项；还有 2 项有问题需要改正。")

    # Row 9's item: its time limit, and a decision at its second step, drawn as the clerk works.
    editor.goto("/studio/powers/cunji-shixiang-07-shenpi")
    expect(editor.locator("#time_limit-error")).to_be_visible()
    editor.fill("#time_limit", "10个工作日")
    editor.select_option("#steps\\.1\\.then", "decide")
    editor.get_by_role("button", name="添加一个结果").nth(1).click()
    editor.get_by_role("button", name="添加一个步骤").click()
    editor.fill("#steps\\.3\\.title", "退回申请人并说明理由")
    editor.fill("#steps\\.3\\.actor", "村民委员会")
    editor.select_option("#steps\\.3\\.then", "end")
    editor.fill("#steps\\.1\\.branches\\.0\\.when", "审核通过")
    editor.select_option("#steps\\.1\\.branches\\.0\\.to", label="3. 张榜公示")
    editor.fill("#steps\\.1\\.branches\\.1\\.when", "审核不通过")
    editor.select_option("#steps\\.1\\.branches\\.1\\.to", label="4. 退回申请人并说明理由")
    chart = editor.frame_locator("iframe[name=flowchart]")
    expect(chart.locator(".flow-title").nth(3)).to_have_text("退回申请人并说明理由")  # redrawn as they type
    editor.get_by_role("button", name="保存并提交审核").click()
    # 张榜公示 says nothing of where it goes: by list order it would run on into the refusal
    expect(editor.locator("#steps\\.2\\.id-error")).to_contain_text("退回申请人并说明理由")
    shot(editor, "2-form-fall-through")
    editor.select_option("#steps\\.2\\.then", "end")
    expect(chart.locator(".flow-side .flow-title")).to_have_text("退回申请人并说明理由")  # now beside the column
    editor.locator(".studio-steps").scroll_into_view_if_needed()
    shot(editor, "3-form-decision")
    editor.get_by_role("button", name="保存并提交审核").click()
    expect(editor.locator("h1")).to_contain_text("改动")

    editor.goto("/studio/powers/cunji-shixiang-12-shenpi")
    editor.fill("#supervision\\.phone", "0000-5552411")
    editor.get_by_role("button", name="保存并提交审核").click()
    expect(editor.locator("h1")).to_contain_text("改动")
    editor_context.close()

    reviewer_context, reviewer = county.person("李审核")
    reviewer.goto("/studio/")
    waiting = reviewer.locator("section, body").locator("a.staff-item-title")
    expect(waiting).to_have_count(20)
    links = [link.get_attribute("href") or "" for link in waiting.all()]
    for number, link in enumerate(links):
        reviewer.goto(link)
        if number == 0:
            shot(reviewer, "4-review")
        reviewer.get_by_role("button", name="审核通过").click()
        expect(reviewer.locator(".staff-flash").first).to_contain_text("已审核通过")
    reviewer_context.close()

    publisher_context, publisher = county.person("赵发布")
    publisher.goto("/studio/publish")
    expect(publisher.locator(".staff-list .staff-item")).to_have_count(20)
    publisher.get_by_role("button", name="检查并发布").click()
    expect(publisher.locator(".staff-flash")).to_contain_text("已发布第")
    expect(publisher.locator("table tr", has_text="township/qingxi").locator("td").nth(1)).to_have_text("20")
    shot(publisher, "5-published")
    publisher_context.close()

    with serving(RepositoryApp(county.repo.path)) as repository:
        assert sync_kiosk(kiosk_data, repository).outcome == "updated"
    kiosk = create_app({"TESTING": True, "DATA_DIR": str(kiosk_data), "SECRET_KEY": "x"}).test_client()
    found = kiosk.get("/powers/cunji-shixiang-07-shenpi").get_data(as_text=True)
    assert "10个工作日" in found
    side = re.search(r'class="flow-side".*?class="flow-title"[^>]*>([^<]+)<', found, re.S)
    assert side is not None and side.group(1) == "退回申请人并说明理由", "the refusal is drawn beside the column"
    assert kiosk.get("/powers/cunji-shixiang-12-shenpi").status_code == 200
    assert "0000-5552411" in kiosk.get("/powers/cunji-shixiang-12-shenpi").get_data(as_text=True)


def test_two_editors_on_one_item_get_a_conflict_never_an_overwrite(county: County) -> None:
    db = open_store(Path(county.app.config["DATA_DIR"]))
    accounts.add(db, "张三", "editor", PASSWORD, "(test)", roles=accounts.COUNTY_ROLES)
    db.close()
    first_context, first = county.person("王芳")
    second_context, second = county.person("张三")
    first.goto("/studio/powers/caiwu-kaizhi-shenpi")
    first.fill("#fee", "免费")
    first.get_by_role("button", name="保存草稿").click()
    expect(first.locator(".staff-flash").first).to_contain_text("已保存为草稿")
    first.goto("/studio/powers/caiwu-kaizhi-shenpi")  # the draft, as it was saved
    second.goto("/studio/powers/caiwu-kaizhi-shenpi")  # the same draft, opened at the same time
    second.fill("#fee", "每份2元")
    second.get_by_role("button", name="保存草稿").click()
    expect(second.locator(".staff-flash").first).to_contain_text("已保存为草稿")
    first.fill("#fee", "每份3元")
    first.get_by_role("button", name="保存草稿").click()
    expect(first.locator("[role=alert]")).to_contain_text("张三 在您打开之后")
    shot(first, "6-conflict")
    second.goto("/studio/powers/caiwu-kaizhi-shenpi")
    expect(second.locator("#fee")).to_have_value("每份2元")
    first_context.close()
    second_context.close()


def test_hostile_files_and_roles_in_the_browser(county: County, tmp_path: Path) -> None:
    bomb = tmp_path / "清单.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<a/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (20 * 1024 * 1024))  # 20 MB of nothing in a few KB
    marked_up = write_sheet(tmp_path / "带标记.xlsx", [power_row(1, **{"权力名称": "<script>alert(1)</script>审批"})])
    editor_context, editor = county.person("王芳")
    editor.goto("/studio/import")
    editor.set_input_files("#sheet", str(bomb))
    editor.get_by_role("button", name="读取表格").click()
    expect(editor.locator("[role=alert]")).to_contain_text("文件解压后远大于一张表格应有的大小，已拒绝")
    editor.goto("/studio/import")
    editor.set_input_files("#sheet", str(marked_up))
    editor.get_by_role("button", name="读取表格").click()
    expect(editor.locator(".staff-item-title").first).to_have_text("<script>alert(1)</script>审批")  # text, never run
    assert not list((Path(county.app.config["DATA_DIR"]) / "studio-imports").glob("*.xlsx"))[1:], "one kept, to draft"
    expect(editor.locator("nav.admin-nav")).not_to_contain_text("发布")  # an editor does not publish
    answer = editor.request.get(f"{county.url}/studio/publish")
    assert answer.status == 403
    editor_context.close()
    reviewer_context, reviewer = county.person("李审核")  # a reviewer of 清溪镇 only
    assert reviewer.request.get(f"{county.url}/studio/county/contacts").status == 403, "the county's own files"
    reviewer_context.close()


def test_a_notice_photo_sent_from_the_form_and_the_draft_on_a_phone_in_both_languages(
    county: County, tmp_path: Path
) -> None:
    from PIL import Image

    photo = tmp_path / "公开栏.jpg"
    Image.new("RGB", (803, 601), (190, 40, 40)).save(photo, "JPEG")  # a size no demo photo has
    context, editor = county.person("王芳")
    editor.goto("/studio/notices/caiwu-2026-10-taoyuan")
    editor.set_input_files("#new_photos", str(photo))
    editor.get_by_role("button", name="保存草稿").click()
    expect(editor.locator(".staff-flash").first).to_contain_text("已保存为草稿")
    kept = editor.locator("input[name=photo]").evaluate_all("(boxes) => boxes.map((box) => box.value)")
    [mine] = [ref for ref in kept if re.fullmatch(r"media/[0-9a-f]{64}\.jpg", ref)]
    thumbnail = editor.locator(f'.studio-photos img[src$="{mine.removeprefix("media/")}"]')
    expect(thumbnail).to_be_visible()
    assert thumbnail.evaluate("(img) => img.decode().then(() => img.naturalWidth)") == 803, "the photo as stored"
    editor.locator("#photos").scroll_into_view_if_needed()
    shot(editor, "7-notice-photo")
    change = editor.locator(".staff-flash a").first.get_attribute("href") or ""
    assert re.fullmatch(r"/studio/changes/\d+", change)

    editor.goto(f"/studio/preview/{change.rsplit('/', 1)[1]}?village=taoyuan&screen=phone")
    phone = editor.frame_locator(".phone-frame")
    expect(phone.locator("h1")).to_contain_text("桃源村2026年10月财务收支公开")
    picture = phone.locator(f'img[src$="/{mine.removeprefix("media/")}"]')
    picture.scroll_into_view_if_needed()  # drawn lazily, as a phone scrolls to it
    expect(picture).to_be_visible()
    assert picture.evaluate("(img) => img.decode().then(() => img.naturalWidth)") == 803, "the draft's photo"
    width = editor.locator(".phone-frame").evaluate("(frame) => frame.getBoundingClientRect().width")
    assert 380 <= width <= 394, "drawn at a phone's width"
    shot(editor, "8-phone-preview")

    editor.get_by_role("link", name="English").click()
    editor.goto("/studio/notices/caiwu-2026-10-taoyuan")
    expect(editor.locator("legend", has_text="Photos")).to_be_visible()
    expect(editor.get_by_label("Keep this photo").last).to_be_checked()
    expect(editor.locator("label[for=title]")).to_contain_text("Title")
    editor.locator("#photos").scroll_into_view_if_needed()
    shot(editor, "9-notice-form-en")
    context.close()
