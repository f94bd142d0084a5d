"""The county server at its edges: body caps, the real client behind a proxy, the kiosks' clocks,
each kiosk's rate and quota, well-formed ids, how long uploads are kept, and refusals logged."""

from __future__ import annotations

import http.client
import itertools
import json
import logging
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import urllib3
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bench.wire import free_port, stop_process
from kiosk.cli import main
from kiosk.county import CountyServer, create_county_app, limits, serve_options
from kiosk.county import store as county_store
from kiosk.data import accounts
from tests.county_repo import VILLAGE, CountyRepo
from tests.test_staff import PASSWORD

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

TICKS = itertools.count(1)
NOW = datetime.now(UTC).replace(second=5, microsecond=0)  # early in a minute: the per-minute count stays in it


@pytest.fixture()
def county_app(county_repo: CountyRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setattr(limits, "utc_now", lambda: NOW)
    config = {"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(tmp_path / "county-server"),
              "SECRET_KEY": "edges", "DEFAULT_LOCALE": "en"}  # fmt: skip
    return create_county_app(config)


@pytest.fixture()
def db(county_app: Flask) -> Iterator[sqlite3.Connection]:
    connection = county_store.open_store(Path(county_app.config["DATA_DIR"]))
    yield connection
    connection.close()


@dataclass
class Kiosk:
    id: int
    key: Ed25519PrivateKey


def enrolled(db: sqlite3.Connection) -> Kiosk:
    kiosk_id, code = county_store.add_kiosk(db, VILLAGE)
    key = Ed25519PrivateKey.generate()
    county_store.enrol(db, code, VILLAGE, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex())
    return Kiosk(kiosk_id, key)


def signed(client: FlaskClient, kiosk: Kiosk, path: str, payload: Any, at: datetime | None = None,
           kiosk_id: str | None = None) -> TestResponse:  # fmt: skip
    """POST *payload* as *kiosk* signs it, at its clock's time *at* (the county's now unless given)."""
    body = json.dumps(payload).encode()
    stamp = ((at or NOW) + timedelta(microseconds=next(TICKS))).isoformat()  # never the same signature twice
    headers = {"X-Kiosk-Id": str(kiosk.id) if kiosk_id is None else kiosk_id, "X-Kiosk-Time": stamp,
               "X-Kiosk-Signature": kiosk.key.sign(county_store.signed_text(stamp, body)).hex()}  # fmt: skip
    return client.post(path, data=body, headers=headers, content_type="application/json")


def ratings(count: int, prefix: str = "r") -> dict[str, Any]:
    payload = {"kind": "power", "item_id": "dibao-shenqing", "level": 4, "reasons": [], "day": f"{NOW:%Y-%m-%d}"}
    return {"items": [{"key": f"{prefix}{n}", "kind": "feedback", "payload": payload} for n in range(count)]}


def count(db: sqlite3.Connection, table: str) -> int:
    return int(db.execute(f"select count(*) from {table}").fetchone()[0])  # noqa: S608 - the tests' own names


# --- ids and clocks ----------------------------------------------------------------------------


@pytest.mark.parametrize("claimed", ["²", "١٢", "7\u00a0", "1e3", "-1", "9" * 13, ""])
def test_a_kiosk_id_that_is_not_plain_ascii_digits_is_refused_403(
    county_app: Flask, db: sqlite3.Connection, claimed: str
) -> None:
    kiosk = enrolled(db)
    answer = signed(county_app.test_client(), kiosk, "/api/report", {}, kiosk_id=claimed)
    assert answer.status_code == 403 and answer.get_json() == {"error": "not signed by an enrolled kiosk"}
    assert count(db, "reports") == 0


@pytest.mark.parametrize("off", [timedelta(days=-3), timedelta(hours=25), timedelta(days=-9000)])
def test_a_kiosk_whose_clock_is_off_is_told_so_and_nothing_it_sent_is_kept(
    county_app: Flask, db: sqlite3.Connection, caplog: pytest.LogCaptureFixture, off: timedelta
) -> None:
    kiosk = enrolled(db)
    with caplog.at_level(logging.WARNING):
        answer = signed(county_app.test_client(), kiosk, "/api/outbox", ratings(2), at=NOW + off)
    assert answer.status_code == 403
    refusal = answer.get_json()
    assert refusal["problem"] == "clock" and "clock is wrong" in refusal["error"]
    assert f"{NOW + off:%Y-%m-%d %H:%M}" in refusal["error"] and refusal["county_time"] == NOW.isoformat()
    lines = [r.getMessage() for r in caplog.records if r.name == "kiosk.county.guard"]
    assert len(lines) == 1 and f"kiosk '{kiosk.id}'" in lines[0] and "clock is wrong" in lines[0]
    assert count(db, "uploads") == count(db, "seen_signatures") == 0


def test_a_clock_within_the_window_is_accepted_and_only_the_kiosk_can_claim_a_wrong_one(
    county_app: Flask, db: sqlite3.Connection
) -> None:
    kiosk, stranger = enrolled(db), Kiosk(0, Ed25519PrivateKey.generate())
    client = county_app.test_client()
    assert signed(client, kiosk, "/api/report", {}, at=NOW - timedelta(hours=23)).status_code == 204
    assert signed(client, kiosk, "/api/report", {}, at=NOW + timedelta(hours=23)).status_code == 204
    forged = signed(client, stranger, "/api/report", {}, at=NOW - timedelta(days=3), kiosk_id=str(kiosk.id))
    assert forged.status_code == 403 and forged.get_json() == {"error": "not signed by an enrolled kiosk"}


# --- rate and quota ----------------------------------------------------------------------------


def test_one_kiosk_is_held_to_its_requests_per_minute_and_others_are_not(
    county_app: Flask, db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    county_app.config["COUNTY_KIOSK_REQUESTS_PER_MINUTE"] = 3
    busy, other = enrolled(db), enrolled(db)
    client = county_app.test_client()
    assert [signed(client, busy, "/api/report", {}).status_code for _ in range(3)] == [204, 204, 204]
    refused = signed(client, busy, "/api/report", {})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "55"
    assert refused.get_json()["problem"] == "limit" and "this minute" in refused.get_json()["error"]
    assert signed(client, other, "/api/report", {}).status_code == 204
    monkeypatch.setattr(limits, "utc_now", lambda: NOW + timedelta(minutes=1))
    assert signed(client, busy, "/api/report", {}, at=NOW + timedelta(minutes=1)).status_code == 204


def test_one_kiosk_key_cannot_add_more_than_its_days_quota(county_app: Flask, db: sqlite3.Connection) -> None:
    """The field: one key added 108 MB in 2 s. Now a day's bytes and items are capped per kiosk."""
    county_app.config.update(COUNTY_KIOSK_MB_PER_DAY=1, COUNTY_KIOSK_ITEMS_PER_DAY=150)
    heavy, many, other = enrolled(db), enrolled(db), enrolled(db)
    client = county_app.test_client()
    padding = {"last_error": "x" * 600_000}
    assert [signed(client, heavy, "/api/report", padding).status_code for _ in range(2)] == [204, 204]
    refused = signed(client, heavy, "/api/report", {})
    midnight = datetime.combine(NOW.date() + timedelta(days=1), datetime.min.time(), UTC)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == (midnight - NOW).total_seconds()
    assert "quota" in refused.get_json()["error"]
    assert signed(client, many, "/api/outbox", ratings(100, "a")).status_code == 200
    assert signed(client, many, "/api/outbox", ratings(100, "b")).status_code == 200
    assert signed(client, many, "/api/outbox", ratings(1, "c")).status_code == 429
    assert count(db, "uploads") == 200
    assert signed(client, other, "/api/outbox", ratings(1, "d")).status_code == 200


# --- retention ---------------------------------------------------------------------------------


def test_uploads_and_reports_are_kept_n_days_then_only_what_the_dashboard_counts(
    county_app: Flask, db: sqlite3.Connection
) -> None:
    kiosk, quiet = enrolled(db), enrolled(db)
    long_ago = NOW - timedelta(days=91)
    for n in range(3):
        county_store.record_report(db, kiosk.id, {"content_version": n}, now=long_ago)
    county_store.record_report(db, quiet.id, {"content_version": 7}, now=long_ago)  # its latest: kept
    change = {"action": "publish", "at": f"{long_ago:%Y-%m-%d %H:%M}", "notice": {"id": "n1", "title": "t"}}
    county_store.store_uploads(db, kiosk.id, ratings(limits.PRUNE_BATCH + 5)["items"], now=long_ago)
    county_store.store_uploads(db, kiosk.id, [{"key": "c", "kind": "village_notice", "payload": change},
                                              {"key": "odd", "kind": "feedback", "payload": {"level": 9}}],
                               now=long_ago)  # fmt: skip
    rated = db.execute("select sum(count) from rating_counts").fetchone()[0]
    assert count(db, "latest_notices") == count(db, "rejected_uploads") == 1
    client = county_app.test_client()
    assert signed(client, kiosk, "/api/report", {"content_version": 9}).status_code == 204
    # Bounded: one request deletes at most a batch per table; the next goes on.
    assert db.execute("select count(*) from uploads where kind = 'feedback'").fetchone()[0] == 5
    assert signed(client, kiosk, "/api/report", {"content_version": 9}).status_code == 204
    assert count(db, "uploads") == count(db, "rejected_uploads") == 0
    versions = sorted(row[0] for row in db.execute("select content_version from reports"))
    assert versions == [7, 9, 9], "the quiet kiosk's latest report stays, however old"
    assert db.execute("select sum(count) from rating_counts").fetchone()[0] == rated == limits.PRUNE_BATCH + 5
    assert count(db, "latest_notices") == 1


def test_recent_uploads_are_kept(county_app: Flask, db: sqlite3.Connection) -> None:
    kiosk = enrolled(db)
    county_store.store_uploads(db, kiosk.id, ratings(3)["items"], now=NOW - timedelta(days=89))
    assert signed(county_app.test_client(), kiosk, "/api/report", {}).status_code == 204
    assert count(db, "uploads") == 3


# --- logging -----------------------------------------------------------------------------------


def test_each_refusal_is_one_log_line_saying_who_what_and_why_with_no_traceback(
    county_app: Flask, db: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    county_app.config["COUNTY_KIOSK_REQUESTS_PER_MINUTE"] = 1
    kiosk = enrolled(db)
    client = county_app.test_client()
    with caplog.at_level(logging.INFO):
        signed(client, kiosk, "/api/report", {}, kiosk_id="²")
        client.post("/api/report", data=b"{}", headers={"X-Kiosk-Id": str(kiosk.id), "X-Kiosk-Signature": "00"})
        client.post("/api/enrol", json={"code": "nope", "village": VILLAGE, "public_key": "00"})
        signed(client, kiosk, "/api/report", {})
        signed(client, kiosk, "/api/report", {})
    lines = [record for record in caplog.records if record.name == "kiosk.county.guard"]
    assert len(lines) == 4 and not any(record.exc_info for record in caplog.records)
    messages = [record.getMessage() for record in lines]
    assert "kiosk '²'" in messages[0] and "POST /api/report" in messages[0] and "403" in messages[0]
    assert "not signed by an enrolled kiosk" in messages[1]
    assert "an unsigned caller" in messages[2] and "/api/enrol" in messages[2] and "enrolment code" in messages[2]
    assert "429" in messages[3] and "this minute" in messages[3]


# --- body caps ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/enrol", "/sign-in", "/sign-out", "/admin/accounts/new"])
def test_a_body_past_the_cap_is_refused_413_on_every_route(county_app: Flask, path: str) -> None:
    from kiosk.county import REQUEST_BYTES

    cap = REQUEST_BYTES  # only a studio form with photos may send more (test_studio_notices)
    assert cap <= 8 * 1024 * 1024
    answer = county_app.test_client().post(
        path, data=b"a=" + b"x" * cap, content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 413


@contextmanager
def serving_county(app: Flask) -> Iterator[int]:
    """Serve the county as `kiosk county serve` does (its waitress options) on a free loopback port."""
    from waitress.server import create_server

    server = create_server(CountyServer(Path(app.config["REPO"]), app), host="127.0.0.1", port=0, threads=4,
                           **serve_options(app.config))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        server.trigger.pull_trigger(server.close)
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()


def test_a_150_mb_body_is_answered_413_without_being_read(county_app: Flask) -> None:
    """The field: 150 MB to /api/enrol took the server from 79 to 656 MB. Now it is refused from its
    Content-Length and the connection closed: the sender cannot push more than the sockets' buffers."""
    size, sent = 150 * 1024 * 1024, 0
    with serving_county(county_app) as port, socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(f"POST /api/enrol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {size}\r\n\r\n".encode())  # fmt: skip
        chunk = b"x" * (1024 * 1024)
        try:
            while sent < size:
                connection.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed the connection: the rest was never read
        answer = connection.recv(200)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert sent < 32 * 1024 * 1024, f"the server took {sent >> 20} MB of a body it refuses"


# --- behind a proxy ----------------------------------------------------------------------------


class Visitor:
    """A browser behind the county's nginx: nginx appends its address to X-Forwarded-For."""

    def __init__(self, port: int, address: str) -> None:
        self.port, self.address, self.cookie = port, address, ""

    def request(self, method: str, path: str, form: dict[str, str] | None = None, claimed: str = "") -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        forwarded = f"{claimed}, {self.address}" if claimed else self.address
        headers = {"X-Forwarded-For": forwarded, "X-Forwarded-Proto": "http", "Cookie": self.cookie}
        body = None
        if form is not None:
            from urllib.parse import urlencode

            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        if cookie := response.getheader("Set-Cookie"):
            self.cookie = cookie.split(";", 1)[0]
        return response.status, text

    def sign_in(self, name: str, password: str, claimed: str = "") -> int:
        _status, page = self.request("GET", "/sign-in", claimed=claimed)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page)
        assert match is not None
        form = {"name": name, "password": password, "csrf_token": match.group(1) or match.group(2)}
        status, _page = self.request("POST", "/sign-in", form, claimed=claimed)
        return int(status)


def test_behind_a_proxy_one_visitors_wrong_passwords_do_not_lock_out_another(
    county_repo: CountyRepo, tmp_path: Path
) -> None:
    data = tmp_path / "county-server"
    app = create_county_app({"REPO": str(county_repo.path), "DATA_DIR": str(data), "SECRET_KEY": "proxy",
                             "DEFAULT_LOCALE": "en", "PROXY_HOPS": 1})  # fmt: skip
    officers = county_store.open_store(data)
    accounts.add(officers, "officer", "admin", PASSWORD, actor="test")
    officers.close()
    with serving_county(app) as port:
        attacker, officer = Visitor(port, "203.0.113.9"), Visitor(port, "198.51.100.7")
        # Whatever the attacker writes first in X-Forwarded-For, nginx's last entry is what counts.
        tries = [attacker.sign_in(f"guess{n}", "wrong", claimed=f"10.0.0.{n}") for n in range(11)]
        assert tries[:10] == [401] * 10 and tries[10] == 429
        assert officer.sign_in("officer", PASSWORD) == 302


# --- the county commands -----------------------------------------------------------------------


def test_county_init_refuses_keys_inside_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for keys, extra in ((repo / "keys", []), (tmp_path / "keys", ["--root-keys", str(repo / "root")])):
        result = CliRunner().invoke(main, ["county", "init", "--repo", str(repo), "--keys", str(keys), *extra],
                                    env={"KIOSK_DEFAULT_LOCALE": "en"})  # fmt: skip
        assert result.exit_code != 0 and "inside the repository" in result.output, result.output
    assert not list(tmp_path.rglob("*.pem"))


def test_county_serve_refuses_a_repository_holding_keys(
    county_repo: CountyRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import waitress

    served: list[object] = []
    monkeypatch.setattr(waitress, "serve", lambda *args, **kwargs: served.append(args))
    shutil.copytree(county_repo.keys, county_repo.path / "keys")
    arguments = ["county", "serve", "--repo", str(county_repo.path), "--data", str(tmp_path / "data")]
    result = CliRunner().invoke(main, arguments, env={"KIOSK_DEFAULT_LOCALE": "en"})
    assert result.exit_code != 0 and not served
    assert "key file inside the repository" in result.output and "Move the keys folder out" in result.output


@pytest.mark.parametrize("level", ["", "ERROR"])
def test_county_serve_logs_each_refusal_at_the_level_set(county_repo: CountyRepo, tmp_path: Path, level: str) -> None:
    port = free_port()
    env = {**os.environ, "KIOSK_LOG_LEVEL": level, "KIOSK_DEFAULT_LOCALE": "en"}
    command = [sys.executable, "-m", "kiosk.cli", "county", "serve", "--repo", str(county_repo.path), "--port",
               str(port), "--data", str(tmp_path / "data")]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert server.stderr is not None
    try:
        # Up to about a minute for the server to start on a busy machine (total=None: connect alone counts).
        retries = urllib3.Retry(total=None, connect=120, read=0, backoff_factor=0.1, backoff_max=0.5)
        answer = urllib3.PoolManager(retries=retries).request(
            "POST", f"http://127.0.0.1:{port}/api/report", body=b"{}",
            headers={"X-Kiosk-Id": "²", "Content-Type": "application/json"},
        )  # fmt: skip
        assert answer.status == 403
    finally:
        stop_process(server)
        log = server.stderr.read()
        server.stderr.close()
    refusals = [line for line in log.splitlines() if "WARNING kiosk.county.guard" in line]
    assert len(refusals) == (0 if level == "ERROR" else 1), log
    assert "Traceback" not in log


def test_a_log_level_that_is_not_one_is_named(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["county", "serve", "--repo", str(tmp_path)], env={"KIOSK_LOG_LEVEL": "LOUD"})
    assert result.exit_code == 2 and "KIOSK_LOG_LEVEL must be one of" in result.output and "'LOUD'" in result.output
