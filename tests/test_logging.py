"""What the servers log for their operators (README: "What is logged"): a sync that fails on a bug
with its traceback, the county API's refusals, enrolments, refused uploads and sign-ins; never a
password, an enrolment code or what a kiosk sent."""

from __future__ import annotations

import io
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.county import create_county_app, limits, reports
from kiosk.county import store as county_store
from kiosk.data import accounts
from kiosk.data.local_db import open_local
from kiosk.demo import install_demo
from kiosk.device.nightly import report_in_child, sync_in_child
from kiosk.staff import create_staff_app
from sync.receive import updater
from tests.county_repo import VILLAGE, CountyRepo
from tests.test_county_edges import NOW, enrolled, ratings, signed
from tests.test_staff import PASSWORD, csrf_token, sign_in


def messages(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == logger]


# --- a sync that fails on a bug ----------------------------------------------------------------


def test_a_sync_failing_on_a_bug_logs_its_traceback_and_ends_as_a_failed_sync(
    kiosk_data: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(self: object) -> None:
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")

    monkeypatch.setattr(updater._Sync, "run", bug)
    with caplog.at_level(logging.ERROR, logger="sync.receive.updater"):
        result = updater.sync_kiosk(kiosk_data)
    assert result.outcome == "failed" and result.error and "TypeError" in result.error
    logged = [r for r in messages(caplog, "sync.receive.updater") if r.exc_info]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR
    assert logged[0].exc_info and isinstance(logged[0].exc_info[1], TypeError)
    assert updater.read_status(kiosk_data)["last_outcome"] == "failed", "kiosk status shows it"


def in_every_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """Run *code* at the start of every Python child process (through sitecustomize)."""
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(code, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", f"{inject}:{Path(__file__).resolve().parents[1]}")


def test_the_nightly_sync_passes_the_childs_traceback_on_to_its_log(
    kiosk_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The nightly sync runs `kiosk sync` in a child process: give that child a bug.
    bug = "from sync.receive import updater\ndef bug(self):\n    raise ZeroDivisionError('a bug in the sync')\n"
    in_every_child(tmp_path, monkeypatch, bug + "updater._Sync.run = bug\n")
    with caplog.at_level(logging.WARNING, logger="kiosk.device.nightly"):
        result = sync_in_child(kiosk_data, {"attempts": 1})
    assert result.outcome == "failed" and result.error and "ZeroDivisionError" in result.error
    passed_on = " ".join(r.getMessage() for r in messages(caplog, "kiosk.device.nightly"))
    assert "Traceback" in passed_on and "ZeroDivisionError: a bug in the sync" in passed_on


def test_a_report_childs_warnings_reach_the_log(
    kiosk_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `kiosk report` logs in its child (an outbox item set aside, say) would be lost with its stderr.
    warning = "import logging\nlogging.getLogger('kiosk.device.uplink').warning('outbox item k-1 set aside')\n"
    in_every_child(tmp_path, monkeypatch, warning)
    with caplog.at_level(logging.WARNING, logger="kiosk.device.nightly"):
        report_in_child(kiosk_data)
    passed_on = [r.getMessage() for r in messages(caplog, "kiosk.device.nightly")]
    assert len(passed_on) == 1 and "kiosk report" in passed_on[0] and "outbox item k-1 set aside" in passed_on[0]


# --- the county: refusals, enrolment, uploads set aside ----------------------------------------


@pytest.fixture()
def county_app(county_repo: CountyRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setattr(limits, "utc_now", lambda: NOW)
    app = create_county_app({"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(tmp_path / "county"),
                             "SECRET_KEY": "logs", "DEFAULT_LOCALE": "en"})  # fmt: skip
    return app


@pytest.fixture()
def db(county_app: Flask) -> Iterator[sqlite3.Connection]:
    connection = county_store.open_store(Path(county_app.config["DATA_DIR"]))
    yield connection
    connection.close()


@pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL
def test_a_refusal_names_the_kiosk_and_the_reason_and_never_logs_the_body(
    county_app: Flask, db: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    kiosk = enrolled(db)
    client = county_app.test_client()
    secret = "村民张三的身份证号"
    with caplog.at_level(logging.INFO):
        too_large = client.post("/api/outbox", data=b"x" * (reports.MAX_BODY + 1),
                                headers={"X-Kiosk-Id": str(kiosk.id)}, content_type="application/json")  # fmt: skip
        forged = client.post("/api/report", json={"note": secret},
                             headers={"X-Kiosk-Id": str(kiosk.id), "X-Kiosk-Time": NOW.isoformat(),
                                      "X-Kiosk-Signature": "00" * 64})  # fmt: skip
    assert (too_large.status_code, forged.status_code) == (413, 403)
    lines = [r for r in messages(caplog, "kiosk.county.guard")]
    assert [r.levelno for r in lines] == [logging.WARNING] * 2
    assert f"kiosk '{kiosk.id}'" in lines[0].getMessage() and "larger than" in lines[0].getMessage()
    assert f"kiosk '{kiosk.id}'" in lines[1].getMessage() and "not signed" in lines[1].getMessage()
    assert not any(secret in r.getMessage() or "xxxx" in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL
def test_an_enrolment_is_logged_and_a_refused_code_is_logged_without_the_code(
    county_app: Flask, db: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    kiosk_id, code = county_store.add_kiosk(db, VILLAGE)
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    client = county_app.test_client()
    with caplog.at_level(logging.INFO):
        assert client.post("/api/enrol", json={"code": code, "village": VILLAGE, "public_key": key}).status_code == 200
        refused = client.post("/api/enrol", json={"code": code, "village": VILLAGE, "public_key": key})
    assert refused.status_code == 403, "a code works once"
    enrolment = messages(caplog, "kiosk.county.reports")
    assert len(enrolment) == 1 and enrolment[0].levelno == logging.INFO
    assert f"kiosk {kiosk_id} enrolled for village {VILLAGE}" in enrolment[0].getMessage()
    refusal = messages(caplog, "kiosk.county.guard")
    assert len(refusal) == 1 and refusal[0].levelno == logging.WARNING and "/api/enrol" in refusal[0].getMessage()
    assert "enrolment code is unknown" in refusal[0].getMessage()
    assert not any(code in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL
def test_an_upload_the_county_sets_aside_is_logged_once(
    county_app: Flask, db: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    kiosk = enrolled(db)
    batch = ratings(1)
    batch["items"].append({"key": "odd", "kind": "feedback", "payload": {"kind": "power", "level": 9}})
    client = county_app.test_client()
    with caplog.at_level(logging.WARNING, logger="kiosk.county.uploads"):
        assert signed(client, kiosk, "/api/outbox", batch).status_code == 200
        assert signed(client, kiosk, "/api/outbox", batch).status_code == 200  # sent again: no second line
    lines = [r.getMessage() for r in messages(caplog, "kiosk.county.uploads")]
    assert len(lines) == 1 and f"{kiosk.id}:odd" in lines[0] and "feedback" in lines[0]
    assert f"kiosk {kiosk.id}" in lines[0] and "rejected_uploads" in lines[0]


# --- the staff console: a refused photo, sign-ins ----------------------------------------------


@pytest.fixture()
def staff_app(tmp_path: Path) -> Flask:
    install_demo(tmp_path)
    app = create_staff_app({"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "s", "DEFAULT_LOCALE": "en"})
    db = open_local(tmp_path)
    accounts.add(db, "bo", "staff", PASSWORD, actor="test")
    db.close()
    return app


def test_a_refused_staff_photo_is_logged_with_who_sent_it(staff_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    client = staff_app.test_client()
    assert sign_in(client, "bo").status_code == 302
    fields: dict[str, object] = {"domain": "village", "title": "通知", "body": "正文", "published": "", "expires": "",
                                 "min_posting_days": "", "csrf_token": csrf_token(client, "/notices/new")}  # fmt: skip
    fields["new_photos"] = (io.BytesIO(b"MZ\x90\x00 not a photo at all"), "photo.jpg")
    with caplog.at_level(logging.WARNING, logger="kiosk.staff.notice_views"):
        assert client.post("/notices/new", data=fields, content_type="multipart/form-data").status_code == 422
    lines = [r.getMessage() for r in messages(caplog, "kiosk.staff.notice_views")]
    assert len(lines) == 1 and "bo" in lines[0] and "'photo.jpg'" in lines[0] and "not_an_image" in lines[0]


def sign_in_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in messages(caplog, "kiosk.staff.auth")]


def check_sign_in_logs(client: FlaskClient, caplog: pytest.LogCaptureFixture, name: str) -> None:
    with caplog.at_level(logging.INFO, logger="kiosk.staff.auth"):
        assert sign_in(client, name).status_code == 302
        for _ in range(accounts.MAX_FAILURES):
            assert sign_in(client, name, "wrong password 123").status_code == 401
        assert sign_in(client, name).status_code == 401
    lines = sign_in_lines(caplog)
    levels = [level for level, _ in lines]
    assert levels == [logging.INFO] + [logging.WARNING] * (accounts.MAX_FAILURES + 1), lines
    assert all(name in text and "127.0.0.1" in text for _, text in lines)
    assert "signed in" in lines[0][1]
    assert "wrong account name or password" in lines[1][1]
    assert "locked until" in lines[-2][1] and "locked until" in lines[-1][1]
    assert not any(PASSWORD in text or "wrong password 123" in text for _, text in lines)


def test_staff_sign_ins_are_logged_with_name_and_address_never_the_password(
    staff_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    check_sign_in_logs(staff_app.test_client(), caplog, "bo")


@pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL
def test_county_dashboard_sign_ins_are_logged_the_same_way(
    county_app: Flask, db: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    accounts.add(db, "anna", "admin", PASSWORD, actor="test")
    check_sign_in_logs(county_app.test_client(), caplog, "anna")
