"""Lists and search in constant time per page: counts and orders made at install, initials found through an index.

The demo village is installed as it is, and grown ten and thirty times over (copies of every item
under new ids, each copy's notices older): a page or a one-key search does the same work on the
last two (the demo itself has fewer notices than a page), and finds what was found before the lists
existed, exactly.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kiosk.data import queries
from kiosk.data.content_db import open_content
from kiosk.data.local_db import open_local
from kiosk.demo import demo_village
from sync.contract.content import County
from sync.contract.snapshot import village_snapshot
from sync.receive.install import current_database, install_snapshot
from sync.receive.lists import TABLES

WRITTEN = "2026-11-27"  # the day the demo's notices were written for
NOW = datetime(2026, 11, 27, 12, 0)
GROWTH = 30
Query = Callable[[sqlite3.Connection], object]


def snapshot_of(county: County, version: int = 1) -> tuple[dict[str, Any], dict[str, Path]]:
    return village_snapshot(county, demo_village(county), version, WRITTEN)


def _earlier(moment: str | None, days: int) -> str | None:
    if moment is None:
        return None
    return (datetime.fromisoformat(moment) - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")


def grown(snapshot: dict[str, Any], times: int) -> dict[str, Any]:
    """Return *snapshot* with *times* copies of each power item, notice and catalogue item, each copy's older."""
    bigger = dict(snapshot)
    for kind in ("powers", "notices", "catalogue"):
        bigger[kind] = [
            {**item, "id": f"{item['id']}-{n}"} if n else item for n in range(times) for item in snapshot[kind]
        ]
    for number, notice in enumerate(bigger["notices"]):
        days = 400 * (number // len(snapshot["notices"]))
        notice.update(
            published_at=_earlier(notice["published_at"], days), expires_at=_earlier(notice["expires_at"], days)
        )
        notice["pinned"] = notice["pinned"] and not days  # a county pins a few notices at a time, not a copy a year
    return bigger


def opened(path: Path) -> sqlite3.Connection:
    data = path.parent.parent
    open_local(data).close()  # the village's own notices are read beside the content
    return open_content(path, data)


@pytest.fixture(scope="module")
def databases(demo_county: County, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, sqlite3.Connection]]:
    """The demo village installed as it is ('small'), grown GROWTH / 3 times ('medium') and GROWTH times ('large')."""
    snapshot, media = snapshot_of(demo_county)
    connections = {}
    sizes = (("small", snapshot), ("medium", grown(snapshot, GROWTH // 3)), ("large", grown(snapshot, GROWTH)))
    for name, content in sizes:
        connections[name] = opened(install_snapshot(tmp_path_factory.mktemp(name), content, media))
    yield connections
    for connection in connections.values():
        connection.close()


PAGES: dict[str, Query] = {
    "small-power list": queries.power_categories,
    "a category": lambda db: queries.power_category(db, 0),
    "a category's first page": lambda db: queries.powers_in_category(db, 0, 1, 10),
    "a category's third page": lambda db: queries.powers_in_category(db, 0, 3, 10),
    "home screen's matters": queries.matters,
    "home screen's notices": lambda db: queries.notices_on_show(db, NOW, 6),
    "notice counts": lambda db: queries.notice_counts(db, NOW),
    "archive counts": lambda db: queries.notice_counts(db, NOW, archive=True),
    "all notices": lambda db: queries.notices(db, None, NOW, 1, 10),
    "finance notices": lambda db: queries.notices(db, "财务", NOW, 1, 10),
    "the archive": lambda db: queries.notices(db, None, NOW, 1, 10, archive=True),
    "finance archive": lambda db: queries.notices(db, "财务", NOW, 1, 10, archive=True),
    "catalogue areas": queries.catalogue_areas,
    "catalogue tile": queries.catalogue_area_count,
    "one key: c": lambda db: queries.search(db, "c", NOW),
    "one key: q": lambda db: queries.search(db, "q", NOW),
    "initials: cw": lambda db: queries.search(db, "cw", NOW),
    "initials: dbsq": lambda db: queries.search(db, "dbsq", NOW),
    "initials inside a name: gk": lambda db: queries.search(db, "gk", NOW),
}


def steps(db: sqlite3.Connection, query: Query) -> int:
    """Count the virtual machine instructions SQLite runs for *query*: the rows it reads, and then some."""
    count = 0

    def tick() -> int:
        nonlocal count
        count += 1
        return 0

    db.set_progress_handler(tick, 1)
    try:
        query(db)
    finally:
        db.set_progress_handler(None, 1)
    return count


@pytest.mark.parametrize("page", PAGES)
def test_a_page_or_a_search_does_the_same_work_on_a_county_three_times_larger(
    databases: dict[str, sqlite3.Connection], page: str
) -> None:
    medium, large = (steps(databases[size], PAGES[page]) for size in ("medium", "large"))
    assert large <= medium * 1.2 + 100, f"{page}: {medium} steps, then {large} on a county three times larger"


class Plans:
    """A connection that records the query plan of each statement it runs."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db, self.plans = db, list[tuple[str, list[str]]]()

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        plan = [row[3] for row in self.db.execute(f"explain query plan {sql}", parameters)]
        self.plans.append((" ".join(sql.split()), plan))
        return self.db.execute(sql, parameters)


CONTENT = re.compile(r"^(SCAN|SEARCH) (main\.)?(powers|notices|catalogue|search_items)\b")


@pytest.mark.parametrize("page", PAGES)
def test_no_page_scans_or_sorts_a_table_of_the_county(databases: dict[str, sqlite3.Connection], page: str) -> None:
    """A list is read along an index, in its order (as far as the page goes); a count or an order is never made."""
    recorder = Plans(databases["large"])
    PAGES[page](recorder)  # type: ignore[arg-type]  # runs the queries' own SQL on the database, through it
    for sql, plan in recorder.plans:
        table = ""
        for line in plan:
            table = line.split()[1] if line.startswith(("SCAN", "SEARCH")) else table
            if CONTENT.match(line) and line.startswith("SCAN"):
                assert "USING" in line and "INDEX" in line, f"{page}: a full scan, {line}: {sql}"
                assert "count(" not in sql, f"{page}: counted along a whole index, {line}: {sql}"
            if "TEMP B-TREE" in line:
                assert table == "local.village_notices", f"{page}: sorted at request time, {line}: {sql}"
            if line.startswith("SCAN") and "VIRTUAL TABLE" in line:
                assert ":M" in line, f"{page}: a search index read without a match: {sql}"


# --- the same answers as before the lists: counted and sorted at request time ------------------------------


def without_lists(path: Path, tmp_path: Path) -> Path:
    """Copy an installed version as a database written before the lists and the initials index were."""
    copy = tmp_path / "old" / "content" / path.name
    copy.parent.mkdir(parents=True)
    shutil.copy(path, copy)
    with sqlite3.connect(copy) as db:
        for table in (*TABLES, "search_initials"):
            db.execute(f"drop table {table}")
    return copy


ANSWERS: dict[str, Query] = {
    "categories": queries.power_categories,
    "each category's pages": lambda db: [
        queries.powers_in_category(db, c["category_order"], n, 4).__dict__
        for c in queries.power_categories(db)
        for n in range(1, 1 + -(-c["items"] // 4))
    ],
    "areas": lambda db: (queries.catalogue_areas(db), queries.catalogue_area_count(db)),
    "matters": queries.matters,
}


@pytest.mark.parametrize("answer", ANSWERS)
def test_lists_read_from_the_install_are_what_counting_at_request_time_gave(
    databases: dict[str, sqlite3.Connection], tmp_path: Path, answer: str
) -> None:
    path = Path(databases["large"].execute("pragma database_list").fetchone()[2])
    old = opened(without_lists(path, tmp_path))
    assert not queries._has(old, "power_places")
    assert ANSWERS[answer](databases["large"]) == ANSWERS[answer](old)


def moments(snapshot: dict[str, Any]) -> list[datetime]:
    """Every moment a notice comes out or expires, a second before and after it, and some days between."""
    found = {NOW, datetime(2020, 1, 1), datetime(2040, 1, 1)}
    for notice in snapshot["notices"]:
        for moment in (notice["published_at"], notice["expires_at"]):
            if moment:
                at = datetime.fromisoformat(moment)
                found |= {at - timedelta(seconds=1), at, at + timedelta(seconds=1)}
    return sorted(found)


def counted(snapshot: dict[str, Any], now: datetime, archive: bool, domain: str | None = None) -> dict[str, int]:
    """Count the snapshot's notices on show (or archived) at *now*, by the rule the screens follow."""
    rule = queries.is_archived if archive else queries.is_on_show
    counts: dict[str, int] = {}
    for notice in snapshot["notices"]:
        if rule(notice, now) and domain in (None, notice["domain"]):
            counts[notice["domain"]] = counts.get(notice["domain"], 0) + 1
    return counts


def test_notice_counts_at_every_moment_are_what_counting_the_notices_gives(demo_county: County, tmp_path: Path) -> None:
    snapshot, media = snapshot_of(demo_county)
    snapshot = grown(snapshot, 3)
    first, second = snapshot["notices"][:2]
    first["expires_at"] = _earlier(first["published_at"], 3)  # expired before it came out: archived when it does
    second["expires_at"] = second["published_at"]  # expired the moment it came out: never on show
    db = opened(install_snapshot(tmp_path, snapshot, media))
    for now in moments(snapshot):
        for archive in (False, True):
            assert queries.notice_counts(db, now, archive=archive) == counted(snapshot, now, archive), now
            for name in (None, "财务"):
                expected = sum(counted(snapshot, now, archive, name).values())
                assert queries.notices(db, name, now, 1, 5, archive=archive).count == expected, (now, name)


def test_notice_pages_follow_each_other_in_order_to_the_last(databases: dict[str, sqlite3.Connection]) -> None:
    db = databases["large"]
    for archive in (False, True):
        first = queries.notices(db, None, NOW, 1, 7, archive=archive)
        seen = [
            n for number in range(1, first.pages + 1) for n in queries.notices(db, None, NOW, number, 7, archive).items
        ]
        assert len(seen) == first.count == len({n["id"] for n in seen}) > 7
        keys = [n["expires_at"] if archive else (n["pinned"], n["published_at"]) for n in seen]
        assert keys == sorted(keys, reverse=True), "pinned first, then the newest; the archive by its latest expiry"


def test_a_new_version_has_its_own_counts_and_orders_and_the_one_kept_keeps_its_own(
    demo_county: County, tmp_path: Path
) -> None:
    snapshot, media = snapshot_of(demo_county)
    install_snapshot(tmp_path, snapshot, media)
    before = opened(current_database(tmp_path) or Path())
    categories, order = queries.power_categories(before), queries.powers_in_category(before, 0, 1, 100).items
    changed, _media = snapshot_of(demo_county, version=2)
    moved, *kept = changed["powers"]
    changed["powers"] = [
        *kept,
        {**moved, "category": "便民服务"},
        {**kept[0], "id": "new-item", "category": "财务管理"},
    ]
    changed["notices"] = [{**n, "expires_at": None} for n in changed["notices"][1:]]
    after = opened(install_snapshot(tmp_path, changed, media))
    expected: dict[str, list[str]] = {}
    for power in changed["powers"]:
        expected.setdefault(power["category"], []).append(power["id"])
    for category in queries.power_categories(after):
        assert category["items"] == len(expected[category["category"]])
        page = queries.powers_in_category(after, category["category_order"], 1, 100)
        assert [p["id"] for p in page.items] == expected[category["category"]], category["category"]
    assert queries.notice_counts(after, NOW, archive=True) == {}
    assert queries.notice_counts(after, NOW) == counted(changed, NOW, archive=False)
    assert queries.power_categories(before) == categories, "the version kept (N-1) keeps its own lists"
    assert queries.powers_in_category(before, 0, 1, 100).items == order


# --- initials: the index finds what reading every item found, in the same order ---------------------------


def typed_initials(db: sqlite3.Connection) -> list[str]:
    """Every run of up to four letters in the items' initials, each whole name, and letters no name has."""
    typed = {"s", "ss", "x", "xx", "ssd", "z" * 40}  # the index's own marks are never found as letters
    for (initials,) in db.execute("select initials from search_items"):
        for name in initials.split(" "):
            runs = [name[i:j] for i in range(len(name)) for j in range(i + 1, min(len(name), i + 4) + 1)]
            typed |= {run for run in [*runs, name] if run.isalpha()}
    return sorted(typed)


@pytest.mark.parametrize("size", ["small", "large"])
def test_initials_found_through_the_index_are_what_reading_every_item_found(
    databases: dict[str, sqlite3.Connection], size: str
) -> None:
    db = databases[size]
    for now in (NOW, datetime(2026, 10, 20)):  # the second before some of the notices are out
        for typed in typed_initials(db):
            scanned = db.execute(queries._BY_INITIALS, {"q": typed, "now": queries.content_time(now), "limit": 30})
            assert queries.search(db, typed, now) == [dict(row) for row in scanned], typed


def test_initials_are_found_inside_one_name_never_across_two_or_across_other_characters() -> None:
    from sync.contract.search import initials_phrase, initials_tokens

    assert initials_tokens("zdshbzsq dbsq db") == "0z d s h b z s q 0d b s q 0d b"
    assert initials_tokens("2026n10ycwgk") == "02 0 2 6 n 1 0 y c w g k", "digits are letters of their own"
    assert initials_tokens("a-b") == "0a xx b" and initials_tokens("-b") == "0xx b" and initials_tokens("") == "0"
    assert initials_phrase("db") == '"d b"' and initials_phrase("db", start=True) == '"0d b"'
    db = sqlite3.connect(":memory:")
    db.execute("create virtual table found using fts5(text, content='', columnsize=0)")
    for rowid, initials in enumerate(["qd bs", "a-b", "2026n10y", "dbsq", "bd"], start=1):
        db.execute("insert into found (rowid, text) values (?, ?)", (rowid, initials_tokens(initials)))

    def matched(typed: str, start: bool = False) -> list[int]:
        sql = "select rowid from found where found match ?"
        return [row[0] for row in db.execute(sql, (initials_phrase(typed, start),))]

    assert matched("ab") == [] and matched("ny") == [] and matched("db") == [] and matched("db", start=True) == [4]
    assert matched("bs") == [4] and matched("bs", start=True) == [1], "inside a name, or at its start"
    assert matched("d") == [1, 5] and matched("d", start=True) == [4] and matched("qd", start=True) == [1]
