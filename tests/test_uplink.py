"""A kiosk's link to its county server, for real on loopback: enrolment, signed reports, the outbox."""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from kiosk.cli import main
from kiosk.county import CountyServer, create_county_app
from kiosk.county import store as county_store
from kiosk.data.duties import first_install
from kiosk.data.local_db import open_local
from kiosk.device.nightly import PeriodicReport
from kiosk.device.uplink import KEY_FILE, Uplink, UplinkError
from sync.receive.updater import read_config, sync_kiosk
from tests.county_repo import VILLAGE, CountyRepo
from tests.servers import WSGIApp, serving

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL


class Flaky:
    """WSGI middleware failing uploads (or the requests to *paths*) at random: 500s, answers lost after the work
    was done, stalls."""

    def __init__(self, app: WSGIApp, seed: int, rate: float) -> None:
        self.app, self.rng, self.rate = app, random.Random(seed), rate
        self.paths = {"/api/outbox"}
        self.faults = {"500": 0, "lost": 0, "stall": 0}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") not in self.paths:
            return self.app(environ, start_response)
        with self._lock:
            roll = self.rng.random()
        if roll < self.rate / 3:
            self.faults["500"] += 1
            start_response("500 Injected", [("Content-Length", "0")])
            return []
        if roll < 2 * self.rate / 3:
            self.faults["lost"] += 1
            body = b"".join(self.app(environ, lambda *_args: None))  # the county stores the batch...
            return self._dropped(body)  # ...and the answer never reaches the kiosk
        if roll < self.rate:
            self.faults["stall"] += 1
            time.sleep(0.6)  # longer than the kiosk's read timeout
        return self.app(environ, start_response)

    @staticmethod
    def _dropped(_body: bytes) -> Iterator[bytes]:
        raise ConnectionAbortedError("injected: answer lost")
        yield b""  # pragma: no cover - makes this a generator


@pytest.fixture()
def county(tmp_path: Path, county_repo: CountyRepo) -> Iterator[tuple[str, Path, Flaky]]:
    data = tmp_path / "county-server"
    app = create_county_app({"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(data), "SECRET_KEY": "c"})
    flaky = Flaky(CountyServer(county_repo.path, app), seed=7, rate=0.0)
    with serving(flaky, threads=4) as url:
        yield url, data, flaky


def enrolled(kiosk_data: Path, url: str, county_data: Path, **options: Any) -> Uplink:
    db = county_store.open_store(county_data)
    _kiosk_id, code = county_store.add_kiosk(db, VILLAGE)
    db.close()
    uplink = Uplink(kiosk_data, sleep=lambda _seconds: None, **options)
    uplink.enrol(url, code)
    return uplink


def county_rows(county_data: Path, sql: str) -> list[sqlite3.Row]:
    db = county_store.open_store(county_data)
    rows = db.execute(sql).fetchall()
    db.close()
    return rows


def queue_feedback(kiosk_data: Path, count: int) -> None:
    db = open_local(kiosk_data)
    db.executemany(
        "insert into outbox (idempotency_key, kind, payload, created_at) values (?, 'feedback', ?, '2026-11-27')",
        [(str(uuid.uuid4()), json.dumps({"kind": "power", "item_id": "dibao-shenqing", "level": n % 5 + 1,
                                          "reasons": [], "day": "2026-11-27"}))
         for n in range(count)],
    )  # fmt: skip
    db.close()


def outbox_left(kiosk_data: Path) -> int:
    db = open_local(kiosk_data)
    left = int(db.execute("select count(*) from outbox").fetchone()[0])
    db.close()
    return left


def test_enrol_with_a_one_time_code(county: tuple[str, Path, Flaky], kiosk_data: Path) -> None:
    url, county_data, _flaky = county
    db = county_store.open_store(county_data)
    _id, code = county_store.add_kiosk(db, VILLAGE)
    _other, other_village = county_store.add_kiosk(db, "liutang")
    db.close()
    runner = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"})
    wrong = runner.invoke(main, ["enrol", other_village, "--county", url, "--data", str(kiosk_data)])
    assert wrong.exit_code != 0 and "used, expired or for another village" in wrong.output
    done = runner.invoke(main, ["enrol", code, "--county", url, "--data", str(kiosk_data)])
    assert done.exit_code == 0, done.output
    assert read_config(kiosk_data)["county"] == url and (kiosk_data / KEY_FILE).stat().st_mode & 0o777 == 0o600
    again = runner.invoke(main, ["enrol", code, "--county", url, "--data", str(kiosk_data)])
    assert again.exit_code != 0, "a code works once"


def test_a_signed_report_is_recorded(county: tuple[str, Path, Flaky], kiosk_data: Path) -> None:
    url, county_data, _flaky = county
    assert sync_kiosk(kiosk_data).outcome == "updated"
    enrolled(kiosk_data, url, county_data)
    local = open_local(kiosk_data)
    first_install(local, date(2025, 1, 1))  # in use for a while: what it disclosed late since counts
    local.close()
    result = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"}).invoke(main, ["report", "--data", str(kiosk_data)])
    assert result.exit_code == 0 and "reported to the county" in result.output, result.output
    (row,) = county_rows(county_data, "select * from reports")
    assert row["outbox_depth"] == 0, "the report comes after the upload: nothing is left waiting"
    assert row["disk_free_bytes"] > 0 and row["app_version"]
    assert row["content_version"] == 2 and row["last_outcome"] == "updated"
    overdue = json.loads(row["overdue"])
    assert any(o["duty"] == "caiwu-shouzhi" for o in overdue), "the village's late disclosures reach the county"


def test_a_display_log_a_day_says_which_notices_were_on_show(county: tuple[str, Path, Flaky], kiosk_data: Path) -> None:
    from kiosk.data import notices
    from sync.contract.dates import local_now

    url, county_data, _flaky = county
    assert sync_kiosk(kiosk_data).outcome == "updated"
    enrolled(kiosk_data, url, county_data)
    now = local_now("Asia/Shanghai").replace(microsecond=0)
    local = open_local(kiosk_data)
    village_notice = notices.create(local, "bo", {"domain": "village", "title": "村里的通知", "body": "正文",
                                                 "published": f"{now:%Y-%m-%d}", "min_posting_days": 5,
                                                 "expires": f"{now + timedelta(days=30):%Y-%m-%d}"},
                                    now, publish=True)  # fmt: skip
    local.close()
    runner = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"})
    outputs = [runner.invoke(main, ["report", "--data", str(kiosk_data)]).output for _report in range(2)]
    assert "0 items uploaded" in outputs[1], "a second report the same day sends no second log"
    logs = county_rows(county_data, "select payload from uploads where kind = 'display_log'")
    assert len(logs) == 1
    log = json.loads(logs[0]["payload"])
    assert log["day"] == now.date().isoformat() and village_notice in log["notices"]
    facts = log["posting"][village_notice]  # what the county needs to judge its 公示期
    assert facts["days"] == 5 and facts["title"] == "村里的通知"
    assert facts["published_at"].startswith(f"{now:%Y-%m-%d}") and facts["expires_at"].startswith(
        f"{now + timedelta(days=30):%Y-%m-%d}")  # fmt: skip
    assert outbox_left(kiosk_data) == 0


def test_revoked_and_forged_credentials_are_refused(county: tuple[str, Path, Flaky], kiosk_data: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    url, county_data, _flaky = county
    uplink = enrolled(kiosk_data, url, county_data, attempts=1)
    key_file = kiosk_data / KEY_FILE
    real_key = key_file.read_bytes()
    forged = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_file.write_bytes(forged)  # someone else's key, the kiosk's id
    with pytest.raises(UplinkError, match="refused the report"):
        uplink.report({"content_version": 1})
    key_file.write_bytes(real_key)
    uplink.report({"content_version": 1})
    db = county_store.open_store(county_data)
    assert county_store.revoke(db, int(read_config(kiosk_data)["kiosk_id"]))
    db.close()
    with pytest.raises(UplinkError, match="refused the report"):
        uplink.report({"content_version": 2})
    queue_feedback(kiosk_data, 3)
    with pytest.raises(UplinkError, match="refused the upload"):
        uplink.upload_outbox()
    assert outbox_left(kiosk_data) == 3, "nothing leaves the kiosk that the county did not take"
    assert len(county_rows(county_data, "select * from reports")) == 1


def test_a_thousand_ratings_made_offline_arrive_exactly_once_over_a_flaky_link(
    county: tuple[str, Path, Flaky], kiosk_data: Path
) -> None:
    url, county_data, flaky = county
    uplink = enrolled(kiosk_data, url, county_data, timeout=0.3)
    queue_feedback(kiosk_data, 1000)  # made while the county server was out of reach
    flaky.rate = 0.45
    rounds = 0
    while outbox_left(kiosk_data) and rounds < 60:  # a round may give up after its attempts; the next goes on
        rounds += 1
        with contextlib.suppress(UplinkError):
            uplink.upload_outbox(batch=50)
    assert outbox_left(kiosk_data) == 0
    (count,) = county_rows(county_data, "select count(*) from uploads where kind = 'feedback'")[0]
    assert count == 1000
    (counted,) = county_rows(county_data, "select sum(count) from rating_counts")[0]
    assert counted == 1000, "the dashboard's counts: a batch stored twice is counted once"
    assert min(flaky.faults.values()) > 0, flaky.faults  # every kind of failure happened


def test_a_report_whose_answer_was_lost_is_sent_again_and_kept_once(
    county: tuple[str, Path, Flaky], kiosk_data: Path
) -> None:
    """A kiosk sends a report again when its answer does not come (to whichever of the county's processes is
    up): the county keeps each report once, by the key the kiosk gave it."""
    url, county_data, flaky = county
    uplink = enrolled(kiosk_data, url, county_data, timeout=0.3)
    flaky.paths, flaky.rate = {"/api/report"}, 0.45
    taken = []
    for number in range(30):
        with contextlib.suppress(UplinkError):  # six tries failed: this report may or may not have arrived
            uplink.report({"content_version": number})
            taken.append(number)
    kept = [row[0] for row in county_rows(county_data, "select content_version from reports order by id")]
    assert sorted(set(kept)) == sorted(kept), "no report kept twice"
    assert set(taken) <= set(kept)
    assert flaky.faults["lost"] > 0 and len(taken) > 20, (flaky.faults, taken)


def test_a_replayed_upload_is_acknowledged_not_stored_twice(county: tuple[str, Path, Flaky], kiosk_data: Path) -> None:
    url, county_data, _flaky = county
    uplink = enrolled(kiosk_data, url, county_data)
    queue_feedback(kiosk_data, 5)
    db = open_local(kiosk_data)
    rows = db.execute("select idempotency_key, kind, payload from outbox").fetchall()
    db.close()
    items = [{"key": key, "kind": kind, "payload": json.loads(payload)} for key, kind, payload in rows]
    body = json.dumps({"items": items}).encode()
    for _replay in range(3):
        response = uplink._post("/api/outbox", body)
        assert response.status == 200 and len(response.json()["acked"]) == 5
    (count,) = county_rows(county_data, "select count(*) from uploads")[0]
    assert count == 5


def test_a_captured_request_sent_again_is_refused(county: tuple[str, Path, Flaky], kiosk_data: Path) -> None:
    import urllib3

    url, county_data, _flaky = county
    uplink = enrolled(kiosk_data, url, county_data)
    captured: dict[str, Any] = {}
    real_request = uplink.pool.request

    def capture(method: str, target: str, **options: Any) -> Any:
        captured.update(options)
        return real_request(method, target, **options)

    uplink.pool.request = capture  # type: ignore[method-assign,assignment]
    uplink.report({"content_version": 1})
    replay = urllib3.PoolManager().request("POST", f"{url}/api/report", body=captured["body"],
                                           headers=captured["headers"])  # fmt: skip
    assert replay.status == 403
    assert len(county_rows(county_data, "select * from reports")) == 1


def test_kiosk_serve_reports_every_so_often_from_a_child_process(
    county: tuple[str, Path, Flaky], kiosk_data: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, county_data, _flaky = county
    enrolled(kiosk_data, url, county_data)
    monkeypatch.setenv("KIOSK_DEFAULT_LOCALE", "en")  # the child's language
    caplog.set_level(logging.INFO, logger="kiosk.device.nightly")
    reporter = PeriodicReport(kiosk_data, interval_s=0.05)  # KIOSK_REPORT_MINUTES counts whole minutes
    reporter.start()
    try:
        deadline = time.monotonic() + 60
        while not county_rows(county_data, "select 1 from reports") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        reporter.stop.set()
        reporter.join(timeout=60)
    assert not reporter.is_alive(), "a stop ends it (after the report under way)"
    reports = county_rows(county_data, "select kiosk_id from reports")
    assert reports and {row["kiosk_id"] for row in reports} == {read_config(kiosk_data)["kiosk_id"]}
    lines = [record.getMessage() for record in caplog.records if record.name == "kiosk.device.nightly"]
    assert lines and all(line.startswith("county report: reported to the county") for line in lines), lines


def _init(kiosk_data: Path, county_repo: CountyRepo, *more: str) -> Result:
    runner = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"})
    return runner.invoke(main, ["init", "--village", VILLAGE, "--repo", str(county_repo.path), "--root",
                                str(county_repo.root), "--data", str(kiosk_data), *more])  # fmt: skip


def test_init_enrols_with_the_county_in_the_same_step(
    county: tuple[str, Path, Flaky], county_repo: CountyRepo, tmp_path: Path
) -> None:
    url, county_data, _flaky = county
    db = county_store.open_store(county_data)
    kiosk_id, code = county_store.add_kiosk(db, VILLAGE)
    db.close()
    done = _init(tmp_path / "kiosk", county_repo, "--enrol", code, "--county", url)
    assert done.exit_code == 0, done.output
    assert f"Kiosk set up for {VILLAGE}" in done.output and f"Enrolled as kiosk {kiosk_id}" in done.output
    assert read_config(tmp_path / "kiosk")["kiosk_id"] == kiosk_id
    (row,) = county_rows(county_data, "select id, public_key from kiosks where enrolled_at is not null")
    assert row["id"] == kiosk_id and row["public_key"], "the county holds the kiosk's key"


def test_init_with_a_refused_code_stays_set_up_and_says_how_to_enrol_later(
    county: tuple[str, Path, Flaky], county_repo: CountyRepo, tmp_path: Path
) -> None:
    url, county_data, _flaky = county
    db = county_store.open_store(county_data)
    _other, other_village = county_store.add_kiosk(db, "liutang")
    db.close()
    refused = _init(tmp_path / "kiosk", county_repo, "--enrol", other_village, "--county", url)
    assert refused.exit_code == 1, refused.output
    assert "used, expired or for another village" in refused.output
    assert f"kiosk enrol CODE --county {url}" in refused.output
    config = read_config(tmp_path / "kiosk")
    assert config["village"] == VILLAGE and "kiosk_id" not in config, "set up, not enrolled"
    assert not county_rows(county_data, "select 1 from kiosks where enrolled_at is not null")


@pytest.mark.parametrize("half", [["--enrol", "abc-def"], ["--county", "http://127.0.0.1:9"]])
def test_init_takes_enrol_and_county_together(county_repo: CountyRepo, tmp_path: Path, half: list[str]) -> None:
    result = _init(tmp_path / "kiosk", county_repo, *half)
    assert result.exit_code == 2 and "--enrol CODE and --county URL go together" in result.output, result.output
    assert not (tmp_path / "kiosk").exists(), "nothing set up"


def test_add_kiosk_checks_the_village_against_the_published_county(county_repo: CountyRepo, tmp_path: Path) -> None:
    runner = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"})
    data = tmp_path / "county-data"
    command = ["county", "add-kiosk", "--repo", str(county_repo.path), "--data", str(data)]
    typo = runner.invoke(main, [*command, "taoyaun"])
    assert typo.exit_code == 1 and "no village taoyaun; its villages: " in typo.output and VILLAGE in typo.output
    assert county_rows(data, "select count(*) from kiosks")[0][0] == 0, "nothing registered"
    added = runner.invoke(main, [*command, VILLAGE])
    assert added.exit_code == 0 and re.search(r"kiosk enrol [0-9a-f]{6}(-[0-9a-f]{6}){3} --county", added.output)


def test_a_failed_upload_still_reports_what_is_left_waiting(county: tuple[str, Path, Flaky], kiosk_data: Path) -> None:
    from kiosk.device.reporting import send_to_county

    url, county_data, flaky = county
    assert sync_kiosk(kiosk_data).outcome == "updated"
    uplink = enrolled(kiosk_data, url, county_data, attempts=2)
    queue_feedback(kiosk_data, 3)
    flaky.rate, flaky.rng.random = 1.0, lambda: 0.0  # type: ignore[method-assign]  # every upload answered 500
    ok, line = send_to_county(kiosk_data, uplink)
    assert not ok and "the upload failed" in line and "500" in line, line
    (row,) = county_rows(county_data, "select outbox_depth from reports")
    assert row["outbox_depth"] == 4 == outbox_left(kiosk_data), "three ratings and the day's display log, stuck"


def test_kiosk_report_fails_when_the_county_refuses_it(county: tuple[str, Path, Flaky], kiosk_data: Path) -> None:
    url, county_data, _flaky = county
    enrolled(kiosk_data, url, county_data)
    db = county_store.open_store(county_data)
    county_store.revoke(db, int(read_config(kiosk_data)["kiosk_id"]))
    db.close()
    result = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"}).invoke(main, ["report", "--data", str(kiosk_data)])
    assert result.exit_code == 1 and "refused the report (403)" in result.output, result.output


def test_kiosk_sync_json_says_whether_the_county_took_the_report(
    county: tuple[str, Path, Flaky], kiosk_data: Path
) -> None:
    url, county_data, _flaky = county
    enrolled(kiosk_data, url, county_data)
    runner = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"})
    done = json.loads(runner.invoke(main, ["sync", "--json", "--data", str(kiosk_data)]).output.strip())
    assert done["outcome"] == "updated" and done["county_ok"] is True
    assert done["county_report"].startswith("reported to the county")
    db = county_store.open_store(county_data)
    county_store.revoke(db, int(read_config(kiosk_data)["kiosk_id"]))
    db.close()
    refused = json.loads(runner.invoke(main, ["sync", "--json", "--data", str(kiosk_data)]).output.strip())
    assert refused["outcome"] == "unchanged" and refused["county_ok"] is False
    assert "refused the report (403)" in refused["county_report"]


def test_a_failed_periodic_report_is_logged_as_a_warning(
    county: tuple[str, Path, Flaky], kiosk_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, county_data, _flaky = county
    enrolled(kiosk_data, url, county_data)
    caplog.set_level(logging.INFO, logger="kiosk.device.nightly")
    for ok in (True, False):

        def report(_data: Path, ok: bool = ok) -> tuple[bool, str]:
            return ok, "what happened"

        PeriodicReport(kiosk_data, interval_s=3600, report=report).run_once()
    assert [record.levelname for record in caplog.records if record.name == "kiosk.device.nightly"] == [
        "INFO",
        "WARNING",
    ]


def test_a_kiosk_the_county_does_not_know_is_refused(county: tuple[str, Path, Flaky], kiosk_data: Path) -> None:
    url, county_data, _flaky = county
    uplink = enrolled(kiosk_data, url, county_data, attempts=1)
    db = county_store.open_store(county_data)
    registered_only, _code = county_store.add_kiosk(db, VILLAGE)  # has a code, never enrolled: no key
    db.close()
    for kiosk_id in (999, registered_only):
        uplink.config["kiosk_id"] = kiosk_id  # the kiosk's own key, another (or no) kiosk's id
        with pytest.raises(UplinkError, match="refused the report"):
            uplink.report({"content_version": 1})
    assert county_rows(county_data, "select count(*) from reports")[0][0] == 0


def test_a_kiosk_with_a_flat_battery_reports_by_its_time_floor_and_a_wrong_clock_is_told_why(
    county: tuple[str, Path, Flaky], kiosk_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, county_data, _flaky = county
    assert sync_kiosk(kiosk_data).outcome == "updated"  # the time floor: the county's signing time
    uplink = enrolled(kiosk_data, url, county_data)
    monkeypatch.setattr("kiosk.data.clock.utc_now", lambda: datetime(2000, 1, 1, tzinfo=UTC))
    for _ in range(2):  # each signed afresh, so the second is no replay of the first
        uplink.report({"content_version": 2})
    assert len(county_rows(county_data, "select * from reports")) == 2

    monkeypatch.setattr("kiosk.data.clock.utc_now", lambda: datetime.now(UTC) + timedelta(days=3))
    with pytest.raises(UplinkError, match=r"refused the report \(403\): the kiosk's clock is wrong"):
        uplink.report({"content_version": 2})
