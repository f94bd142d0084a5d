"""The outbox never jams: batches bounded by bytes, 413 for a body over the county's cap, items the
county can never take set aside, compact display logs, and the county's retention of those logs."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import urllib3
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.county import CountyServer, create_county_app, overview, reports, retention
from kiosk.county import store as county_store
from kiosk.data import notices
from kiosk.data.local_db import open_local
from kiosk.device.reporting import _queue_display_log, send_to_county
from kiosk.device.uplink import BATCH_BYTES
from sync.contract.dates import MONDAY_TO_FRIDAY, local_now
from sync.receive.updater import sync_kiosk
from tests.county_repo import CountyRepo
from tests.servers import WSGIApp, serving
from tests.test_uplink import Flaky, county_rows, enrolled, outbox_left


class Recorder:
    """WSGI middleware keeping the declared size and the answer of every upload to /api/outbox."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.uploads: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/api/outbox":
            return self.app(environ, start_response)
        size = int(environ.get("CONTENT_LENGTH") or 0)

        def recording(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            with self._lock:
                self.uploads.append((size, status.split()[0]))
            return start_response(status, headers, exc_info)

        return self.app(environ, recording)


class County:
    """A county server on loopback, with what reached its outbox route."""

    def __init__(self, url: str, data: Path, recorder: Recorder, flaky: Flaky) -> None:
        self.url, self.data, self.recorder, self.flaky = url, data, recorder, flaky


@contextmanager
def county_server(tmp_path: Path, county_repo: CountyRepo, **config: Any) -> Iterator[County]:
    data = tmp_path / "county-server"
    app = create_county_app({"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(data),
                             "SECRET_KEY": "o", **config})  # fmt: skip
    flaky = Flaky(CountyServer(county_repo.path, app), seed=11, rate=0.0)
    recorder = Recorder(flaky)
    with serving(recorder, threads=4) as url:
        yield County(url, data, recorder, flaky)


@pytest.fixture()
def county(tmp_path: Path, county_repo: CountyRepo) -> Iterator[County]:
    with county_server(tmp_path, county_repo) as server:
        yield server


def queue(kiosk_data: Path, items: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Put items in the outbox as the kiosk's code does: key, kind and JSON payload, oldest first."""
    db = open_local(kiosk_data)
    db.executemany(
        "insert into outbox (idempotency_key, kind, payload, created_at) values (?, ?, ?, '2026-11-27')",
        [(key, kind, json.dumps(payload, ensure_ascii=False)) for key, kind, payload in items],
    )
    db.close()


def notice_change(number: int, body_chars: int) -> tuple[str, str, dict[str, Any]]:
    notice = {"id": f"local-{number:04d}", "title": f"通知 {number}", "body": "正" * body_chars}
    return f"notice-{number}", "village_notice", {"action": "publish", "at": "2026-11-27 10:00:00", "notice": notice}


def rating(number: int) -> tuple[str, str, dict[str, Any]]:
    return f"rating-{number}", "feedback", {"kind": "power", "item_id": "dibao-shenqing", "level": number % 5 + 1,
                                           "reasons": [], "day": "2026-11-27"}  # fmt: skip


def test_an_item_the_county_can_never_take_is_set_aside_and_the_rest_go_on(
    county: County, kiosk_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    uplink = enrolled(kiosk_data, county.url, county.data)
    huge = notice_change(1, reports.MAX_BODY // 2)  # 3 bytes a character in UTF-8: over the cap even alone
    queue(kiosk_data, [rating(1), rating(2), huge, rating(3), notice_change(2, 1000)])
    with caplog.at_level(logging.WARNING, logger="kiosk.device.uplink"):
        ok, line = send_to_county(kiosk_data, uplink)
    assert ok, line
    assert outbox_left(kiosk_data) == 0
    keys = {row[0] for row in county_rows(county.data, "select idempotency_key from uploads")}
    assert {"1:rating-1", "1:rating-2", "1:rating-3", "1:notice-2"} <= keys and "1:notice-1" not in keys
    assert [status for _size, status in county.recorder.uploads].count("413") >= 1
    local = open_local(kiosk_data)
    (kept,) = local.execute("select idempotency_key, kind, payload, reason from outbox_set_aside").fetchall()
    local.close()
    assert kept["idempotency_key"] == "notice-1" and json.loads(kept["payload"]) == huge[2], "kept whole"
    assert "too large" in kept["reason"]
    assert any("notice-1" in record.getMessage() for record in caplog.records), "logged"
    status = CliRunner().invoke(main, ["status", "--json", "--data", str(kiosk_data)])
    assert json.loads(status.output)["outbox_set_aside"] == 1
    (report,) = county_rows(county.data, "select outbox_set_aside from reports")
    assert report[0] == 1, "the kiosk's report counts it"
    db = sqlite3.connect(county.data / "county.db")
    db.row_factory = sqlite3.Row
    (kiosk,) = overview.kiosks(db, None, datetime.now().astimezone())
    db.close()
    assert kiosk["rejected"] == 1, "the dashboard's 'Uploads set aside' counts it"


def test_an_outbox_row_damaged_on_disk_is_set_aside_not_sent(county: County, kiosk_data: Path) -> None:
    uplink = enrolled(kiosk_data, county.url, county.data)
    queue(kiosk_data, [rating(1)])
    db = open_local(kiosk_data)
    db.execute(
        "insert into outbox (idempotency_key, kind, payload, created_at) values ('torn', 'feedback', '{\"ki', 'x')"
    )
    db.close()
    queue(kiosk_data, [rating(2)])
    assert uplink.upload_outbox() == 2
    assert outbox_left(kiosk_data) == 0
    local = open_local(kiosk_data)
    (kept,) = local.execute("select idempotency_key, payload, reason from outbox_set_aside").fetchall()
    local.close()
    assert tuple(kept)[:2] == ("torn", '{"ki') and "not JSON" in kept["reason"]


def test_a_batch_the_county_finds_too_large_is_sent_again_in_smaller_ones(
    county: County, kiosk_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "MAX_BODY", 100_000)  # a county with a smaller cap than the kiosk's batches
    uplink = enrolled(kiosk_data, county.url, county.data)
    queue(kiosk_data, [notice_change(n, 13_000) for n in range(20)])  # about 40 KB each
    assert uplink.upload_outbox() == 20
    assert outbox_left(kiosk_data) == 0
    (stored,) = county_rows(county.data, "select count(*) from uploads where kind = 'village_notice'")[0]
    assert stored == 20
    taken = [size for size, status in county.recorder.uploads if status == "200"]
    assert max(taken) <= 100_000, county.recorder.uploads
    refused = [size for size, status in county.recorder.uploads if status == "413"]
    assert 0 < len(refused) <= 5 and max(refused) <= BATCH_BYTES, "halved each time, from a bounded batch"


class Unreadable(io.BytesIO):
    """A request body that fails the test if anyone reads it."""

    def read(self, _size: int | None = -1) -> bytes:
        raise AssertionError("the body was read")

    def readinto(self, _buffer: Any) -> int:
        raise AssertionError("the body was read")

    def readline(self, _size: int | None = -1) -> bytes:
        raise AssertionError("the body was read")


@pytest.mark.parametrize("path", ["/api/report", "/api/outbox", "/api/enrol"])
def test_a_body_over_the_cap_is_answered_413_before_it_is_read(
    county_repo: CountyRepo, tmp_path: Path, path: str
) -> None:
    app = create_county_app({"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(tmp_path / "c"),
                             "SECRET_KEY": "o"})  # fmt: skip
    client = app.test_client()
    headers = {"X-Kiosk-Id": "1", "X-Kiosk-Time": "2026-11-27T02:00:00+00:00", "X-Kiosk-Signature": "00"}
    over = client.post(path, input_stream=Unreadable(), content_type="application/json", headers=headers,
                       environ_overrides={"CONTENT_LENGTH": str(reports.MAX_BODY + 1)})  # fmt: skip
    assert over.status_code == 413 and "larger than" in over.get_json()["error"]
    chunked = client.post(path, input_stream=Unreadable(), content_type="application/json",
                          headers={**headers, "Transfer-Encoding": "chunked"})  # fmt: skip
    assert chunked.status_code == 411 and "Content-Length" in chunked.get_json()["error"]


def test_a_real_county_server_answers_413_with_a_json_error(county: County) -> None:
    http = urllib3.PoolManager()
    answer = http.request("POST", county.url + "/api/enrol", body=b" " * (reports.MAX_BODY + 1),
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status == 413 and "smaller" in answer.json()["error"]


def test_a_display_log_lists_only_the_notices_whose_posting_period_still_runs(county: County, kiosk_data: Path) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    uplink = enrolled(kiosk_data, county.url, county.data)
    now = local_now("Asia/Shanghai").replace(microsecond=0)
    local = open_local(kiosk_data)
    running = notices.create(local, "bo", {"domain": "village", "title": "正在公示", "body": "正文",
                                           "published": f"{now:%Y-%m-%d}", "min_posting_days": 5}, now,
                             publish=True)  # fmt: skip
    ended = notices.create(local, "bo", {"domain": "village", "title": "公示已满", "body": "正文",
                                         "published": f"{now - timedelta(days=40):%Y-%m-%d}", "min_posting_days": 3},
                           now, publish=True)  # fmt: skip
    plain = notices.create(local, "bo", {"domain": "village", "title": "无公示期", "body": "正文",
                                         "published": f"{now:%Y-%m-%d}"}, now, publish=True)  # fmt: skip
    local.close()
    ok, line = send_to_county(kiosk_data, uplink)
    assert ok, line
    (row,) = county_rows(county.data, "select payload from uploads where kind = 'display_log'")
    log = json.loads(row[0])
    assert running in log["notices"] and set(log["notices"]) == set(log["posting"])
    assert ended not in log["notices"] and plain not in log["notices"], "never a takedown, so not sent"
    assert log["shown"] > len(log["notices"]) >= 1, "the log counts every notice on show"
    # The day before, this kiosk still ran the old software: its log, full, arrives late, and is judged
    # against today's compact one. A 公示期 long over is no takedown; one still running, gone, is.
    yesterday = (now - timedelta(days=1)).date()
    facts = {"title": "公示", "published_at": f"{now - timedelta(days=40):%Y-%m-%d} 09:00:00", "days": 3}
    old = {
        "day": yesterday.isoformat(),
        "at": f"{yesterday} 02:30:00",
        "notices": [ended, plain, "gone-early"],
        "posting": {ended: facts, "gone-early": {**facts, "published_at": f"{yesterday} 08:00:00", "days": 10}},
    }
    db = county_store.open_store(county.data)
    county_store.store_uploads(db, 1, [{"key": f"display:1:{yesterday}", "kind": "display_log", "payload": old}])
    db.close()
    gone = county_rows(county.data, "select notice from gone_from_logs")
    assert [row[0] for row in gone] == ["gone-early"]


def test_display_logs_past_the_retention_period_are_kept_as_their_counts_a_bounded_number_at_a_time(
    tmp_path: Path, county_repo: CountyRepo, kiosk_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "PRUNE_BATCH", 25)
    today = date.today()
    days = [today - timedelta(days=99 - n) for n in range(100)]
    facts = {"dibao": {"title": "低保对象名单公示", "published_at": f"{days[9]} 09:00:00", "days": 10}}
    with county_server(tmp_path, county_repo, COUNTY_KEEP_DAYS=30) as county:
        uplink = enrolled(kiosk_data, county.url, county.data)
        kiosk_id = int(uplink.config["kiosk_id"])
        open_local(kiosk_data).close()  # made and migrated, as kiosk serve does first
        for number, day in enumerate(days):
            on_show = ["dibao"] if number == 10 else []  # taken down the next day, inside its 公示期
            log = {"day": day.isoformat(), "at": f"{day} 02:30:00", "shown": 5, "notices": on_show,
                   "posting": {k: v for k, v in facts.items() if k in on_show}}  # fmt: skip
            _queue_display_log(kiosk_data, kiosk_id, log)
        raw = "select count(*) from uploads where kind = 'display_log'"
        left = []
        for extra in range(6):  # every upload prunes at most PRUNE_BATCH
            uplink.upload_outbox()
            left.append(county_rows(county.data, raw)[0][0])
            queue(kiosk_data, [rating(extra)])
        assert left == [75, 50, 31, 31, 31, 31], "kept whole: the last 30 days and today"
        oldest = county_rows(county.data, "select min(day) from uploads where kind = 'display_log'")[0][0]
        assert oldest == (today - timedelta(days=30)).isoformat()
        assert county_rows(county.data, "select count(*), sum(shown) from daily_display_logs")[0][:] == (100, 500)
        (gone,) = county_rows(county.data, "select notice, last_seen, missing from gone_from_logs")
        assert tuple(gone) == ("dibao", days[10].isoformat(), days[11].isoformat()), "the judged takedown stays"
        resent = {"day": days[0].isoformat(), "at": f"{days[0]} 02:30:00", "shown": 5, "notices": [], "posting": {}}
        queue(kiosk_data, [(f"display:{kiosk_id}:{days[0]}", "display_log", resent)])  # its answer was lost
        uplink.upload_outbox()
        assert outbox_left(kiosk_data) == 0, "acknowledged"
        assert county_rows(county.data, raw)[0][0] == 31, "and not stored again"


def test_sixty_days_offline_then_everything_arrives_exactly_once_in_bounded_batches(
    tmp_path: Path, county_repo: CountyRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A village of the size that jammed (bench's county-wide 5,000 notices; its 5,000 power items never
    appear in a display log, so they are left out), offline for 60 days with 60 ratings an hour."""
    import kiosk.device.reporting
    from bench.generate_county import generate_county
    from kiosk.county.takedowns import early_takedowns
    from kiosk.device.uplink import BATCH, Uplink
    from kiosk.screens.feedback import store_rating
    from sync.contract.content import load_county
    from sync.contract.snapshot import village_snapshot
    from sync.receive.install import install_snapshot
    from sync.receive.updater import init_kiosk

    today = date.today()
    first = today - timedelta(days=60)
    source = generate_county(tmp_path / "village", powers=1, notices=5000, today=first + timedelta(days=30),
                             county_share=1.0)  # fmt: skip
    loaded = load_county(source)
    village = loaded.villages()[0]["code"]
    kiosk_data = tmp_path / "kiosk"
    init_kiosk(kiosk_data, village, str(county_repo.path), county_repo.root)
    install_snapshot(kiosk_data, *village_snapshot(loaded, village, 1, first.isoformat()))
    dead = socket.socket()  # bound, never listening: every connection to it is refused, as offline
    dead.bind(("127.0.0.1", 0))
    with county_server(tmp_path, county_repo) as county, contextlib.closing(dead):
        db = county_store.open_store(county.data)
        _id, code = county_store.add_kiosk(db, village)
        db.close()
        uplink = Uplink(kiosk_data, attempts=2, timeout=5.0, sleep=lambda _seconds: None)
        uplink.enrol(county.url, code)
        uplink.config["county"] = f"http://127.0.0.1:{dead.getsockname()[1]}"
        local = open_local(kiosk_data)
        local.execute("pragma synchronous = off")  # the test's own writes; the kiosk's code path is the same
        posted = ""
        for offline_day in range(60):
            day = first + timedelta(days=offline_day)
            at = datetime.combine(day, datetime.min.time()) + timedelta(hours=2, minutes=30)
            monkeypatch.setattr(kiosk.device.reporting, "county_now", lambda *_, at=at: at)
            ok, line = send_to_county(kiosk_data, uplink)  # the nightly report: the day's display log is queued
            assert not ok and "outbox keeps everything" in line, line
            for minute in range(24 * 60):
                store_rating(local, "power", f"power-{minute % 50}", minute % 5 + 1, [], day.isoformat())
            if offline_day == 10:  # a 公示 posted, then taken down two days later: the county must still see it
                posted = notices.create(local, "bo", {"domain": "village", "title": "低保对象公示", "body": "名单",
                                                      "published": f"{day} 09:00", "min_posting_days": 10},
                                        at + timedelta(hours=7), publish=True)  # fmt: skip
            if offline_day == 12:
                notices.withdraw(
                    local, "bo", posted, at + timedelta(hours=7), reason="贴错了", calendar=MONDAY_TO_FRIDAY
                )
        local.close()
        waiting = outbox_left(kiosk_data)
        assert waiting == 60 * 24 * 60 + 60 + 2

        back = datetime.combine(today, datetime.min.time()) + timedelta(hours=9)
        monkeypatch.setattr(kiosk.device.reporting, "county_now", lambda *_: back)
        uplink.config["county"], uplink.attempts = county.url, 6
        county.flaky.rate = 0.03  # answers lost after the county stored the batch, 500s, stalls
        ok, line = send_to_county(kiosk_data, uplink)
        assert ok, line

        assert outbox_left(kiosk_data) == 0
        rows = {
            kind: count for kind, count in county_rows(county.data, "select kind, count(*) from uploads group by kind")
        }
        assert rows == {"feedback": 86_400, "display_log": 61, "village_notice": 2}, "all of it, each once"
        assert county_rows(county.data, "select sum(count) from rating_counts")[0][0] == 86_400
        assert county_rows(county.data, "select count(*) from rejected_uploads")[0][0] == 0
        sizes = [len(row[0].encode()) for row in county_rows(county.data, "select payload from uploads"
                                                                         " where kind = 'display_log'")]  # fmt: skip
        assert max(sizes) < 16_000, "a display log carries only what the county uses (on main: ~180 KB)"
        uploads = county.recorder.uploads
        assert max(size for size, _status in uploads) <= BATCH_BYTES
        assert len(uploads) <= 2 * -(-(waiting + 1) // BATCH) + sum(county.flaky.faults.values()), uploads
        db = county_store.open_store(county.data)
        gone = early_takedowns(db, first, today)
        db.close()
        assert [(t["notice"], t["reason"]) for t in gone] == [(posted, "贴错了")], "judged as from full logs"
