"""Move a county from its county.db to a PostgreSQL database: `kiosk county migrate-db --to URL` (issue 18).

Every row of every table is copied, in one transaction on PostgreSQL: the database ends with the whole county
or, if anything fails, as it was. Only an empty database is taken (a second run, or another county's database,
is refused before anything is written). county.db is only read, and stays where it is: the county server goes
on with it until KIOSK_COUNTY_DATABASE_URL names the new database. Each table's rows are then counted on both
sides; the ids the county hands out (kiosks, accounts, reports...) go on from the highest copied.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.county import postgres, schema_postgres
from kiosk.county.store import FILE, open_store
from kiosk.data.transactions import transaction
from sync.contract.i18n import tr

BATCH = 1000  # rows read and written at a time: memory stays flat whatever the county's size
FIRST = ("kiosks", "accounts", "setup_links", "audit_log")  # tables the others' rows refer to, first
IDENTITIES = ("accounts", "audit_log", "kiosks", "reports", "setup_links", "studio_changes")  # their ids go on
GENERATED = {"uploads": {"day"}}  # columns PostgreSQL makes itself


class MigrationRefused(Exception):
    """The move cannot begin (no county.db, a database that is not empty); nothing was written."""


@dataclass(frozen=True)
class Moved:
    table: str
    rows: int


def migrate(data_dir: Path, url: str, say: Callable[[str], None] = lambda _line: None) -> list[Moved]:
    """Copy the county.db of *data_dir* into the PostgreSQL database *url*; return each table's rows."""
    if not (Path(data_dir) / FILE).is_file():
        raise MigrationRefused(tr("%(folder)s holds no county.db to move", folder=str(data_dir)))
    source = open_store(Path(data_dir), url="")  # its migrations brought up to date first: the shape PostgreSQL has
    target = postgres.connect(url)
    try:
        schema_postgres.apply(target)
        tables = _tables(source)
        with transaction(target):
            held = [table for table in tables if target.execute(f"select 1 from {table} limit 1").fetchone()]  # noqa: S608 - names from county.db
            if held:
                raise MigrationRefused(tr("the PostgreSQL database already holds rows (in %(tables)s): give an empty"
                                          " one; nothing was written", tables=", ".join(held)))  # fmt: skip
            moved = [Moved(table, _copy(source, target, table, say)) for table in tables]
            for table in IDENTITIES:
                target.execute(f"select setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 1),"  # noqa: S608
                               f" max(id) is not null) from {table}")  # fmt: skip
            for row in moved:  # counted before the commit: a count that differs leaves the database as it was
                (count,) = target.execute(f"select count(*) from {row.table}").fetchone()  # type: ignore[misc]  # noqa: S608
                if count != row.rows:
                    raise RuntimeError(tr("%(table)s: %(rows)s rows in county.db but %(count)s in PostgreSQL",
                                          table=row.table, rows=row.rows, count=count))  # fmt: skip
        return moved
    finally:
        target.close()
        source.close()


def _tables(source: sqlite3.Connection) -> list[str]:
    names = [row[0] for row in source.execute(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite%' and name not like '\\_%'"
        " escape '\\' order by name"
    )]  # fmt: skip
    return [t for t in FIRST if t in names] + [t for t in names if t not in FIRST]


def _copy(source: sqlite3.Connection, target: postgres.Connection, table: str, say: Callable[[str], None]) -> int:
    columns = [row[1] for row in source.execute("select * from pragma_table_xinfo(?)", (table,))
               if row[1] not in GENERATED.get(table, set())]  # fmt: skip
    names = ", ".join(columns)
    insert = f"insert into {table} ({names}) values ({', '.join('?' * len(columns))})"  # noqa: S608 - known names
    cursor = source.execute(f"select {names} from {table}")  # noqa: S608 - names from county.db itself
    copied = 0
    while rows := cursor.fetchmany(BATCH):
        target.executemany(insert, [tuple(row) for row in rows])
        copied += len(rows)
    say(tr("%(table)s: %(rows)s rows", table=table, rows=copied))
    return copied
