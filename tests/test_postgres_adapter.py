"""county.db's code on PostgreSQL (kiosk/county/postgres.py): sqlite3's parameters, rows, transactions and errors,
on a real server."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from kiosk.county import postgres
from kiosk.data.transactions import transaction


def test_parameters_are_rewritten_outside_quotes_only() -> None:
    assert postgres.translated("select * from t where a = ? and b = :name") == (
        "select * from t where a = %s and b = %(name)s"
    )
    assert postgres.translated("select '?', ':x', 'it''s ?', \"a?\" from t where c like '5%' and d = ?") == (
        "select '?', ':x', 'it''s ?', \"a?\" from t where c like '5%%' and d = %s"
    )
    assert postgres.translated("select x::text, 10 % 3 from t") == "select x::text, 10 %% 3 from t"


def test_rows_rowcount_and_errors_read_as_sqlite3s(postgres_url: str) -> None:
    db = postgres.connect(postgres_url)
    try:
        db.execute("create table kiosks (id integer primary key, village text not null, note text)")
        db.executemany("insert into kiosks (id, village) values (?, ?)", [(1, "taoyuan"), (2, "liutang")])
        row = db.execute("select id, village from kiosks where village = :village", {"village": "liutang"}).fetchone()
        assert row is not None and row[0] == 2 and row["village"] == "liutang" and row.keys() == ["id", "village"]
        assert dict(zip(row.keys(), row, strict=True)) == {"id": 2, "village": "liutang"}
        assert db.execute("update kiosks set note = '100%' where id > ?", (0,)).rowcount == 2
        assert [tuple(r) for r in db.execute("select id, note from kiosks order by id")] == [(1, "100%"), (2, "100%")]
        assert db.execute("select 1 from kiosks where id = 9").fetchone() is None
        with pytest.raises(sqlite3.IntegrityError, match="duplicate key"):
            db.execute("insert into kiosks (id, village) values (1, 'again')")
        with pytest.raises(sqlite3.DatabaseError):
            db.execute("select * from no_such_table")
    finally:
        db.close()


def test_a_write_transaction_is_all_or_nothing_and_one_at_a_time(postgres_url: str) -> None:
    """transaction() on PostgreSQL as on SQLite: a failure rolls everything back, and a second writer waits for
    the first to commit, so a read and the write that depends on it are never interleaved with another's."""
    db, other = postgres.connect(postgres_url), postgres.connect(postgres_url)
    try:
        db.execute("create table codes (code text primary key, used integer not null default 0)")
        db.execute("insert into codes (code) values ('a1b2')")
        with pytest.raises(RuntimeError), transaction(db):
            db.execute("update codes set used = 1")
            raise RuntimeError("half way")
        assert [tuple(r) for r in db.execute("select used from codes")] == [(0,)], "rolled back"

        order: list[str] = []

        def second_use() -> None:
            with transaction(other):
                row = other.execute("select used from codes where code = 'a1b2'").fetchone()
                assert row is not None
                order.append(f"second read {row[0]}")
                if not row[0]:
                    other.execute("update codes set used = 1")

        with transaction(db):
            row = db.execute("select used from codes where code = 'a1b2'").fetchone()
            assert row is not None
            order.append(f"first read {row[0]}")
            waiting = threading.Thread(target=second_use)
            waiting.start()
            time.sleep(0.3)  # the second writer is blocked on the lock, not reading the code as unused
            order.append("first writes")
            db.execute("update codes set used = 1")
        waiting.join(30)
        assert order == ["first read 0", "first writes", "second read 1"], "the code was used once"
    finally:
        db.close()
        other.close()


def test_kiosks_writes_run_side_by_side_and_every_other_write_alone(postgres_url: str) -> None:
    """transaction(db, kiosk=id) on PostgreSQL: another kiosk's write goes on at once; the same kiosk's waits, and so
    does a write that is not a kiosk's (an enrolment, an account), as every write waits on SQLite."""
    first, *others = [postgres.connect(postgres_url) for _ in range(4)]
    same_kiosk, other_kiosk, not_a_kiosk = others
    try:
        for waiting in others:
            waiting.execute("set lock_timeout = '1s'")
        with transaction(first, kiosk=1):
            with transaction(other_kiosk, kiosk=2):
                pass  # did not wait
            with pytest.raises(sqlite3.OperationalError, match="lock timeout"), transaction(same_kiosk, kiosk=1):
                pass
            with pytest.raises(sqlite3.OperationalError, match="lock timeout"), transaction(not_a_kiosk):
                pass
        with (
            transaction(not_a_kiosk),
            pytest.raises(sqlite3.OperationalError, match="lock timeout"),
            transaction(other_kiosk, kiosk=2),
        ):
            pass
        with transaction(same_kiosk, kiosk=1):  # a write that was not let begin left nothing open behind it
            same_kiosk.execute("select 1")
    finally:
        for db in (first, *others):
            db.close()
