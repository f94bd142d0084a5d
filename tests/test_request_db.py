"""Each request opens a database once, on first use, and closes it when it ends, in all three apps."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from kiosk.county import create_county_app
from kiosk.data import local_db as local_db_module
from kiosk.data import notices
from kiosk.data.local_db import open_local
from kiosk.demo import install_demo
from kiosk.device.status import kiosk_status
from kiosk.screens import create_app
from kiosk.staff import create_staff_app
from kiosk.web import request_db
from tests.county_repo import CountyRepo
from tests.test_staff import sign_in
from tests.test_village_notices import now, values


def _app(which: str, demo_data: Path, county_repo: CountyRepo, tmp_path: Path) -> Flask:
    config = {"TESTING": True, "SECRET_KEY": "request-db", "DEFAULT_LOCALE": "en"}
    if which == "screens":
        return create_app({**config, "DATA_DIR": str(demo_data)})
    if which == "staff":
        return create_staff_app({**config, "DATA_DIR": str(tmp_path)})
    return create_county_app({**config, "DATA_DIR": str(tmp_path), "REPO": str(county_repo.path)})


def _opener(opened: list[sqlite3.Connection]) -> Callable[[], sqlite3.Connection]:
    def open_memory() -> sqlite3.Connection:
        opened.append(sqlite3.connect(":memory:"))
        return opened[-1]

    return open_memory


def _closed(connection: sqlite3.Connection) -> bool:
    try:
        connection.execute("select 1")
    except sqlite3.ProgrammingError:
        return True
    return False


@pytest.mark.parametrize("which", ["screens", "staff", "county"])
def test_a_request_opens_its_database_once_and_closes_it_at_the_end(
    which: str, demo_data: Path, county_repo: CountyRepo, tmp_path: Path
) -> None:
    app = _app(which, demo_data, county_repo, tmp_path)
    opened: list[sqlite3.Connection] = []
    with app.test_request_context("/"):
        first = request_db("local", _opener(opened))
        assert request_db("local", _opener(opened)) is first
        assert len(opened) == 1 and not _closed(first)
    assert _closed(first), "closed when the request ended"
    with app.test_request_context("/"):
        assert request_db("local", _opener(opened)) is not first, "the next request opens its own"


def test_a_connection_kept_elsewhere_is_forgotten_not_closed(demo_data: Path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(demo_data), "SECRET_KEY": "request-db"})
    opened: list[sqlite3.Connection] = []
    with app.test_request_context("/"):
        kept = request_db("content", _opener(opened), close=False)
    assert not _closed(kept)
    with app.test_request_context("/"):
        request_db("content", _opener(opened), close=False)
    assert len(opened) == 2


def test_a_staff_sign_in_closes_the_local_database_it_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_staff_app({"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "x", "DEFAULT_LOCALE": "en"})
    opened: list[sqlite3.Connection] = []
    real_open = local_db_module.open_local

    def spying(data_dir: Path, migrate: bool = True) -> sqlite3.Connection:
        opened.append(real_open(data_dir, migrate))
        return opened[-1]

    monkeypatch.setattr("kiosk.staff.auth.open_local", spying)
    sign_in(app.test_client(), "nobody", "wrong password")
    assert opened, "the sign-in read the accounts"
    assert all(_closed(connection) for connection in opened)


def test_the_connection_a_thread_keeps_reads_local_db_right_after_another_process_used_it(tmp_path: Path) -> None:
    # In `kiosk serve` the screens' threads keep their connection (local.db attached) between requests, the staff
    # console's home page reads the kiosk's status in the same process, and `kiosk report` or `kiosk status` use
    # local.db in another. Reading local.db with open() there, as a check of the file once did, dropped every lock
    # SQLite held on it in the process; the other process, alone to hold it by its locks, then deleted local.db-wal
    # and -shm as it closed, and the screens' next page read a WAL that was no longer the one written to.
    install_demo(tmp_path)
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "x"}).test_client()
    assert client.get("/notices/village").status_code == 200  # this thread now keeps its connection
    kiosk_status(tmp_path)  # the staff console's home page
    subprocess.run([sys.executable, "-m", "kiosk.cli", "status", "--data", str(tmp_path)], capture_output=True,
                   timeout=60, check=True)  # fmt: skip
    db = open_local(tmp_path, migrate=False)  # a staff member posts a notice
    notices.create(db, "anna", values(title="关于村道维修的通知"), now(), publish=True)
    db.close()
    page = client.get("/notices/village")
    assert page.status_code == 200 and "关于村道维修的通知" in page.get_data(as_text=True)
