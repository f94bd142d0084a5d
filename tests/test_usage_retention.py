"""How long the county keeps what villagers looked for (KIOSK_COUNTY_USAGE_KEEP_DAYS): days past the keeping go,
a batch at a time, from the village's counts, the county's and the villages' totals, with the uploads' records;
the days the dashboard can show stay, and a day sent again after its pruning goes again at the next pruning."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient

from kiosk.county import limits
from tests.test_dashboard import county_app, enrolled_kiosk, officer, store, table  # noqa: F401 (fixtures)
from tests.test_looked_for import POWER, day_counts

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def rows(db: sqlite3.Connection) -> dict[str, int]:
    tables = ("usage_counts", "usage_county_counts", "usage_village_totals")
    counts = {name: db.execute(f"select count(*) from {name}").fetchone()[0] for name in tables}  # noqa: S608
    counts["uploads"] = db.execute("select count(*) from uploads where kind = 'usage'").fetchone()[0]
    return counts


def prune_all(app: Flask, db: sqlite3.Connection, now: datetime) -> int:
    """Prune as accepted requests do, a batch each, until nothing more goes (bounded)."""
    pruner, rules, gone = limits.Pruner(pause=timedelta(0)), limits.Limits.from_config(app.config), 0
    for _request in range(100):
        went = pruner.prune(db, now, rules)
        gone += went
        if not went:
            return gone
    raise AssertionError("pruning did not finish in 100 requests")


def test_counts_older_than_the_keeping_go_a_batch_at_a_time_and_the_periods_shown_stay(
    county_app: Flask,  # noqa: F811
    store: sqlite3.Connection,  # noqa: F811
    officer: FlaskClient,  # noqa: F811
) -> None:
    assert county_app.config["COUNTY_USAGE_KEEP_DAYS"] == 400, "a year's period chosen a month late finds every day"
    taoyuan, liutang = enrolled_kiosk(store), enrolled_kiosk(store, "liutang")
    old_days = [(NOW - timedelta(days=401 + n)).date().isoformat() for n in range(15)]
    for day in old_days:  # more kiosks' days than one batch
        day_counts(store, taoyuan, day, [["power", POWER, 1], ["search_none", "xqz", 1]])
        day_counts(store, liutang, day, [["power", POWER, 2]])
    kept_day = (NOW - timedelta(days=399)).date().isoformat()
    day_counts(store, taoyuan, kept_day, [["power", POWER, 7], ["guide_ending", "shenghuo-kunnan/dibao", 1]])
    before = rows(store)

    first = limits.Pruner().prune(store, NOW, limits.Limits.from_config(county_app.config))
    assert first == limits.USAGE_PRUNE_BATCH, "one request drops one batch of kiosks' days, not the whole backlog"
    assert prune_all(county_app, store, NOW) == 30 - first
    assert rows(store) == {"usage_counts": 2, "usage_county_counts": 2, "usage_village_totals": 2, "uploads": 1}
    assert before["usage_counts"] == 47

    since = (NOW - timedelta(days=366)).date().isoformat()
    page = officer.get(f"/dashboard/looked-for/?from={old_days[-1]}&to={since}").get_data(as_text=True)
    assert [(r["Matter"], r["Times opened"]) for r in table(page, "opened")] == [("最低生活保障申请", "7")]

    # A day sent again after its record went (a kiosk's copy restored from an old backup): it goes again.
    day_counts(store, taoyuan, old_days[0], [["power", POWER, 1]])
    assert prune_all(county_app, store, NOW) == 1
    assert rows(store)["usage_counts"] == 2


def test_keeping_every_day_when_the_setting_is_0(county_app: Flask, store: sqlite3.Connection) -> None:  # noqa: F811
    county_app.config["COUNTY_USAGE_KEEP_DAYS"] = 0
    kiosk = enrolled_kiosk(store)
    day_counts(store, kiosk, "2020-01-01", [["power", POWER, 1]])
    assert prune_all(county_app, store, NOW) == 0
    assert rows(store)["usage_counts"] == 1
