"""The kiosk's own state, apart from the county's content: staff accounts, village notices, the audit log, counts.

`DATA_DIR/local.db` is written by the staff console and never touched by a sync (the content
database is replaced by every sync; this one lives on). Its tables evolve through sqlite-utils
migrations, recorded in the database itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from kiosk.data import sign_in_tries
from kiosk.data.transactions import transaction as transaction  # where the kiosk's modules find it
from sync.receive.database import file_is_whole

FILE = "local.db"
DAMAGED = ".damaged-"
LOW_DISK_BYTES = 8 * 1024 * 1024  # below this, local.db leaves WAL mode (see _choose_journal)
log = logging.getLogger(__name__)
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
def m007_session_epochs(db: Database) -> None:
    # A signed session cookie cannot be revoked by itself: each session carries its account's epoch,
    # and signing out or a new password moves the epoch on, so every copy of an older cookie stops working.
    db.execute("alter table accounts add column session_epoch integer not null default 0")


@migrations()
def m008_outbox_set_aside(db: Database) -> None:
    # Outbox items the county can never take (too large even sent alone): moved here so the items
    # behind them can go; kept, never deleted, and counted in the kiosk's status and reports.
    db.execute(
        """create table outbox_set_aside (
          id integer primary key, idempotency_key text not null unique, kind text not null,
          payload text not null, created_at text not null, set_aside_at text not null, reason text not null)"""
    )


@migrations()
def m009_first_install(db: Database) -> None:
    # The county-local day the kiosk was first installed: disclosure periods due before it are not
    # overdue (kiosk/data/duties.py). A kiosk already in use keeps its oldest trace, its first account
    # or audit entry (UTC, so at most a day early); a new one records the day it first looks at duties.
    db.execute("create table first_install (only_row integer primary key check (only_row = 1), day text not null)")
    db.execute(
        "insert into first_install (only_row, day) select 1, day from (select substr(min(at), 1, 10) as day"
        " from (select at from audit_log union all select created_at as at from accounts)) where day is not null"
    )


@migrations()
def m010_notices_name_a_duty(db: Database) -> None:
    # A village notice may say which duty (and period) it discloses, as a county notice's front matter
    # does; published, it makes that period done on the duties board (kiosk/data/duties.py).
    db.execute("alter table village_notices add column duty text")
    db.execute("alter table village_notices add column period text")


@migrations()
def m011_usage_counts(db: Database) -> None:
    # What villagers looked for, counted per county-local day (kiosk/data/usage.py): no time, no session.
    db.execute(
        """create table usage_counts (day text not null, kind text not null, key text not null,
          count integer not null, primary key (day, kind, key)) without rowid"""
    )
    # The days whose counts went to the outbox, and in how many parts (a clock put back adds one).
    db.execute("create table usage_days_sent (day text not null, part integer not null, primary key (day, part))")


@migrations()
def m012_sign_in_tries(db: Database) -> None:
    # The staff console's sign-in tries per address (kiosk/staff/limiter.py), until now in the process's memory.
    sign_in_tries.create_table(db.conn)


def path_of(data_dir: Path) -> Path:
    return Path(data_dir) / FILE


def local_media_dir(data_dir: Path) -> Path:
    """Photos of the village's own notices, named by content like the county's (never touched by a sync)."""
    return Path(data_dir) / "local-media"


def open_local(data_dir: Path, migrate: bool = True) -> sqlite3.Connection:
    """Open the kiosk's local database for reading and writing, creating and migrating it if needed.

    An app migrates once when it starts; its requests then open it with *migrate* false. When
    migrating, a damaged file is first set aside (see set_aside) and a fresh one made.
    On a (nearly) full disk it may come back read-only (see _connect).
    """
    path = path_of(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not migrate:
        return _connect(path)
    try:
        if str(path) not in _header_read:  # once per process, before it holds any connection to the file
            _header_read.add(str(path))
            if not file_is_whole(path):
                raise sqlite3.DatabaseError("not a whole SQLite file: truncated or overwritten")
        connection = _connect(path)
        try:
            if str(path) not in _checked:  # once per process: it reads every page
                if (found := connection.execute("pragma quick_check").fetchone()[0]) != "ok":
                    raise sqlite3.DatabaseError(found)
                _checked.add(str(path))
            migrations.apply(Database(connection))
        except BaseException:
            connection.close()
            raise
        return connection
    except FileNotFoundError:
        pass
    except sqlite3.DatabaseError as error:
        if not _damage(error):
            raise
        set_aside(path, error)
    connection = _connect(path)
    migrations.apply(Database(connection))
    return connection


_checked: set[str] = set()
# Closing any descriptor of a file drops every lock this process holds on it, SQLite's included: read with
# open() while a connection (a screens thread keeps one between requests) has local.db open, and the next
# process to close local.db (kiosk report, kiosk status) finds it free and deletes local.db-wal and -shm under
# that connection, which then reads a WAL no longer the one written to: a disk I/O error, or another page's
# bytes. So the header is read once, by a process's first open_local; later, SQLite itself refuses a file
# shorter than its header says (SQLITE_CORRUPT) and quick_check has read every page.
_header_read: set[str] = set()


def _damage(error: sqlite3.DatabaseError) -> bool:
    """Tell damage (corrupt, not a database) from trouble that passes (locked, busy, a full disk)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:  # raised here, by the checks in open_local
        return type(error) is sqlite3.DatabaseError
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def set_aside(path: Path, error: BaseException) -> Path:
    """Rename a damaged local.db (and its -wal and -shm) to local.db.damaged-<UTC time>, never deleting it.

    The staff's notices and accounts may still be read from it by hand; `kiosk status` lists it.
    """
    aside = path.with_name(f"{path.name}{DAMAGED}{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}")
    for suffix in ("", "-wal", "-shm"):  # named so that SQLite opens the set-aside file with its WAL
        with suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    log.error("%s is damaged (%s): set aside as %s, and a fresh one made; staff accounts must be added again",
              path, error, aside.name)  # fmt: skip
    return aside


def set_aside_files(data_dir: Path) -> list[str]:
    """Return the damaged local databases set aside in *data_dir*, oldest first."""
    return sorted(p.name for p in Path(data_dir).glob(f"{FILE}{DAMAGED}*") if not p.name.endswith(("-wal", "-shm")))


def _connect(path: Path) -> sqlite3.Connection:
    """Connect in WAL mode; on a (nearly) full disk, without WAL, or read-only if it cannot leave WAL.

    WAL keeps its index in local.db-shm, a file SQLite maps into memory and grows as it goes; on a
    full disk a page of it gets no block, and the first touch of that page kills the process
    (SIGBUS) or every read fails. A rollback journal needs no such file: a write on a
    full disk fails with an error, and reads go on.
    """
    low = disk_low(path.parent)
    if low:
        _warn_low_disk(path)
        if _in_wal_mode(path) and not _leave_wal(path) and not _shm_in_place(path):
            # Read as it is (changes still in a WAL file wait until there is room); writes fail plainly.
            connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, isolation_level=None)
            connection.row_factory = sqlite3.Row
            return connection
    connection = sqlite3.connect(path, timeout=10, isolation_level=None)  # autocommit; transactions explicit
    connection.row_factory = sqlite3.Row
    try:
        if not low:
            try:
                connection.execute("pragma journal_mode = wal")
            except sqlite3.OperationalError as error:  # back from a full disk while others have it open: later
                log.warning("%s stays with a rollback journal for now: %s", path, error)
        connection.execute("pragma foreign_keys = on")
    except BaseException:  # a damaged file: closed before open_local sets it aside
        connection.close()
        raise
    return connection


def _in_wal_mode(path: Path) -> bool:
    """Tell from the file's header (bytes 18 and 19 are 2 in WAL mode) without opening it."""
    try:
        with open(path, "rb") as file:
            return file.read(20)[18:20] == b"\x02\x02"
    except FileNotFoundError:
        return False


def _shm_in_place(path: Path) -> bool:
    """Tell whether local.db-shm is there already: SQLite allocates every page of it when it grows it, so
    a connection can use it on a full disk (it sees the WAL, so nothing just saved goes missing)."""
    shm = path.with_name(path.name + "-shm")
    return shm.exists() and shm.stat().st_size > 0


def _leave_wal(path: Path) -> bool:
    """Switch local.db to a rollback journal; False if it cannot be done now (no room, or in use)."""
    connection = sqlite3.connect(path, timeout=1, isolation_level=None)
    try:
        # In exclusive locking mode SQLite reaches a WAL database without the -shm file.
        connection.execute("pragma locking_mode = exclusive")
        return str(connection.execute("pragma journal_mode = delete").fetchone()[0]) == "delete"
    except sqlite3.OperationalError as error:
        log.warning("%s stays in WAL mode for now (%s): it is read-only until there is room", path, error)
        return False
    finally:
        connection.close()


_warned_low: set[str] = set()


def disk_low(folder: Path) -> bool:
    """Tell whether *folder*'s disk is (nearly) full: local.db then runs without WAL, or read-only."""
    return folder.exists() and shutil.disk_usage(folder).free < LOW_DISK_BYTES


def _warn_low_disk(path: Path) -> None:
    if str(path) not in _warned_low:
        _warned_low.add(str(path))
        log.warning("the disk holding %s is (nearly) full: %s MB free. The screens keep working; staff saves may "
                    "fail until space is freed", path, shutil.disk_usage(path.parent).free // 2**20)  # fmt: skip
