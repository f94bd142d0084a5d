"""Elder mode, the reset for the next person and the attract screen, through the Flask test client."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from kiosk.screens import create_app
from tests.test_screens import text_of


@pytest.fixture()
def app_client_with_idle(demo_data: Path) -> FlaskClient:
    return create_app(
        {"TESTING": True, "DATA_DIR": str(demo_data), "SECRET_KEY": "t", "IDLE_SECONDS": 30}
    ).test_client()


def html_class(client: FlaskClient, path: str = "/") -> str:
    match = re.search(r"<html [^>]*?(?:class=\"([^\"]*)\")?>", client.get(path).get_data(as_text=True))
    assert match is not None
    return match.group(1) or ""


def test_elder_mode_is_a_button_on_every_screen_and_stays_on_until_reset(client: FlaskClient) -> None:
    for path in ("/", "/powers", "/notices", "/contacts", "/search", "/powers/dibao-shenqing"):
        page = client.get(path).get_data(as_text=True)
        assert 'class="button elder-button"' in page and 'aria-pressed="false"' in page, path
    switched = client.get("/elder?next=/powers")
    assert switched.status_code == 302 and switched.headers["Location"] == "/powers"
    assert "elder" in html_class(client, "/powers") and "elder" in html_class(client, "/contacts")
    assert 'aria-pressed="true"' in client.get("/").get_data(as_text=True)
    client.get("/elder?next=/")
    assert "elder" not in html_class(client), "the same button turns it off"


def test_elder_mode_redirects_only_inside_the_kiosk(client: FlaskClient) -> None:
    for target in ("https://example.com/", "//example.com", "/\t/example.com"):
        assert client.get("/elder", query_string={"next": target}).headers["Location"] == "/"


def test_reset_forgets_language_and_elder_mode_and_shows_the_attract_screen(client: FlaskClient) -> None:
    client.get("/lang/en")
    client.get("/elder")
    assert "elder" in html_class(client) and 'lang="en"' in client.get("/").get_data(as_text=True)
    reset = client.get("/reset")
    assert reset.status_code == 302 and reset.headers["Location"] == "/attract"
    home = client.get("/").get_data(as_text=True)
    assert "elder" not in html_class(client) and 'lang="zh-Hans"' in home, "back to the kiosk's defaults"


def test_the_attract_screen_cycles_notices_on_show_pinned_first_and_any_tap_starts(client: FlaskClient) -> None:
    page = client.get("/attract")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'data-attract="1"' in body and 'class="attract" href="/"' in body, "the whole screen is a link home"
    slides = re.findall(r'<span class="attract-title">([^<]+)</span>', body)
    assert "桃源村2026年10月财务收支公开" in slides[:2], "a pinned notice comes first"
    assert len(slides) >= 3 and body.count('class="attract-slide current"') == 1
    assert "触摸屏幕" in text_of(page)


def test_every_screen_carries_the_idle_countdown_and_its_settings(app_client_with_idle: FlaskClient) -> None:
    page = app_client_with_idle.get("/powers").get_data(as_text=True)
    assert 'data-idle="30"' in page and 'data-reset="/reset"' in page
    assert 'id="idle-overlay"' in page and "继续使用" in page
    assert "/static/kiosk.js" in page
