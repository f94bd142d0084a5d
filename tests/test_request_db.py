"""Each request opens a database once, on first use, and closes it when it ends, in all three apps."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from kiosk.county import create_county_app
from kiosk.data import local_db as local_db_module
from kiosk.screens import create_app
from kiosk.staff import create_staff_app
from kiosk.web import request_db
from tests.county_repo import CountyRepo
from tests.test_staff import sign_in


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
