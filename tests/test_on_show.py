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
from kiosk.county.store import open_store
from kiosk.data import notices
from kiosk.data.queries import ARCHIVED, ON_SHOW, OUT, content_time, is_archived, is_on_show, is_out
from kiosk.screens import create_app
from sync.contract.dates import local_now
from sync.receive.updater import init_kiosk, sync_kiosk
from tests.county_repo import VILLAGE, CountyRepo, make_county_repo
from tests.test_mobile import Kiosk
from tests.test_screens import text_of
from tests.test_slip import Printers
from tests.test_village_notices import values

# The moment a notice expires in the boundary test: a minute in the county's time, after the signatures.
AT = local_now("Asia/Shanghai").replace(second=0, microsecond=0) + timedelta(days=3)
WHOSE = ("county", "village")  # a county notice (signed repository) and the village's own (staff console)


@dataclass
class Sides:
    """A kiosk of the demo village synced from the county's repository, and the county's phone pages.

    *notices* holds each test notice's id by (whose, what): 'tomorrow' (out tomorrow), 'expired' (an
    hour ago), 'at' (the county's, expiring AT) or 'day' (the village's, expiring on AT's day).
    """

    kiosk_data: Path
    repo: Path
    notices: dict[tuple[str, str], str]

    def kiosk(self) -> FlaskClient:
        config = {"TESTING": True, "DATA_DIR": str(self.kiosk_data), "SECRET_KEY": "x", "PAGE_SIZE": 100,
                  "PRINTER_FACTORY": Printers()}  # fmt: skip
        client = create_app(config).test_client()
        client.get("/lang/en")
        return client

    def phone(self) -> FlaskClient:
        config = {"TESTING": True, "REPO": str(self.repo), "DATA_DIR": str(county_data(self)), "SECRET_KEY": "t"}
        return create_county_app(config).test_client()


def county_data(sides: Sides) -> Path:
    return sides.kiosk_data.parent / "county-server"


def title_of(whose: str, what: str) -> str:
    """The title of a test notice: every list shows it, the attract screen nothing else."""
    return f"测试通知 {whose} {what}"


def add_notice(county: CountyRepo, what: str, published: datetime, expires: datetime | None = None) -> str:
    """Write a 村务 notice for the demo village, as a county officer would; return its id."""
    notice_id = f"{what}-{VILLAGE}"
    lines = ["---", f"id: {notice_id}", "domain: 村务", f"title: {title_of('county', what)}", f"village: {VILLAGE}",
             f'published: "{published:%Y-%m-%d %H:%M}"', "pinned: true"]  # fmt: skip
    lines += [f'expires: "{expires:%Y-%m-%d %H:%M}"'] if expires else []
    text = "\n".join([*lines, "---", "村民代表会议决定的事项，现予公开。", ""])
    (county.content / "notices" / f"{notice_id}.md").write_text(text, encoding="utf-8")
    return notice_id


def post_notice(kiosk: Kiosk, what: str, published: datetime, expires: str = "") -> str:
    """Publish a notice from the village's staff console; return its id."""
    typed = values(title=title_of("village", what), published=f"{published:%Y-%m-%d %H:%M}", expires=expires,
                   pinned="1")  # fmt: skip
    return notices.create(kiosk.db, "小李", typed, local_now("Asia/Shanghai"), publish=True)


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Sides:
    """The demo county and village with their test notices, on the kiosk and, uploaded, on the county server."""
    root = tmp_path_factory.mktemp("on-show")
    county = make_county_repo(root / "county")
    now = local_now("Asia/Shanghai")
    ten_days_ago, an_hour_ago = now - timedelta(days=10), now - timedelta(hours=1)
    made = {
        ("county", "tomorrow"): add_notice(county, "tomorrow", now + timedelta(days=1)),
        ("county", "expired"): add_notice(county, "expired", ten_days_ago, an_hour_ago),
        ("county", "at"): add_notice(county, "at", ten_days_ago, AT),
    }
    county.publish()
    init_kiosk(root / "kiosk", VILLAGE, str(county.path), county.root)
    assert sync_kiosk(root / "kiosk", now=datetime.now(UTC)).outcome == "updated"
    sides = Sides(root / "kiosk", county.path, made)
    store = open_store(county_data(sides))
    kiosk = Kiosk(store, sides.kiosk_data)
    try:
        made["village", "tomorrow"] = post_notice(kiosk, "tomorrow", now + timedelta(days=1))
        made["village", "expired"] = post_notice(kiosk, "expired", ten_days_ago, f"{an_hour_ago:%Y-%m-%d %H:%M}")
        made["village", "day"] = post_notice(kiosk, "day", ten_days_ago, f"{AT:%Y-%m-%d}")
        kiosk.upload()
    finally:
        kiosk.db.close()
        store.close()
    return sides


def form_token(kiosk: FlaskClient) -> str:
    """Return the session's token for villager forms, from a power page's rating panel."""
    panel = kiosk.get("/powers/dibao-shenqing?feedback=rate").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', panel)
    assert found, "the rating panel carries the session's token"
    return found.group(1)


def detail_page(sides: Sides, notice_id: str) -> int:
    return sides.kiosk().get(f"/notice/{notice_id}").status_code


def slip(sides: Sides, notice_id: str) -> int:
    kiosk = sides.kiosk()
    return kiosk.post(f"/print/notice/{notice_id}", data={"csrf_token": form_token(kiosk)}).status_code


def read_aloud(sides: Sides, notice_id: str) -> int:
    with sides.kiosk().get(f"/speech/notice/{notice_id}.wav") as response:
        return response.status_code


def rating(sides: Sides, notice_id: str) -> int:
    kiosk = sides.kiosk()
    return kiosk.post(f"/feedback/notice/{notice_id}", data={"csrf_token": form_token(kiosk), "level": "5"}).status_code


def phone_page(sides: Sides, notice_id: str) -> int:
    return sides.phone().get(f"/m/{VILLAGE}/notice/{notice_id}").status_code


# Each consumer, and what it answers for a notice a villager may open: a page, or a redirect back to it.
CONSUMERS: list[tuple[Callable[[Sides, str], int], int]] = [
    (detail_page, 200), (slip, 303), (read_aloud, 200), (rating, 303), (phone_page, 200),
]  # fmt: skip


@pytest.mark.parametrize("whose", WHOSE)
@pytest.mark.parametrize(("consumer", "open_answer"), CONSUMERS, ids=[c.__name__ for c, _ in CONSUMERS])
def test_a_notice_out_tomorrow_is_not_found_and_an_expired_one_is_open_as_archived(
    sides: Sides, consumer: Callable[[Sides, str], int], open_answer: int, whose: str
) -> None:
    assert shutil.which("espeak-ng"), "Debian's espeak-ng is needed (scripts/test installs it)"
    assert consumer(sides, sides.notices[whose, "tomorrow"]) == 404, "nobody may see it before its publication time"
    assert consumer(sides, sides.notices[whose, "expired"]) == open_answer, "it stays open, from the archive"


def on_show(sides: Sides) -> list[str]:
    """Every list of notices on show: the kiosk's list and attract screen, the phone pages' list and index."""
    kiosk, phone = sides.kiosk(), sides.phone()
    pages = [kiosk.get(path).get_data(as_text=True) for path in ("/notices/village", "/attract")]
    return pages + [phone.get(f"/m/{VILLAGE}/{path}").text for path in ("notices/village", "")]


def archived(sides: Sides, notice_id: str) -> list[bool]:
    """Tell whether the kiosk's archive lists the notice, and whether its page and its phone page say so."""
    kiosk = sides.kiosk()
    page, phone_page = (
        text_of(kiosk.get(f"/notice/{notice_id}")),
        sides.phone().get(f"/m/{VILLAGE}/notice/{notice_id}?lang=en"),
    )
    listed = f"/notice/{notice_id}" in kiosk.get("/notices/village/archive").get_data(as_text=True)
    return [listed, "· Archive" in page, "· Archive" in phone_page.text]


@pytest.mark.parametrize("whose", WHOSE)
def test_neither_is_listed_on_show_and_only_the_expired_one_is_archived(sides: Sides, whose: str) -> None:
    tomorrow, expired = sides.notices[whose, "tomorrow"], sides.notices[whose, "expired"]
    titles = (title_of(whose, "tomorrow"), title_of(whose, "expired"))
    assert not any(title in page for title in titles for page in on_show(sides))
    assert archived(sides, expired) == [True, True, True]
    assert tomorrow not in sides.kiosk().get("/notices/village/archive").get_data(as_text=True)
    found = sides.kiosk().get("/search?q=测试通知").get_data(as_text=True)
    assert expired in found and tomorrow not in found, "found by the search once out, never before"


@pytest.mark.parametrize(
    ("notice", "moment", "expired"),
    [
        (("county", "at"), AT - timedelta(seconds=1), False),
        (("county", "at"), AT, True),  # on show until this second in the lists, no longer on the attract screen
        (("village", "day"), AT.replace(hour=23, minute=59, second=30), False),  # the phone pages had it at 23:59
        (("village", "day"), AT.replace(hour=23, minute=59, second=59), True),
    ],
    ids=["county-before", "county-at-its-end", "village-last-minute", "village-at-its-end"],
)
def test_every_screen_and_phone_page_agree_on_the_second_a_notice_expires(
    sides: Sides, monkeypatch: pytest.MonkeyPatch, notice: tuple[str, str], moment: datetime, expired: bool
) -> None:
    monkeypatch.setattr("kiosk.data.clock.utc_now", lambda: moment.replace(tzinfo=ZoneInfo("Asia/Shanghai")))
    monkeypatch.setattr("kiosk.county.content.local_now", lambda _timezone: moment)
    assert [title_of(*notice) in page for page in on_show(sides)] == [not expired] * 4
    assert archived(sides, sides.notices[notice]) == [expired] * 3


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
