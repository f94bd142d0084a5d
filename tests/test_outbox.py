"""The outbox never jams: batches bounded by bytes, 413 for a body over the county's cap, items the
county can never take set aside, compact display logs, and the county's retention of those logs."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import urllib3
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.cli_uplink import send_to_county
from kiosk.county import CountyServer, create_county_app, overview, reports
from kiosk.local_db import open_local
from kiosk.uplink import BATCH_BYTES
from sync.updater import sync_kiosk
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
    with caplog.at_level(logging.WARNING, logger="kiosk.uplink"):
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
