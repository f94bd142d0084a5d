"""The home screen leads a villager to what they came for, and the notices list spans the four domains."""

from __future__ import annotations

import re
import shutil
import sqlite3
from contextlib import closing
from datetime import date
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from kiosk.data.queries import ERRANDS
from kiosk.screens import create_app
from kiosk.screens.views import HOME_NOTICES
from sync.contract.content import County
from sync.contract.kinds import Notice
from sync.receive.install import current_database
from tests.test_screens import DOMAIN_KEYS, is_current, notices_of, now, shown_powers

LINK = re.compile(r'<a class="(?:row[^"]*|matter)" href="/(notice|powers)/([a-z0-9-]+)"')


def links(client: FlaskClient, path: str, kind: str) -> list[str]:
    return [item_id for found, item_id in LINK.findall(client.get(path).get_data(as_text=True)) if found == kind]


def newest_first(notices: list[Notice]) -> list[str]:
    ordered = sorted(notices, key=lambda n: n["published_at"], reverse=True)
    return [n["id"] for n in sorted(ordered, key=lambda n: not n["pinned"])]


def test_matters_come_from_the_countys_keywords_errands_first_each_one_tap_from_its_item(
    client: FlaskClient, demo_county: County
) -> None:
    with_keywords = [p for p in shown_powers(demo_county) if p.get("keywords")]
    errands = [p for p in with_keywords if p["category"] == ERRANDS]
    assert errands and len(with_keywords) > len(errands)  # the demo has both kinds
    page = client.get("/").get_data(as_text=True)
    offered = links(client, "/", "powers")
    assert offered[: len(errands)] == [p["id"] for p in errands]
    assert set(offered) <= {p["id"] for p in with_keywords} and len(offered) == min(8, len(with_keywords))
    for power in with_keywords:
        if power["id"] in offered:  # named by the word villagers use, above the item's formal name
            word, name = power["keywords"][0], power["name"]
            assert re.search(rf'href="/powers/{power["id"]}"><span class="matter-word"[^>]*>{word}</span>', page)
            assert name in page
    for power in shown_powers(demo_county):
        if not power.get("keywords"):
            assert f'class="matter" href="/powers/{power["id"]}"' not in page


def test_home_shows_the_newest_notices_pinned_first_with_their_dates(client: FlaskClient, demo_county: County) -> None:
    current = [n for n in notices_of(demo_county) if is_current(n)]
    assert len(current) > HOME_NOTICES
    shown = links(client, "/", "notice")
    assert shown == newest_first(current)[:HOME_NOTICES]
    page = client.get("/").get_data(as_text=True)
    for notice in (n for n in current if n["id"] in shown):
        day = date.fromisoformat(notice["published"][:10])
        assert f"发布于 {day.year}年{day.month}月{day.day}日" in page


def test_home_searches_in_one_tap_and_leads_to_all_notices(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<a class="search-entry" href="/search">', page)
    assert 'href="/notices"' in page


def test_notices_list_all_four_domains_newest_first_with_chips_and_the_archive(
    app: Flask, client: FlaskClient, demo_county: County
) -> None:
    app.config["PAGE_SIZE"] = 100
    mine = notices_of(demo_county)
    current = [n for n in mine if is_current(n)]
    assert len({n["domain"] for n in current}) == 4
    assert links(client, "/notices", "notice") == newest_first(current)
    page = client.get("/notices").get_data(as_text=True)
    for domain, key in DOMAIN_KEYS.items():  # each chip filters, and says how many it holds
        count = sum(n["domain"] == domain for n in current)
        assert re.search(rf'href="/notices/{key}">[^<]+<span class="chip-count">{count}</span>', page), key
        assert links(client, f"/notices/{key}", "notice") == newest_first([n for n in current if n["domain"] == domain])
    assert 'href="/notices/archive"' in page  # the archive, one tap away
    archived = [n["id"] for n in mine if n["expires_at"] and n["expires_at"] < now()]
    assert archived and sorted(links(client, "/notices/archive", "notice")) == sorted(archived)
    archive_page = client.get("/notices/finance/archive").get_data(as_text=True)
    assert 'aria-current="page"' in archive_page and 'href="/notices/finance"' in archive_page


def test_the_chosen_chip_is_marked_and_an_unknown_domain_is_not_found(client: FlaskClient) -> None:
    page = client.get("/notices/party").get_data(as_text=True)
    assert re.search(r'class="button chip current" href="/notices/party" aria-current="page"', page)
    assert client.get("/notices/sports").status_code == 404
    assert client.get("/notices/sports/archive").status_code == 404


def test_content_installed_before_keywords_were_kept_still_shows_the_home_screen(
    demo_data: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_data, data, ignore=shutil.ignore_patterns("*.lock"))
    database = current_database(data)
    assert database is not None
    with closing(sqlite3.connect(database)) as db:  # as an older kiosk release built it
        db.executescript("drop index powers_with_keywords; alter table powers drop column keywords;")
    client = create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "test"}).test_client()
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'class="matter"' not in page and 'class="search-entry"' in page and 'href="/notice/' in page
