"""Times in the staff console: in the county's local time (UTC+8 for the demo county) and in words, zh and en."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from kiosk.data import accounts, notices
from kiosk.data.local_db import open_local
from kiosk.demo import install_demo
from kiosk.staff import create_staff_app
from sync.receive.updater import STATUS
from tests.test_screens import text_of
from tests.test_staff import PASSWORD, csrf_token
from tests.test_village_notices import now, values

ISO = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}|\+00:00|UTC")


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    install_demo(tmp_path)
    db = open_local(tmp_path)
    accounts.add(db, "老王", "admin", PASSWORD, actor="test")
    notices.create(db, "老王", values(published="2026-12-05 08:00"), now(), publish=True)
    db.close()
    # What a sync and the nightly job write: the attempt in UTC with its offset, the next run in local time.
    status = {"last_attempt": "2026-12-06T06:16:57.600055+00:00", "last_outcome": "updated",
              "next_sync": "2026-12-07 02:13"}  # fmt: skip
    (tmp_path / STATUS).write_text(json.dumps(status))
    return tmp_path


def console(data: Path, language: str) -> FlaskClient:
    app = create_staff_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "t", "DEFAULT_LOCALE": language})
    client = app.test_client()
    client.post("/sign-in", data={"name": "老王", "password": PASSWORD, "csrf_token": csrf_token(client)})
    return client


@pytest.mark.parametrize(
    ("language", "updated", "next_sync", "published"),
    [
        ("zh", "2026年12月6日 14:16 已更新", "2026年12月7日 02:13", "2026年12月5日 08:00"),
        ("en", "Updated December 6, 2026, 14:16", "December 7, 2026, 02:13", "December 5, 2026, 08:00"),
    ],
)
def test_the_console_shows_times_in_local_time_and_words(
    data: Path, language: str, updated: str, next_sync: str, published: str
) -> None:
    client = console(data, language)
    home = text_of(client.get("/"))
    assert updated in home and next_sync in home, "the last update at 06:16 UTC is 14:16 in the county"
    assert "updated" not in home.replace(updated, ""), "the outcome is said in words, not as its code"
    listing = text_of(client.get("/notices/"))
    assert published in listing
    for path in ("/", "/notices/", "/duties/", "/admin/accounts", "/admin/audit"):
        shown = ISO.findall(text_of(client.get(path)))
        assert shown == [], f"{path} shows a time as stored: {shown}"
