"""好差评 on the kiosk: a rating stored once, with the day only, queued for the county, and nothing else taken."""

from __future__ import annotations

import importlib.resources
import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from kiosk.data import accounts, notices
from kiosk.data.local_db import open_local
from kiosk.demo import install_demo
from kiosk.screens import create_app
from kiosk.screens.feedback import LEVELS, REASONS
from kiosk.staff import create_staff_app
from kiosk.web import SlidingWindow
from sync.contract.dates import local_now
from tests.browser import KIOSK_SCREEN
from tests.servers import serving
from tests.test_screens import text_of
from tests.test_staff import PASSWORD, csrf_token
from tests.test_touch_browser import INTERACTIVE, MIN_TARGET, MIN_TEXT, SMALL_TARGETS, SMALL_TEXT

PAGES = {
    "power": "/powers/dibao-shenqing",
    "notice": "/notice/caiwu-2026-10-taoyuan",
    "catalogue": "/catalogue/zdjs-zhaobiao",
}
NOT_DETAIL = (
    "/", "/powers", "/powers/category/0", "/ten-ones", "/notices", "/notices/finance", "/catalogue",
    "/catalogue/area/0", "/contacts", "/search", "/search?q=db", "/attract", "/powers/no-such?feedback=rate",
)  # fmt: skip


def today() -> str:
    return local_now("Asia/Shanghai").date().isoformat()


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    install_demo(tmp_path)
    return tmp_path


def make_app(data: Path) -> Flask:
    return create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "x"})


@pytest.fixture()
def app(data: Path) -> Flask:
    return make_app(data)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.get("/lang/en")
    return client


def rows(data: Path, table: str) -> list[dict[str, Any]]:
    db = open_local(data)
    try:
        return [dict(row) for row in db.execute(f"select * from {table}")]  # noqa: S608 - a test's fixed names
    finally:
        db.close()


def token_on(client: FlaskClient, kind: str = "power") -> str:
    """Open the rating panel of *kind*'s page and return the session's token (from the form, if it shows one)."""
    panel = client.get(f"{PAGES[kind]}?feedback=rate").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', panel)
    if found:
        return found.group(1)
    with client.session_transaction() as session:  # rated already: the panel thanks instead
        secret = session["csrf_token"]
    # A token as Flask-WTF signs it for this session, as the form would have carried.
    return URLSafeTimedSerializer(str(client.application.secret_key), salt="wtf-csrf-token").dumps(secret)


def has_rating(page: str) -> bool:
    return bool(re.search(r'class="[^"]*feedback|action="/feedback', page))


def rate(client: FlaskClient, kind: str = "power", token: str | None = None, **form: Any) -> Any:
    """Post a rating of the page of *kind* (level 5 unless told) with this session's token."""
    item_id = PAGES[kind].rsplit("/", 1)[1]
    fields = {"csrf_token": token_on(client, kind) if token is None else token, "level": "5", **form}
    return client.post(f"/feedback/{kind}/{item_id}", data=fields)


def test_a_rating_is_kept_with_the_day_only_and_queued_for_the_county(client: FlaskClient, data: Path) -> None:
    token = token_on(client)
    response = rate(client, token=token, level="4", reason=["clear", "quick"])
    assert response.status_code == 303 and response.headers["Location"] == "/powers/dibao-shenqing?feedback=thanks"
    thanks = text_of(client.get(response.headers["Location"]))
    assert "Thank you for your rating" in thanks and "Your rating carries no name" in thanks

    [kept] = rows(data, "feedback")
    assert kept == {"id": kept["id"], "at": today(), "kind": "power", "item_id": "dibao-shenqing", "level": 4,
                    "reasons": '["quick", "clear"]'}  # fmt: skip
    [queued] = rows(data, "outbox")
    assert queued["kind"] == "feedback" and queued["idempotency_key"] == kept["id"]
    assert uuid.UUID(queued["idempotency_key"]).version == 4
    assert queued["created_at"] == today(), "not even the outbox keeps the moment"
    payload = json.loads(queued["payload"])
    assert payload == {"kind": "power", "item_id": "dibao-shenqing", "level": 4, "reasons": ["quick", "clear"],
                       "day": today()}  # fmt: skip
    assert token not in json.dumps([kept, queued]), "nothing of the session leaves with the rating"


@pytest.mark.parametrize("kind", PAGES)
def test_every_detail_page_offers_the_five_levels_and_thanks(client: FlaskClient, data: Path, kind: str) -> None:
    page = client.get(PAGES[kind]).get_data(as_text=True)
    assert f'href="{PAGES[kind]}?feedback=rate"' in page and "Rate this service" in page
    assert 'name="level"' not in page, "the panel opens only when asked"
    panel = client.get(f"{PAGES[kind]}?feedback=rate")
    text = text_of(panel)
    assert all(str(label) in text for label in LEVELS.values()), "every level has its words, not only a face"
    assert all(str(label) in text for label in REASONS.values())
    assert "How satisfied are you?" in text and panel.get_data(as_text=True).count('type="radio" name="level"') == 5
    response = rate(client, kind, level="1", reason=["slow"])
    assert response.headers["Location"] == f"{PAGES[kind]}?feedback=thanks"
    assert "Thank you for your rating" in text_of(client.get(response.headers["Location"]))
    assert [(row["kind"], row["level"], row["reasons"]) for row in rows(data, "feedback")] == [(kind, 1, '["slow"]')]


def test_the_levels_have_the_wording_of_the_domain() -> None:
    assert [str(label) for label in LEVELS.values()] == [
        "Very satisfied", "Satisfied", "Basically satisfied", "Dissatisfied", "Very dissatisfied",
    ]  # fmt: skip
    assert list(LEVELS) == [5, 4, 3, 2, 1]


@pytest.mark.parametrize("path", NOT_DETAIL)
def test_nothing_to_rate_on_other_pages(client: FlaskClient, path: str) -> None:
    page = client.get(path).get_data(as_text=True)
    assert not has_rating(page) and "Rate this service" not in page


def test_the_staff_consoles_preview_of_a_notice_has_no_rating(data: Path) -> None:
    db = open_local(data)
    accounts.add(db, "bo", "staff", PASSWORD, actor="test")
    db.close()
    staff = create_staff_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "t", "DEFAULT_LOCALE": "en"})
    client = staff.test_client()
    client.post("/sign-in", data={"name": "bo", "password": PASSWORD, "csrf_token": csrf_token(client)})
    notice_id = new_village_notice(data, publish=False)
    preview = client.get(f"/notices/{notice_id}/preview?feedback=rate")
    assert preview.status_code == 200 and "Draft" in text_of(preview)
    screen = client.get(f"/notices/{notice_id}/preview/screen?feedback=rate")
    assert screen.status_code == 200 and not has_rating(screen.get_data(as_text=True))


def new_village_notice(data: Path, publish: bool) -> str:
    values = {"domain": "village", "title": "关于村道维修的通知", "body": "本周六维修村道。", "published": today(),
              "expires": "", "min_posting_days": "", "pinned": ""}  # fmt: skip
    db = open_local(data)
    try:
        return notices.create(db, "bo", values, local_now("Asia/Shanghai"), publish=publish)
    finally:
        db.close()


def test_a_village_notice_can_be_rated_too(client: FlaskClient, data: Path) -> None:
    notice_id = new_village_notice(data, publish=True)
    page = client.get(f"/notice/{notice_id}?feedback=rate").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = client.post(f"/feedback/notice/{notice_id}", data={"csrf_token": token.group(1), "level": "3"})
    assert response.status_code == 303
    assert [(row["item_id"], row["level"]) for row in rows(data, "feedback")] == [(notice_id, 3)]


@pytest.mark.parametrize(
    "reasons",
    [["quick", "my name is 张三"], ["quick", "<script>"], ["QUICK"], ["quick", ""], ["friendly", "slow ", "clear"]],
)
def test_reasons_are_only_the_fixed_codes(client: FlaskClient, data: Path, reasons: list[str]) -> None:
    response = rate(client, reason=reasons)
    assert response.status_code == 400 and "Your rating was not recorded" in text_of(response)
    assert rows(data, "feedback") == [] and rows(data, "outbox") == []


def test_reasons_left_hidden_by_another_level_are_not_kept(client: FlaskClient, data: Path) -> None:
    # Tapped 满意 and 态度好, then changed to 不满意: 态度好 is no longer on the screen.
    assert rate(client, level="2", reason=["friendly", "slow", "slow"]).status_code == 303
    [kept] = rows(data, "feedback")
    assert json.loads(kept["reasons"]) == ["slow"]


def test_reasons_are_optional(client: FlaskClient, data: Path) -> None:
    assert rate(client, level="3").status_code == 303
    assert [(row["level"], row["reasons"]) for row in rows(data, "feedback")] == [(3, "[]")]


@pytest.mark.parametrize("level", ["0", "6", "-1", "5.0", " 5", "五", "", None])
def test_a_level_outside_the_five_is_refused(client: FlaskClient, data: Path, level: str | None) -> None:
    form = {"csrf_token": token_on(client)} | ({} if level is None else {"level": level})
    response = client.post("/feedback/power/dibao-shenqing", data=form)
    assert response.status_code == 400
    assert rows(data, "feedback") == [] and rows(data, "outbox") == []


def test_a_rating_without_this_sessions_token_is_refused(client: FlaskClient, app: Flask, data: Path) -> None:
    other = app.test_client()
    other_token = token_on(other)
    token_on(client)  # this session has a token of its own
    for token in ("", "forged", other_token):
        assert rate(client, token=token).status_code == 400, token
    fresh = app.test_client()  # a page from another site: no session at all
    refused = fresh.post("/feedback/power/dibao-shenqing", data={"csrf_token": other_token, "level": "5"})
    assert refused.status_code == 400 and "评价没有记下" in text_of(refused), "the kiosk's own page, in its language"
    assert rows(data, "feedback") == [] and rows(data, "outbox") == []


def test_only_pages_the_kiosk_shows_can_be_rated(client: FlaskClient, data: Path) -> None:
    token = token_on(client)
    for path in ("/feedback/power/no-such", "/feedback/notice/no-such", "/feedback/ten_ones/1", "/feedback/x/dibao"):
        assert client.post(path, data={"csrf_token": token, "level": "5"}).status_code == 404, path
    assert client.get("/feedback/power/dibao-shenqing").status_code == 405
    assert rows(data, "feedback") == []


def test_one_rating_per_page_per_session(client: FlaskClient, app: Flask, data: Path) -> None:
    rate(client, level="5")
    again = rate(client, level="1")
    assert again.status_code == 303 and again.headers["Location"].endswith("?feedback=thanks"), "thanked, not scolded"
    assert [row["level"] for row in rows(data, "feedback")] == [5] and len(rows(data, "outbox")) == 1

    page = text_of(client.get(PAGES["power"]))
    assert "Rated. Thank you!" in page and "Rate this service" not in page
    assert 'name="level"' not in client.get(f"{PAGES['power']}?feedback=rate").get_data(as_text=True)
    assert rate(client, "catalogue").status_code == 303, "another page may be rated"

    client.get("/reset")  # the idle reset: the next person may rate the same page
    client.get("/lang/en")
    assert "Rate this service" in text_of(client.get(PAGES["power"]))
    rate(client, level="2")
    assert sorted(row["level"] for row in rows(data, "feedback")) == [2, 5, 5]


def test_two_taps_arriving_together_count_once(client: FlaskClient, data: Path) -> None:
    token = token_on(client)
    before = client.get_cookie("session")
    assert before is not None
    rate(client, token=token)
    client.set_cookie("session", before.value)  # the second request carries the cookie the first one had
    assert rate(client, token=token).headers["Location"].endswith("?feedback=thanks")
    assert len(rows(data, "feedback")) == 1 and len(rows(data, "outbox")) == 1


def test_a_whole_kiosk_takes_a_limited_number_of_ratings_an_hour(app: Flask, data: Path) -> None:
    now = [1000.0]
    app.extensions["feedback"] = SlidingWindow(2, clock=lambda: now[0])
    people = [app.test_client() for _ in range(4)]
    for person in people:
        person.get("/lang/en")
    assert rate(people[0]).headers["Location"].endswith("?feedback=thanks")
    assert rate(people[1]).headers["Location"].endswith("?feedback=thanks")
    busy = rate(people[2])
    assert busy.headers["Location"] == "/powers/dibao-shenqing?feedback=busy"
    assert "Please rate later" in text_of(people[2].get(busy.headers["Location"]))
    assert "Rate this service" in text_of(people[2].get(PAGES["power"])), "refused, so not rated: may try later"
    assert len(rows(data, "feedback")) == 2
    now[0] += 3601
    assert rate(people[3]).headers["Location"].endswith("?feedback=thanks")
    assert len(rows(data, "feedback")) == 3


def test_the_guard_forgets_after_an_hour() -> None:
    now = [0.0]
    guard = SlidingWindow(3, clock=lambda: now[0])
    assert [guard.take(p) for p in ("a x", "a x", "b x", "c x", "d x")] == [None, "again", None, None, "limit"]
    now[0] = 3600.5
    assert guard.take("a x") is None and guard.take("d x") is None


def test_the_feedback_table_keeps_no_order_and_checks_its_values(data: Path) -> None:
    db = open_local(data)
    columns = [row["name"] for row in db.execute("pragma table_info(feedback)")]
    assert columns == ["id", "at", "kind", "item_id", "level", "reasons"]
    with pytest.raises(sqlite3.OperationalError):
        db.execute("select rowid from feedback")  # without rowid: rows are kept in key order, not arrival order
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("insert into feedback (id, at, kind, item_id, level) values ('k', '2026-11-27', 'power', 'x', 6)")
    db.close()


# --- In the browser -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rating_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A kiosk of its own: these tests write ratings, which the shared demo server must not see."""
    data = tmp_path_factory.mktemp("feedback-browser")
    install_demo(data)
    with serving(create_app({"DATA_DIR": str(data), "SECRET_KEY": "feedback-browser"})) as url:
        yield url, data


@pytest.fixture()
def tab(browser: Browser, rating_server: tuple[str, Path]) -> Iterator[Page]:
    context = browser.new_context(base_url=rating_server[0], viewport=KIOSK_SCREEN, has_touch=True, locale="zh-CN")
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))

    def record_error(message: ConsoleMessage) -> None:
        # Chromium logs Content-Security-Policy refusals and failed loads as console errors (the kiosk has no icon).
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{message.location.get('url')}: {message.text}")

    page.on("console", record_error)
    yield page
    context.close()
    assert errors == [], "the browser reported errors (a Content-Security-Policy refusal?)"


def test_tap_a_level_and_a_reason_and_be_thanked(tab: Page, rating_server: tuple[str, Path]) -> None:
    tab.goto("/lang/en?next=/powers/dibao-shenqing")
    tab.get_by_role("link", name="Rate this service").tap()
    expect(tab.get_by_role("dialog", name="How satisfied are you?")).to_be_visible()
    expect(tab.get_by_role("button", name="Send my rating")).to_be_hidden()  # until a level is chosen
    tab.get_by_role("radio", name="Satisfied", exact=True).tap()
    expect(tab.get_by_text("What was good? You may skip this.")).to_be_visible()
    expect(tab.get_by_text("What should be better? You may skip this.")).to_be_hidden()
    tab.get_by_role("checkbox", name="Friendly staff").tap()
    expect(tab.get_by_role("checkbox", name="Friendly staff")).to_be_checked()
    expect(tab.get_by_role("radio", name="Satisfied", exact=True)).to_be_checked()
    with tab.expect_navigation():
        tab.get_by_role("button", name="Send my rating").tap()
    expect(tab.get_by_role("heading", name="Thank you for your rating")).to_be_visible()
    tab.get_by_role("link", name="Back to the page").tap()
    expect(tab.get_by_text("Rated. Thank you!")).to_be_visible()
    expect(tab.get_by_role("link", name="Rate this service")).to_have_count(0)
    kept = [row for row in rows(rating_server[1], "feedback") if row["item_id"] == "dibao-shenqing"]
    assert [(row["level"], row["reasons"], row["at"]) for row in kept] == [(4, '["friendly"]', today())]


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_the_rating_panel_is_as_big_clear_and_accessible_as_every_screen(
    browser: Browser, rating_server: tuple[str, Path], mode: str
) -> None:
    # axe-core is injected as a script: this context alone lets it past the page's script policy.
    context = browser.new_context(base_url=rating_server[0], viewport=KIOSK_SCREEN, has_touch=True, bypass_csp=True)
    tab = context.new_page()
    if mode == "elder":
        tab.goto("/elder")
    source = importlib.resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")
    problems: dict[str, list[str]] = {}
    for state in ("rate", "chosen", "thanks"):
        if state == "chosen":
            tab.locator(".feedback-level").nth(2).tap()  # 基本满意: the reasons to improve and the send button show
            tab.locator(".feedback-reasons-better .feedback-reason").first.tap()
            tab.mouse.click(1, 1)  # let go of the last tap
        else:
            if state == "thanks":
                with tab.expect_navigation():
                    tab.locator(".feedback-send").tap()
            else:
                tab.goto(f"{PAGES['catalogue']}?feedback={state}")
        tab.add_script_tag(content=source)
        result: dict[str, Any] = tab.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        serious = [f"{v['id']}: {v['help']}" for v in result["violations"] if v["impact"] in ("serious", "critical")]
        small = tab.evaluate(SMALL_TARGETS % {"min": MIN_TARGET}, INTERACTIVE)
        tiny = tab.evaluate(SMALL_TEXT, MIN_TEXT[mode])
        if serious or small or tiny:
            problems[state] = serious + small + tiny
    context.close()
    assert problems == {}


def test_a_chosen_level_shows_it_is_pressed_and_is_marked_by_more_than_colour(tab: Page) -> None:
    tab.goto(f"{PAGES['notice']}?feedback=rate")
    level = tab.locator(".feedback-level").first
    box = level.bounding_box()
    assert box is not None and min(box["width"], box["height"]) >= MIN_TARGET
    before = level.evaluate("e => getComputedStyle(e).transform + getComputedStyle(e).filter")
    tab.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tab.mouse.down()
    pressed = level.evaluate("e => getComputedStyle(e).transform + getComputedStyle(e).filter")
    tab.mouse.up()
    assert pressed != before, "pressing a level shows it"
    expect(level.locator("input")).to_be_checked()
    tick = level.locator(".feedback-label").evaluate("e => getComputedStyle(e, '::before').content")
    assert tick.startswith('"✓"'), "a tick, not only a colour"
