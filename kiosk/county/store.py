"""The county server's own state (`DATA_DIR/county.db`): enrolled kiosks and their reports.

Its tables and their migrations are in schema.py; what kiosks upload through their outbox is kept by
uploads.py (each item once, by the idempotency key the kiosk gave it).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlite_utils import Database

from kiosk.county import payloads
from kiosk.county.schema import migrations as migrations  # tests stop before one of them
from kiosk.county.uploads import store_uploads as store_uploads  # where callers have always found it
from kiosk.data.transactions import transaction
from kiosk.settings import setting

FILE = "county.db"
CODE_HOURS = 72  # an enrolment code works once, within three days


def open_store(
    data_dir: Path, migrate: bool = True, read_only: bool = False, url: str | None = None
) -> sqlite3.Connection:
    """Open county.db (migrating it unless told not to); *read_only* for pages that only show it.

    On PostgreSQL when *url* names one (the app's COUNTY_DATABASE_URL; None: KIOSK_COUNTY_DATABASE_URL, for the
    commands): kiosk/county/postgres.py speaks to it as sqlite3.
    """
    if url := setting("COUNTY_DATABASE_URL") if url is None else url:
        from kiosk.county import postgres, schema_postgres  # psycopg only where a county uses PostgreSQL

        shared = postgres.connect(url, read_only)
        if migrate and not read_only:
            schema_postgres.apply(shared)
        return shared  # type: ignore[return-value]  # speaks as sqlite3.Connection does
    path = Path(data_dir) / FILE
    if read_only:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        return connection
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    connection.execute("pragma journal_mode = wal")
    connection.execute("pragma synchronous = normal")  # WAL: a power cut loses at most the last commits, never the file
    if migrate:
        migrations.apply(Database(connection))
    return connection


class _Held:
    """A thread's kept connection, closed when the thread ends (its thread-local storage goes)."""

    def __init__(self, where: str, connection: sqlite3.Connection) -> None:
        self.where, self.connection = where, connection

    def __del__(self) -> None:
        self.connection.close()


_threads = threading.local()


def kept_store(data_dir: Path, url: str, read_only: bool = False) -> sqlite3.Connection:
    """This thread's connection to county.db in *data_dir* (or to the PostgreSQL database *url*), kept from request
    to request: a server's threads are few and fixed (waitress's), so it holds as many connections, each opened
    once. Opening county.db and closing it (its WAL checkpointed when the last one closes) cost more than a report.

    A thread holds one connection for writing and one read-only, to one database: asking for another database
    closes the ones held (only tests move from database to database in one thread). A connection that a failed
    request left in a transaction is rolled back; one that was lost (PostgreSQL restarted) is opened again.
    """
    where = url or str(Path(data_dir) / FILE)
    held: dict[bool, _Held] = getattr(_threads, "held", {})
    _threads.held = held
    if any(h.where != where for h in held.values()):
        held.clear()  # each closed by _Held.__del__
    found = held.get(read_only)
    if found is None or not _reusable(found.connection):
        found = held[read_only] = _Held(where, open_store(data_dir, migrate=False, read_only=read_only, url=url))
    return found.connection


def _reusable(connection: sqlite3.Connection) -> bool:
    reusable = getattr(connection, "reusable", None)  # kiosk/county/postgres.py's
    if reusable is not None:
        return bool(reusable())
    try:
        if connection.in_transaction:  # a closed connection raises here: no query a request to find out
            connection.rollback()
    except sqlite3.Error:
        return False
    return True


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def add_kiosk(db: sqlite3.Connection, village: str, now: datetime | None = None) -> tuple[int, str]:
    """Register a kiosk for *village*; return its id and a one-time enrolment code (kept only hashed)."""
    now = now or _now()
    code = "-".join(secrets.token_hex(3) for _ in range(4))  # 96 bits, easy to read out over the phone
    [(kiosk_id,)] = db.execute(
        "insert into kiosks (village, code_hash, code_expires, created_at) values (?, ?, ?, ?) returning id",
        (village, _hash(code), (now + timedelta(hours=CODE_HOURS)).isoformat(), now.isoformat()),
    ).fetchall()
    return int(kiosk_id), code


class EnrolmentRefused(Exception):
    """The code is unknown, used, expired, or for another village; or the key is not an Ed25519 key."""


def enrol(db: sqlite3.Connection, code: str, village: str, public_key: str, now: datetime | None = None) -> int:
    """Turn a one-time code into the kiosk's own credential: its Ed25519 public key (hex). Return its id.

    The kiosk keeps the private key; the county keeps only the public one, so even a copy of
    county.db cannot sign as a kiosk.
    """
    now = now or _now()
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
    except ValueError:
        raise EnrolmentRefused(code) from None
    with transaction(db):
        row = db.execute(
            "select * from kiosks where code_hash = ? and revoked_at is null", (_hash(code.strip()),)
        ).fetchone()
        if row is None or row["village"] != village or datetime.fromisoformat(row["code_expires"]) < now:
            raise EnrolmentRefused(code)
        db.execute(
            "update kiosks set code_hash = null, code_expires = null, public_key = ?, enrolled_at = ? where id = ?",
            (public_key, now.isoformat(), row["id"]),
        )
    return int(row["id"])


def revoke(db: sqlite3.Connection, kiosk_id: int, now: datetime | None = None) -> bool:
    cursor = db.execute(
        "update kiosks set revoked_at = ? where id = ? and revoked_at is null", ((now or _now()).isoformat(), kiosk_id)
    )
    return cursor.rowcount == 1


def signed_text(timestamp: str, body: bytes) -> bytes:
    """What a kiosk signs: its timestamp and the request body."""
    return timestamp.encode() + b"\n" + body


def enrolled(db: sqlite3.Connection, kiosk_id: int, day: str) -> sqlite3.Row | None:
    """Return the kiosk *kiosk_id* if it is enrolled and not revoked, with what it has sent on *day* (UTC): its
    kiosk_usage (bytes, items, minute, minute_requests: null before its first accepted request of the day), in one
    query, as every signed request reads both first (guard.py)."""
    row: sqlite3.Row | None = db.execute(
        "select k.*, u.bytes, u.items, u.minute, u.minute_requests from kiosks k"
        " left join kiosk_usage u on u.kiosk_id = k.id and u.day = ? where k.id = ? and k.revoked_at is null",
        (day, kiosk_id),
    ).fetchone()
    return row if row is not None and row["public_key"] is not None else None


def signed_by(kiosk: sqlite3.Row | None, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether *signature* is the enrolled *kiosk*'s (store.enrolled) signature of *timestamp* and *body*."""
    if kiosk is None:
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(kiosk["public_key"]))
        key.verify(bytes.fromhex(signature), signed_text(timestamp, body))
    except (ValueError, InvalidSignature):
        return False
    return True


def seen_before(db: sqlite3.Connection, kiosk_id: int, signature: str) -> bool:
    """Record the kiosk's request by its *signature*; return True if it was recorded before: a replay."""
    digest = hashlib.sha256(bytes.fromhex(signature)).hexdigest()
    recorded = db.execute(
        "insert into seen_signatures (digest, kiosk_id, at) values (?, ?, ?) on conflict do nothing",
        (digest, kiosk_id, _now().isoformat()),
    )
    return recorded.rowcount == 0


KEEP_REPORTS = 1000  # per kiosk: six weeks of hourly reports; the dashboard needs only the latest


def record_report(
    db: sqlite3.Connection, kiosk_id: int, report: dict[str, Any], now: datetime | None = None
) -> dict[str, str | None] | None:
    """Keep a kiosk's report (plain values only, long texts cut) once, by its report_key, and forget its oldest
    beyond KEEP_REPORTS.

    A software update that ended is kept for its release too (release_outcomes), past the report's own
    keeping. Return the update the report carried (payloads.software_update), or None.
    """
    fields = ("app_version", "content_version", "checked_version", "content_date", "last_outcome", "last_error",
              "disk_free_bytes", "outbox_depth", "outbox_set_aside")  # fmt: skip
    values = [payloads.storable(report.get(name)) for name in fields]
    update = payloads.software_update(report.get("software_update"))
    told = [update.get(name) if update else None for name in ("offered", "outcome", "step", "error", "at")]
    stamp = (now or _now()).isoformat()
    with transaction(db, kiosk=kiosk_id):
        kept = db.execute(
            f"insert into reports (kiosk_id, report_key, received_at, {', '.join(fields)}, overdue, update_offered,"  # noqa: S608 - fixed names
            f" update_outcome, update_step, update_error, update_at) values (?, ?, ?, {', '.join('?' * len(fields))},"
            " ?, ?, ?, ?, ?, ?) on conflict (kiosk_id, report_key) do nothing",
            (kiosk_id, payloads.report_key(report.get("report_key")), stamp, *values,
             json.dumps(payloads.overdue(report.get("overdue")), ensure_ascii=False), *told),
        )  # fmt: skip
        if kept.rowcount == 0:
            return update  # this very report was kept before: its answer was lost, and the kiosk sent it again
        db.execute(
            "delete from reports where kiosk_id = ? and id <= (select id from reports where kiosk_id = ?"
            " order by id desc limit 1 offset ?)",
            (kiosk_id, kiosk_id, KEEP_REPORTS),
        )
        if update and update["outcome"] in ("installed", "failed", "rolled_back"):
            # Hourly reports repeat the same update: the row changes (and its received_at with it) only when
            # the update does, so a failure counts from when it first arrived (to the microsecond, as the
            # automatic pause's counted_from: rollout.py).
            db.execute(
                "insert into release_outcomes values (?, ?, ?, ?, ?, ?, ?) on conflict (kiosk_id, version) do update"
                " set outcome = excluded.outcome, step = excluded.step, error = excluded.error, at = excluded.at,"
                " received_at = excluded.received_at where release_outcomes.outcome is distinct from excluded.outcome"
                " or release_outcomes.step is distinct from excluded.step"
                " or release_outcomes.error is distinct from excluded.error"
                " or release_outcomes.at is distinct from excluded.at",
                (kiosk_id, *told, (now or datetime.now(UTC)).isoformat(timespec="microseconds")),
            )
    return update
