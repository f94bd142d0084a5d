"""When villagers see a notice: one rule, kept alike by every screen that shows one and by the phone pages.

A notice is out once its publication time has come: before, its page, slip, reading, rating and
phone page are all 404. Out, it is on show until it expires; expired, it is archived and still open
to read (the archive lists link to it), marked so.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from kiosk.county import create_county_app
from kiosk.data.queries import ARCHIVED, ON_SHOW, OUT, content_time, is_archived, is_on_show, is_out
from kiosk.screens import create_app
from sync.contract.dates import local_now
from sync.receive.updater import init_kiosk, sync_kiosk
from tests.county_repo import VILLAGE, CountyRepo, make_county_repo
from tests.test_screens import text_of
from tests.test_slip import Printers

TOMORROW, EXPIRED, EXPIRING = "out-tomorrow-taoyuan", "expired-taoyuan", "expiring-taoyuan"
# The moment EXPIRING expires: a minute in the county's time, after the repository's signatures.
AT = local_now("Asia/Shanghai").replace(second=0, microsecond=0) + timedelta(days=3)


@dataclass
class Sides:
    """A kiosk of the demo village synced from the county's repository, and the county's phone pages."""

    kiosk_data: Path
    repo: Path

    def kiosk(self) -> FlaskClient:
        config = {"TESTING": True, "DATA_DIR": str(self.kiosk_data), "SECRET_KEY": "x", "PAGE_SIZE": 100,
                  "PRINTER_FACTORY": Printers()}  # fmt: skip
        client = create_app(config).test_client()
        client.get("/lang/en")
        return client

    def phone(self) -> FlaskClient:
        county = self.kiosk_data.parent / "county-server"
        config = {"TESTING": True, "REPO": str(self.repo), "DATA_DIR": str(county), "SECRET_KEY": "t"}
        return create_county_app(config).test_client()


def add_notice(county: CountyRepo, notice_id: str, published: datetime, expires: datetime | None = None) -> None:
    """Write a 村务 notice for the demo village, as a county officer would."""
    lines = ["---", f"id: {notice_id}", "domain: 村务", f"title: 通知 {notice_id}", f"village: {VILLAGE}",
             f'published: "{published:%Y-%m-%d %H:%M}"', "pinned: true"]  # fmt: skip
    lines += [f'expires: "{expires:%Y-%m-%d %H:%M}"'] if expires else []
    text = "\n".join([*lines, "---", "村民代表会议决定的事项，现予公开。", ""])
    (county.content / "notices" / f"{notice_id}.md").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Sides:
    """The demo county with a notice out tomorrow, one expired an hour ago and one expiring AT, on both sides."""
    root = tmp_path_factory.mktemp("on-show")
    county = make_county_repo(root / "county")
    now = local_now("Asia/Shanghai")
    add_notice(county, TOMORROW, now + timedelta(days=1))
    add_notice(county, EXPIRED, now - timedelta(days=10), now - timedelta(hours=1))
    add_notice(county, EXPIRING, now - timedelta(days=10), AT)
    county.publish()
    init_kiosk(root / "kiosk", VILLAGE, str(county.path), county.root)
    assert sync_kiosk(root / "kiosk", now=datetime.now(UTC)).outcome == "updated"
    return Sides(root / "kiosk", county.path)


def form_token(kiosk: FlaskClient) -> str:
    """Return the session's token for villager forms, from a power page's rating panel."""
    panel = kiosk.get("/powers/dibao-shenqing?feedback=rate").get_data(as_text=True)
    found = re.search(r'name="token" value="([^"]+)"', panel)
    assert found, "the rating panel carries the session's token"
    return found.group(1)


def detail_page(sides: Sides, notice_id: str) -> int:
    return sides.kiosk().get(f"/notice/{notice_id}").status_code


def slip(sides: Sides, notice_id: str) -> int:
    kiosk = sides.kiosk()
    return kiosk.post(f"/print/notice/{notice_id}", data={"token": form_token(kiosk)}).status_code


def read_aloud(sides: Sides, notice_id: str) -> int:
    with sides.kiosk().get(f"/speech/notice/{notice_id}.wav") as response:
        return response.status_code


def rating(sides: Sides, notice_id: str) -> int:
    kiosk = sides.kiosk()
    return kiosk.post(f"/feedback/notice/{notice_id}", data={"token": form_token(kiosk), "level": "5"}).status_code


def phone_page(sides: Sides, notice_id: str) -> int:
    return sides.phone().get(f"/m/{VILLAGE}/notice/{notice_id}").status_code


# Each consumer, and what it answers for a notice a villager may open: a page, or a redirect back to it.
CONSUMERS: list[tuple[Callable[[Sides, str], int], int]] = [
    (detail_page, 200), (slip, 303), (read_aloud, 200), (rating, 303), (phone_page, 200),
]  # fmt: skip


@pytest.mark.parametrize(("consumer", "open_answer"), CONSUMERS, ids=[c.__name__ for c, _ in CONSUMERS])
def test_a_notice_out_tomorrow_is_not_found_and_an_expired_one_is_open_as_archived(
    sides: Sides, consumer: Callable[[Sides, str], int], open_answer: int
) -> None:
    assert shutil.which("espeak-ng"), "Debian's espeak-ng is needed (scripts/test installs it)"
    assert consumer(sides, TOMORROW) == 404, "nobody may see a notice before its publication time"
    assert consumer(sides, EXPIRED) == open_answer, "an expired notice stays open, from the archive"


def test_neither_is_listed_on_show_and_only_the_expired_one_is_archived(sides: Sides) -> None:
    kiosk, phone = sides.kiosk(), sides.phone()
    on_show = kiosk.get("/notices/village").get_data(as_text=True) + kiosk.get("/attract").get_data(as_text=True)
    on_show += phone.get(f"/m/{VILLAGE}/notices/village").text + phone.get(f"/m/{VILLAGE}/").text
    archive = kiosk.get("/notices/village/archive").get_data(as_text=True)
    assert EXPIRING in on_show and TOMORROW not in on_show and EXPIRED not in on_show
    assert EXPIRED in archive and TOMORROW not in archive and EXPIRING not in archive
    assert "· Archive" in text_of(kiosk.get(f"/notice/{EXPIRED}"))
    assert "· Archive" in phone.get(f"/m/{VILLAGE}/notice/{EXPIRED}?lang=en").text
    assert TOMORROW not in kiosk.get("/search?q=通知").get_data(as_text=True), "nor found by the search"


def test_at_the_moment_a_notice_expires_every_screen_and_phone_page_has_it_archived(
    sides: Sides, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until now the lists kept it on show for that second while the attract screen had let it go."""
    monkeypatch.setattr("kiosk.data.clock.utc_now", lambda: AT.replace(tzinfo=ZoneInfo("Asia/Shanghai")))
    monkeypatch.setattr("kiosk.county.content.local_now", lambda _timezone: AT)
    kiosk, phone = sides.kiosk(), sides.phone()
    for listing in ("/notices/village", "/attract"):
        assert EXPIRING not in kiosk.get(listing).get_data(as_text=True), listing
    assert kiosk.get("/notices").status_code == 200
    assert EXPIRING in kiosk.get("/notices/village/archive").get_data(as_text=True)
    assert "· Archive" in text_of(kiosk.get(f"/notice/{EXPIRING}"))
    assert EXPIRING not in phone.get(f"/m/{VILLAGE}/notices/village").text + phone.get(f"/m/{VILLAGE}/").text
    assert "· Archive" in phone.get(f"/m/{VILLAGE}/notice/{EXPIRING}?lang=en").text


@pytest.mark.parametrize(
    ("published_at", "expires_at"),
    [
        ("2026-11-27 09:00:00", None),
        ("2026-11-27 09:00:01", None),
        ("2026-11-27 08:59:59", "2026-11-27 09:00:00"),
        ("2026-11-27 08:59:59", "2026-11-27 09:00:01"),
        ("2026-11-20 00:00:00", "2026-11-26 23:59:59"),
        ("2026-11-28 00:00:00", "2026-12-05 23:59:59"),
    ],
)
def test_the_phone_pages_judge_a_notice_by_the_same_rule_as_the_kiosks_sql(
    published_at: str, expires_at: str | None
) -> None:
    now = datetime(2026, 11, 27, 9, 0, 0)
    notice = {"published_at": published_at, "expires_at": expires_at}
    one_row = "(select :published_at as published_at, :expires_at as expires_at)"
    db = sqlite3.connect(":memory:")
    try:
        sql = f"select {OUT}, {ON_SHOW}, {ARCHIVED} from {one_row}"  # noqa: S608 - the rule's own text
        judged = db.execute(sql, {**notice, "now": content_time(now)}).fetchone()
    finally:
        db.close()
    assert tuple(bool(v) for v in judged) == (is_out(notice, now), is_on_show(notice, now), is_archived(notice, now))
