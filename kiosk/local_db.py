"""The kiosk's own state, apart from the county's content: staff accounts, village notices, the audit log.

`DATA_DIR/local.db` is written by the staff console and never touched by a sync (the content
database is replaced by every sync; this one lives on). Its tables evolve through sqlite-utils
migrations, recorded in the database itself (STYLE.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

FILE = "local.db"
migrations = Migrations("kiosk-local")


@migrations()
def m001_accounts_and_audit(db: Database) -> None:
    db.execute(
        """create table accounts (
          id integer primary key, name text not null unique collate nocase, role text not null,
          password_hash text, created_at text not null, disabled integer not null default 0,
          failed_logins integer not null default 0, locked_until text)"""
    )
    # Append-only: the app only ever inserts (see audit.record); triggers refuse the rest.
    db.execute(
        """create table audit_log (
          id integer primary key, at text not null, actor text not null, action text not null,
          target_kind text, target_id text, before text, after text, reason text)"""
    )
    db.execute(
        "create trigger audit_log_no_update before update on audit_log "
        "begin select raise(abort, 'the audit log is append-only'); end"
    )
    db.execute(
        "create trigger audit_log_no_delete before delete on audit_log "
        "begin select raise(abort, 'the audit log is append-only'); end"
    )


@migrations()
def m002_village_notices_and_outbox(db: Database) -> None:
    # Columns as in the content database's notices table, so the screens show both alike.
    db.execute(
        """create table village_notices (
          id text primary key, domain text not null, title text not null, body text not null,
          body_html text not null, photos text not null default '[]', published text not null,
          expires text, published_at text not null, expires_at text, min_posting_days integer,
          pinned integer not null default 0,
          state text not null check (state in ('draft', 'published', 'withdrawn')),
          created_by text not null, created_at text not null, updated_by text not null, updated_at text not null,
          withdrawn_at text, withdraw_reason text)"""
    )
    # Store-and-forward to the county: a change leaves only when the county has acknowledged it.
    db.execute(
        """create table outbox (
          id integer primary key, idempotency_key text not null unique, kind text not null,
          payload text not null, created_at text not null)"""
    )


@migrations()
def m003_setup_links(db: Database) -> None:
    # One-time links where a new account chooses its password: only the token's SHA-256 is kept,
    # so a copy of local.db gives no working link (accounts.issue_setup_link).
    db.execute(
        """create table setup_links (
          id integer primary key, account_id integer not null references accounts (id),
          token_hash text not null unique, created_at text not null, expires_at text not null, used_at text)"""
    )


@migrations()
def m004_disclosure_duties(db: Database) -> None:
    # Duties the village adds to the county's, and what it has disclosed for each (sync/duties.py).
    db.execute(
        """create table local_duties (
          id text primary key, title text not null, domain text not null, every text, due_day integer,
          within_working_days integer, created_by text not null, created_at text not null, removed_at text)"""
    )
    # A record per period disclosed (period_key '2026-10'), or per event (event_day) of an event-driven duty.
    db.execute(
        """create table duty_records (
          id integer primary key, duty_id text not null, period_key text, event_day text, event_note text,
          notice_id text, done_at text, recorded_by text not null, recorded_at text not null)"""
    )
    db.execute("create index duty_records_by_duty on duty_records (duty_id, period_key)")


@migrations()
def m005_feedback(db: Database) -> None:
    # Villagers' 好差评 ratings (kiosk/feedback.py). Nothing in a row can point at a person: `at` is
    # the county-local day only, and the id is the row's random outbox key (uuid4), in a table
    # without rowid, so not even the order of the rows tells who came first (a camera sees that).
    db.execute(
        """create table feedback (
          id text primary key, at text not null, kind text not null check (kind in ('power', 'notice', 'catalogue')),
          item_id text not null, level integer not null check (level between 1 and 5),
          reasons text not null default '[]') without rowid"""
    )


@migrations()
def m006_display_log_days(db: Database) -> None:
    # The days whose display log is queued for the county: one a day, even after the first has gone.
    db.execute("create table display_log_days (day text primary key) without rowid")


@migrations()
def m007_outbox_set_aside(db: Database) -> None:
    # Outbox items the county can never take (too large even sent alone): moved here so the items
    # behind them can go; kept, never deleted, and counted in the kiosk's status and reports.
    db.execute(
        """create table outbox_set_aside (
          id integer primary key, idempotency_key text not null unique, kind text not null,
          payload text not null, created_at text not null, set_aside_at text not null, reason text not null)"""
    )


def path_of(data_dir: Path) -> Path:
    return Path(data_dir) / FILE


def local_media_dir(data_dir: Path) -> Path:
    """Photos of the village's own notices, named by content like the county's (never touched by a sync)."""
    return Path(data_dir) / "local-media"


def open_local(data_dir: Path, migrate: bool = True) -> sqlite3.Connection:
    """Open the kiosk's local database for reading and writing, creating and migrating it if needed.

    An app migrates once when it starts; its requests then open it with *migrate* false.
    """
    path = path_of(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10, isolation_level=None)  # autocommit; transactions explicit
    connection.row_factory = sqlite3.Row
    connection.execute("pragma journal_mode = wal")
    connection.execute("pragma foreign_keys = on")
    if migrate:
        migrations.apply(Database(connection))
    return connection


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block as one write transaction: every change in it happens, or none does."""
    db.execute("begin immediate")
    try:
        yield db
    except BaseException:
        db.execute("rollback")
        raise
    db.execute("commit")
