"""county.db's tables on PostgreSQL (kiosk/county/schema_postgres.py) have the shape SQLite's migrations give them,
and behave as they do where the words differ: names without case, the append-only audit log, a payload's day."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kiosk.county import postgres, schema, schema_postgres
from kiosk.county import store as county_store

Shape = dict[str, tuple[list[tuple[str, bool]], list[str]]]  # table -> ([(column, not null)], primary key)


def sqlite_shape(db: sqlite3.Connection) -> Shape:
    tables = [r[0] for r in db.execute("select name from sqlite_master where type = 'table' and name not like '\\_%'"
                                       " escape '\\' and name not like 'sqlite%'")]  # fmt: skip
    shape = {}
    for table in tables:
        info = db.execute('select name, "notnull", pk from pragma_table_xinfo(?)', (table,)).fetchall()
        columns = [(name, bool(not_null) or bool(pk)) for name, not_null, pk in info]
        key = [name for name, _n, pk in sorted(info, key=lambda r: r[2]) if pk]
        shape[table] = (columns, key)
    return shape


def postgres_shape(db: postgres.Connection) -> Shape:
    shape: Shape = {}
    columns = db.execute(
        "select table_name, column_name, is_nullable = 'NO' from information_schema.columns"
        " where table_schema = 'public' and table_name != 'county_migrations' order by table_name, ordinal_position"
    )
    for table, column, not_null in columns:
        shape.setdefault(table, ([], []))[0].append((column, bool(not_null)))
    keys = db.execute(
        "select kcu.table_name, kcu.column_name from information_schema.table_constraints tc"
        " join information_schema.key_column_usage kcu using (constraint_schema, constraint_name)"
        " where tc.constraint_type = 'PRIMARY KEY' and tc.table_schema = 'public' order by kcu.ordinal_position"
    )
    for table, column in keys:
        if table in shape:
            shape[table][1].append(column)
    return shape


def test_postgres_starts_at_sqlite_s_newest_shape(tmp_path: Path, postgres_url: str) -> None:
    """Every table, column, not-null and primary key of county.db after SQLite's migrations, on PostgreSQL; and the
    newest migration of SQLite's is the newest here (a change to county.db is made on both)."""
    lite = county_store.open_store(tmp_path)
    db = postgres.connect(postgres_url)
    try:
        assert schema_postgres.apply(db) == [name for name, _statements in schema_postgres.MIGRATIONS]
        assert schema_postgres.apply(db) == [], "applied once"
        assert postgres_shape(db) == sqlite_shape(lite)
        newest = [m.name for m in schema.migrations._migrations][-1]
        assert schema_postgres.MIGRATIONS[-1][0] == newest, "a migration of county.db on SQLite has none here"
    finally:
        db.close()
        lite.close()


def test_where_the_words_differ_the_tables_behave_the_same(postgres_url: str) -> None:
    db = postgres.connect(postgres_url)
    try:
        schema_postgres.apply(db)
        db.execute("insert into accounts (name, role, created_at) values ('Anna', 'admin', '2026-12-07')")
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("insert into accounts (name, role, created_at) values ('anna', 'staff', '2026-12-07')")
        assert [tuple(r) for r in db.execute("select role from accounts where name = ?", ("ANNA",))] == [("admin",)]
        db.execute("insert into audit_log (at, actor, action) values ('2026-12-07', 'anna', 'account.add')")
        for change in ("update audit_log set actor = 'someone else'", "delete from audit_log"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(change)
        db.execute("insert into kiosks (village, created_at) values ('taoyuan', '2026-12-07')")
        db.executemany("insert into uploads (idempotency_key, kiosk_id, kind, payload, received_at)"
                       " values (?, 1, 'feedback', ?, '2026-12-07')",
                       [("a", '{"day": "2026-12-06"}'), ("b", "not json"), ("c", "[1]")])  # fmt: skip
        days = {
            key: day for key, day in db.execute("select idempotency_key, day from uploads order by idempotency_key")
        }
        assert days == {"a": "2026-12-06", "b": None, "c": None}
    finally:
        db.close()


def test_a_database_that_does_not_compare_text_byte_by_byte_is_refused(postgres_cluster: object) -> None:
    from tests.postgres import Cluster

    assert isinstance(postgres_cluster, Cluster)
    url = postgres_cluster.database("template template0 locale_provider icu icu_locale 'en-US'")
    db = postgres.connect(url)
    try:
        with pytest.raises(ValueError, match="byte order"):
            schema_postgres.apply(db)
    finally:
        db.close()
