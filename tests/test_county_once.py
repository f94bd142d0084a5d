"""Each kiosk request kept once: a report by its key, a rating by its idempotency key, a signed request by its
signature (a replay refused, and forgotten after twice the clock window), and a request that failed not at all."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from kiosk.county import store as county_store
from tests.test_county_edges import NOW, count, county_app, db, enrolled, ratings, signed  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL


def test_a_report_sent_again_is_kept_once_by_its_key_and_a_key_that_is_not_one_is_ignored(
    county_app: Flask,  # noqa: F811
    db: sqlite3.Connection,  # noqa: F811
) -> None:
    kiosk, other = enrolled(db), enrolled(db)
    client = county_app.test_client()
    key = "0123456789abcdef" * 2
    for sender, report in [(kiosk, {"report_key": key, "content_version": 1})] * 3 + [
        (other, {"report_key": key, "content_version": 2}),  # another kiosk's key space
        (kiosk, {"report_key": "x'); drop table reports; --", "content_version": 3}),
        (kiosk, {"report_key": "X'); drop table reports; --", "content_version": 3}),
        (kiosk, {"content_version": 4}),  # a kiosk older than report keys
        (kiosk, {"content_version": 4}),
    ]:
        assert signed(client, sender, "/api/report", report).status_code == 204
    kept = [tuple(r) for r in db.execute("select kiosk_id, content_version, report_key from reports order by id")]
    assert kept == [(kiosk.id, 1, key), (other.id, 2, key), (kiosk.id, 3, None), (kiosk.id, 3, None),
                    (kiosk.id, 4, None), (kiosk.id, 4, None)]  # fmt: skip


def test_a_rating_twice_in_a_batch_or_held_before_is_acknowledged_and_counted_once(
    county_app: Flask,  # noqa: F811
    db: sqlite3.Connection,  # noqa: F811
) -> None:
    kiosk = enrolled(db)
    client = county_app.test_client()
    first = ratings(3)["items"]
    assert signed(client, kiosk, "/api/outbox", {"items": first[:1]}).get_json()["acked"] == ["r0"]
    again = signed(client, kiosk, "/api/outbox", {"items": [first[1], first[1], first[0], first[2]]})
    assert again.get_json()["acked"] == ["r1", "r1", "r0", "r2"]
    assert count(db, "uploads") == 3
    assert db.execute("select sum(count) from rating_counts").fetchone()[0] == 3


def test_replay_records_are_forgotten_after_twice_the_clock_window(
    county_app: Flask,  # noqa: F811
    db: sqlite3.Connection,  # noqa: F811
) -> None:
    kiosk = enrolled(db)
    old, recent = (NOW - timedelta(hours=49)).isoformat(), (NOW - timedelta(hours=47)).isoformat()
    db.executemany("insert into seen_signatures values (?, ?, ?)",
                   [("old1", kiosk.id, old), ("old2", kiosk.id, old), ("recent", kiosk.id, recent)])  # fmt: skip
    client = county_app.test_client()
    body, stamp = b"{}", NOW.isoformat()
    headers = {"X-Kiosk-Id": str(kiosk.id), "X-Kiosk-Time": stamp,
               "X-Kiosk-Signature": kiosk.key.sign(county_store.signed_text(stamp, body)).hex()}  # fmt: skip
    assert client.post("/api/report", data=body, headers=headers).status_code == 204
    kept = {digest for (digest,) in db.execute("select digest from seen_signatures")}
    assert "old1" not in kept and "old2" not in kept and "recent" in kept and len(kept) == 2
    assert client.post("/api/report", data=body, headers=headers).status_code == 403, "a replay is still refused"


def test_a_request_that_failed_left_nothing_so_the_same_request_sent_again_is_taken(
    county_app: Flask,  # noqa: F811
    db: sqlite3.Connection,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its record against replays, its use counted and what it stores are one transaction: a failure keeps none."""
    kiosk = enrolled(db)
    client = county_app.test_client()
    body, stamp = json.dumps({"app_version": "1.0", "report_key": "ab" * 16}).encode(), NOW.isoformat()
    headers = {"X-Kiosk-Id": str(kiosk.id), "X-Kiosk-Time": stamp,
               "X-Kiosk-Signature": kiosk.key.sign(county_store.signed_text(stamp, body)).hex()}  # fmt: skip
    kept = county_store.record_report

    def fails_after_writing(*args: Any, **kwargs: Any) -> Any:
        kept(*args, **kwargs)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(county_store, "record_report", fails_after_writing)
    county_app.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.post("/api/report", data=body, headers=headers).status_code == 500
    held = (
        "select (select count(*) from reports), (select count(*) from seen_signatures),"
        " (select count(*) from kiosk_usage)"
    )
    assert tuple(db.execute(held).fetchone()) == (0, 0, 0), "nothing of it kept"
    monkeypatch.setattr(county_store, "record_report", kept)
    assert client.post("/api/report", data=body, headers=headers).status_code == 204, "not taken for a replay"
    assert tuple(db.execute(held).fetchone()) == (1, 1, 1)
    assert client.post("/api/report", data=body, headers=headers).status_code == 403, "now it is one"
