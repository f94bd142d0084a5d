"""The county server's threads keep their database connections from request to request (store.kept_store), on
SQLite and on PostgreSQL: opened once, and left usable by a request that died half way."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from kiosk.county import store
from kiosk.data.transactions import transaction


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """A county's data folder, and its PostgreSQL database ("" for county.db in the folder)."""
    return tmp_path, request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""


def another_writer(data: Path, url: str) -> sqlite3.Connection:
    """A second connection that gives up on a held write lock within seconds, so a lock left held fails the test."""
    if url:
        connection = store.open_store(data, migrate=False, url=url)
        connection.execute("set lock_timeout = '10s'")
        return connection
    return sqlite3.connect(data / store.FILE, timeout=10, isolation_level=None)


def test_a_thread_keeps_its_connection_and_a_failed_request_leaves_it_usable(where: tuple[Path, str]) -> None:
    """A server thread opens its connection once (not once a request), one for writing and one read-only; a
    request that died inside a transaction leaves nothing held (no lock, no half-written row) for the next one;
    a connection that was lost is replaced; another thread has its own."""
    data, url = where
    db = store.kept_store(data, url)
    db.execute("create table notes (text text not null)")
    assert store.kept_store(data, url) is db
    reading = store.kept_store(data, url, read_only=True)
    assert reading is not db
    with pytest.raises(sqlite3.DatabaseError, match=r"read-?only"):
        reading.execute("insert into notes values ('no')")

    db.execute("begin immediate")  # a request that died here: neither committed nor rolled back
    db.execute("insert into notes values ('half')")
    again = store.kept_store(data, url)
    assert again is db
    other = another_writer(data, url)
    with transaction(other):  # the write lock is free again
        other.execute("insert into notes values ('whole')")
    other.close()
    assert [tuple(r) for r in again.execute("select text from notes")] == [("whole",)]
    assert [tuple(r) for r in reading.execute("select text from notes")] == [("whole",)], "the reader sees it"

    db.close()  # lost, as when PostgreSQL restarts
    replaced = store.kept_store(data, url)
    assert replaced is not db
    assert [tuple(r) for r in replaced.execute("select count(*) from notes")] == [(1,)]

    theirs: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: theirs.append(store.kept_store(data, url)))
    thread.start()
    thread.join(30)
    assert theirs and theirs[0] is not replaced


def test_asking_for_another_county_closes_the_connections_held(tmp_path: Path) -> None:
    first = store.kept_store(tmp_path / "a", "")
    store.kept_store(tmp_path / "a", "", read_only=True)
    second = store.kept_store(tmp_path / "b", "")
    assert second is not first
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        first.execute("select 1")
