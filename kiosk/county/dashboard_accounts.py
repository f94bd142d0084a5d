"""The dashboard's accounts in county.db: the tables sign-in needs, and those of an older county folder.

kiosk.data.accounts and the staff console's sign-in and admin pages work on any database holding
these three tables (the county app hands them its county.db: see create_county_app). The kiosk's
local.db reached the same shape through its migrations m001, m003 and m007; county.db gets it in one
(schema.py, m010). Before that migration the county kept its accounts in a local.db beside county.db,
with all of the kiosk's tables: the migration copies them over once, ids and audit log included.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from kiosk.data import audit
from sync.contract.i18n import tr

log = logging.getLogger(__name__)
OLD_FILE = "local.db"  # where a county server kept its accounts before county.db held them
TABLES = ("accounts", "setup_links", "audit_log")  # in this order: setup links refer to accounts

_SCHEMA = [
    """create table accounts (
      id integer primary key, name text not null unique collate nocase, role text not null,
      password_hash text, created_at text not null, disabled integer not null default 0,
      failed_logins integer not null default 0, locked_until text, session_epoch integer not null default 0)""",
    """create table setup_links (
      id integer primary key, account_id integer not null references accounts (id),
      token_hash text not null unique, created_at text not null, expires_at text not null, used_at text)""",
    """create table audit_log (
      id integer primary key, at text not null, actor text not null, action text not null,
      target_kind text, target_id text, before text, after text, reason text)""",
    # Append-only, as on the kiosk: the app only ever inserts (audit.record); the triggers refuse the rest.
    "create trigger audit_log_no_update before update on audit_log "
    "begin select raise(abort, 'the audit log is append-only'); end",
    "create trigger audit_log_no_delete before delete on audit_log "
    "begin select raise(abort, 'the audit log is append-only'); end",
]


def create_tables(db: sqlite3.Connection) -> None:
    """Make the tables of accounts, set-up links and the audit log (a migration calls it, inside its transaction)."""
    for statement in _SCHEMA:
        db.execute(statement)


def adopt_old_accounts(db: sqlite3.Connection) -> int:
    """Copy the accounts, set-up links and audit log of a local.db beside *db* into *db*; return how many accounts.

    The old file is only read, and left where it is. Call it once, inside the migration that made
    the tables (they are empty then), so ids stay as they were: a signed-in session goes on.
    """
    main = next((row[2] for row in db.execute("pragma database_list") if row[1] == "main"), "")
    old = Path(main).with_name(OLD_FILE) if main else None
    if old is None or not old.is_file():
        return 0
    source = sqlite3.connect(f"file:{old}?mode=ro", uri=True)
    try:
        present = {row[0] for row in source.execute("select name from sqlite_master where type = 'table'")}
        for table in (name for name in TABLES if name in present):
            columns = _common_columns(source, db, table)
            rows = source.execute(f"select {columns} from {table} order by rowid").fetchall()  # noqa: S608 - known names
            marks = ", ".join("?" * len(columns.split(", ")))
            db.executemany(f"insert into {table} ({columns}) values ({marks})", rows)  # noqa: S608 - known names
        moved = int(db.execute("select count(*) from accounts").fetchone()[0])
    except sqlite3.DatabaseError as error:  # nothing is copied, and the copy is tried again at the next start
        raise sqlite3.DatabaseError(tr(
            "could not read the dashboard accounts in %(old)s (%(error)s): repair it, or move it out of the data folder"
            " to start without them (then add accounts with kiosk county add-account)", old=old, error=error
        )) from error  # fmt: skip
    finally:
        source.close()
    if moved:
        audit.record(db, "(upgrade)", "accounts.moved", "file", str(old), after={"accounts": moved},
                     reason="county.db holds the dashboard's accounts from now on")  # fmt: skip
        log.info(tr("%(count)s dashboard accounts, their set-up links and the audit log copied from %(old)s into"
                    " county.db; %(old)s is no longer read and may be archived", count=moved, old=old))  # fmt: skip
    return moved


def _common_columns(source: sqlite3.Connection, target: sqlite3.Connection, table: str) -> str:
    """The columns *table* has in both databases (an older local.db may lack later ones: they take their defaults)."""
    old = [row[1] for row in source.execute(f"pragma table_info({table})")]
    new = {row[1] for row in target.execute(f"pragma table_info({table})")}
    return ", ".join(name for name in old if name in new)


def is_county_folder(data_dir: Path) -> bool:
    """Tell whether *data_dir* is a county server's (it holds county.db): its accounts are not in local.db."""
    return (Path(data_dir) / "county.db").is_file()  # store.FILE (store imports this module, through schema)
