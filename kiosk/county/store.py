"""The county server's own state (`DATA_DIR/county.db`): enrolled kiosks, their reports and what they upload.

Everything a kiosk sends is keyed by the idempotency key the kiosk gave it, so an upload repeated
after a lost acknowledgement is acknowledged again and stored once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from kiosk.county import dashboard_accounts, payloads, retention, takedowns, village_photos
from kiosk.county.studio import changes as studio_changes
from kiosk.data.transactions import transaction
from sync.contract.i18n import tr

FILE = "county.db"
CODE_HOURS = 72  # an enrolment code works once, within three days
migrations = Migrations("kiosk-county")
log = logging.getLogger(__name__)


@migrations()
def m001_kiosks_and_uploads(db: Database) -> None:
    db.execute(
        """create table kiosks (
          id integer primary key, village text not null, code_hash text unique, code_expires text,
          public_key text, enrolled_at text, revoked_at text, created_at text not null)"""
    )
    db.execute(
        """create table reports (
          id integer primary key, kiosk_id integer not null references kiosks(id), received_at text not null,
          app_version text, content_version integer, content_date text, last_outcome text, last_error text,
          disk_free_bytes integer, outbox_depth integer, overdue text)"""
    )
    db.execute("create index reports_by_kiosk on reports (kiosk_id, id)")
    db.execute(
        """create table uploads (
          idempotency_key text primary key, kiosk_id integer not null references kiosks(id), kind text not null,
          payload text not null, received_at text not null)"""
    )
    db.execute("create index uploads_by_kind on uploads (kind, kiosk_id)")


@migrations()
def m002_seen_signatures(db: Database) -> None:
    # Every signature a kiosk has used: a request sent again by someone who captured it is refused.
    db.execute("create table seen_signatures (digest text primary key, kiosk_id integer not null, at text not null)")


@migrations()
def m003_checked_version(db: Database) -> None:
    # The newest county version a kiosk has checked: it may be ahead of its content version (nothing new for it).
    db.execute("alter table reports add column checked_version integer")


@migrations()
def m004_for_the_dashboard(db: Database) -> None:
    # Uploads found by day; ratings counted per village, day and item as they arrive (the dashboard
    # then adds up days, not millions of ratings); and what a kiosk sent that the county cannot use.
    db.execute(
        "alter table uploads add column day text generated always as"
        " (case when json_valid(payload) then json_extract(payload, '$.day') end) virtual"
    )
    db.execute("create index uploads_by_day on uploads (kind, day)")
    db.execute(
        """create table rating_counts (
          day text not null, village text not null, kind text not null, item text not null, level integer not null,
          count integer not null, primary key (day, village, kind, item, level)) without rowid"""
    )
    db.execute(
        """create table reason_counts (
          day text not null, village text not null, kind text not null, item text not null, reason text not null,
          count integer not null, primary key (day, village, kind, item, reason)) without rowid"""
    )
    db.execute(
        """create table rejected_uploads (
          idempotency_key text primary key, kiosk_id integer not null references kiosks(id), kind text not null,
          payload text not null, problem text not null, received_at text not null)"""
    )
    db.execute("create index rejected_by_kiosk on rejected_uploads (kiosk_id)")
    # What was stored before these checks: kept, counted, or set aside as it would be today.
    for row in list(db.query("select u.*, k.village from uploads u join kiosks k on k.id = u.kiosk_id")):
        try:
            payload = json.loads(row["payload"], parse_constant=payloads.refuse_constant)
            trouble = payloads.problem(row["kind"], payload) if isinstance(payload, dict) else "not an object"
        except ValueError as error:
            trouble = f"not JSON: {error}"
        if trouble is not None:
            _set_aside(db.conn, row, trouble)
            db.execute("delete from uploads where idempotency_key = ?", [row["idempotency_key"]])
        elif row["kind"] == "feedback":
            _count_rating(db.conn, row["village"], payload)


@migrations()
def m005_takedowns_judged_on_arrival(db: Database) -> None:
    # Display logs compared with the kiosk's log of the day before when they arrive (takedowns.py).
    db.execute("create index uploads_by_kiosk_day on uploads (kind, kiosk_id, day)")
    db.execute(
        """create table gone_from_logs (
          kiosk_id integer not null references kiosks(id), notice text not null, missing text not null,
          last_seen text not null, title text not null, published_at text not null, days integer not null,
          ends text not null, primary key (kiosk_id, notice, missing))"""
    )
    db.execute("create index gone_by_day on gone_from_logs (missing)")
    logs = db.execute("select kiosk_id, payload from uploads where kind = 'display_log' order by kiosk_id, day")
    before: tuple[int, dict[str, Any]] | None = None
    for kiosk_id, payload in logs.fetchall():
        log = json.loads(payload)
        if payloads.problem("display_log", log) is not None:
            continue
        if before is not None and before[0] == kiosk_id:
            takedowns.record_gone(db.conn, kiosk_id, before[1], log)
        before = (kiosk_id, log)


@migrations()
def m006_keys_per_kiosk_and_latest_notices(db: Database) -> None:
    # An idempotency key is the kiosk's own: another kiosk sending the same key must not stand in for it.
    for table in ("uploads", "rejected_uploads"):
        db.execute(f"update {table} set idempotency_key = kiosk_id || ':' || idempotency_key")  # noqa: S608
    # Each village notice's latest change, and those that cut a 公示期 short, kept as changes arrive.
    db.execute(
        """create table latest_notices (
          village text not null, notice text not null, at text not null, kiosk_id integer not null,
          payload text not null, primary key (village, notice))"""
    )
    db.execute(
        """create table notices_gone_early (
          village text not null, notice text not null, kiosk_id integer not null, title text not null,
          published_at text not null, days integer not null, ends text not null, missing text not null,
          reason text not null, primary key (village, notice))"""
    )
    db.execute("create index gone_early_by_day on notices_gone_early (missing)")
    changes = db.execute(
        "select k.village, u.kiosk_id, u.payload from uploads u join kiosks k on k.id = u.kiosk_id"
        " where u.kind = 'village_notice' order by u.rowid"
    )
    for village, kiosk_id, payload in changes.fetchall():
        takedowns.note_change(db.conn, village, kiosk_id, json.loads(payload))


@migrations()
def m007_limits_and_retention(db: Database) -> None:
    # Each kiosk's use of the API per UTC day (its quota) and in its current minute (its rate).
    db.execute(
        """create table kiosk_usage (
          kiosk_id integer not null, day text not null, bytes integer not null, items integer not null,
          minute text not null, minute_requests integer not null, primary key (kiosk_id, day)) without rowid"""
    )
    # Rows found by age, so that pruning what is past its keeping deletes a few at a time without a scan.
    db.execute("create index seen_by_age on seen_signatures (at)")
    db.execute("create index reports_by_age on reports (received_at)")
    db.execute("create index uploads_by_age on uploads (kind, received_at)")
    db.execute("create index rejected_by_age on rejected_uploads (received_at)")


@migrations()
def m008_outbox_set_aside(db: Database) -> None:
    # How many outbox items a kiosk set aside because the county can never take them (uplink.py).
    db.execute("alter table reports add column outbox_set_aside integer")


@migrations()
def m009_display_log_days(db: Database) -> None:
    # Each kiosk's display logs as daily counts, kept after the log itself is pruned (retention.py),
    # so that a log sent again after that is still known.
    db.execute(
        """create table daily_display_logs (kiosk_id integer not null references kiosks(id), day text not null,
          shown integer not null, posting integer not null, primary key (kiosk_id, day)) without rowid"""
    )
    db.execute(
        "insert or ignore into daily_display_logs select kiosk_id, day, coalesce(json_array_length(payload,"
        " '$.notices'), 0), (select count(*) from json_each(payload, '$.posting')) from uploads"
        " where kind = 'display_log' and day is not null"
    )


@migrations()
def m010_dashboard_accounts(db: Database) -> None:
    # The dashboard's accounts, until now in a local.db beside county.db with all the kiosk's tables.
    dashboard_accounts.create_tables(db.conn)
    dashboard_accounts.adopt_old_accounts(db.conn)


@migrations()
def m011_village_photos(db: Database) -> None:
    # The photos of the villages' own notices, for the phone pages (uploads keep only their names).
    village_photos.create_table(db.conn)


@migrations()
def m012_township_of_an_account(db: Database) -> None:
    # The studio's editors and reviewers may be kept to one township's content (kiosk.data.accounts).
    db.execute("alter table accounts add column township text not null default ''")


@migrations()
def m013_studio_changes(db: Database) -> None:
    # The studio's drafts and their review (kiosk/county/studio/changes.py).
    studio_changes.create_table(db.conn)


def open_store(data_dir: Path, migrate: bool = True, read_only: bool = False) -> sqlite3.Connection:
    """Open county.db (migrating it unless told not to); *read_only* for pages that only show it."""
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


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def add_kiosk(db: sqlite3.Connection, village: str, now: datetime | None = None) -> tuple[int, str]:
    """Register a kiosk for *village*; return its id and a one-time enrolment code (kept only hashed)."""
    now = now or _now()
    code = "-".join(secrets.token_hex(3) for _ in range(4))  # 96 bits, easy to read out over the phone
    cursor = db.execute(
        "insert into kiosks (village, code_hash, code_expires, created_at) values (?, ?, ?, ?)",
        (village, _hash(code), (now + timedelta(hours=CODE_HOURS)).isoformat(), now.isoformat()),
    )
    return int(cursor.lastrowid or 0), code


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


def signed_by(db: sqlite3.Connection, kiosk_id: int, timestamp: str, body: bytes, signature: str) -> sqlite3.Row | None:
    """Return the kiosk if *signature* is its signature of *timestamp* and *body*, and it is enrolled, not revoked."""
    row: sqlite3.Row | None = db.execute(
        "select * from kiosks where id = ? and revoked_at is null", (kiosk_id,)
    ).fetchone()
    if row is None or row["public_key"] is None:
        return None
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(row["public_key"]))
        key.verify(bytes.fromhex(signature), signed_text(timestamp, body))
    except (ValueError, InvalidSignature):
        return None
    return row


def verify(db: sqlite3.Connection, kiosk_id: int, timestamp: str, body: bytes, signature: str) -> sqlite3.Row | None:
    """Return the kiosk if the request carries its signature, it is enrolled and not revoked, and it is no replay."""
    row = signed_by(db, kiosk_id, timestamp, body, signature)
    if row is None:
        return None
    digest = hashlib.sha256(bytes.fromhex(signature)).hexdigest()
    try:
        db.execute("insert into seen_signatures (digest, kiosk_id, at) values (?, ?, ?)",
                   (digest, kiosk_id, _now().isoformat()))  # fmt: skip
    except sqlite3.IntegrityError:
        return None  # this very request was accepted before: a replay
    return row


KEEP_REPORTS = 1000  # per kiosk: six weeks of hourly reports; the dashboard needs only the latest


def record_report(db: sqlite3.Connection, kiosk_id: int, report: dict[str, Any], now: datetime | None = None) -> None:
    """Keep a kiosk's report (plain values only, long texts cut) and forget its oldest beyond KEEP_REPORTS."""
    fields = ("app_version", "content_version", "checked_version", "content_date", "last_outcome", "last_error",
              "disk_free_bytes", "outbox_depth", "outbox_set_aside")  # fmt: skip
    values = [payloads.storable(report.get(name)) for name in fields]
    with transaction(db):
        db.execute(
            f"insert into reports (kiosk_id, received_at, {', '.join(fields)}, overdue) values"  # noqa: S608 - fixed names
            f" (?, ?, {', '.join('?' * len(fields))}, ?)",
            (kiosk_id, (now or _now()).isoformat(), *values, json.dumps(payloads.overdue(report.get("overdue")),
                                                                       ensure_ascii=False)),
        )  # fmt: skip
        db.execute(
            "delete from reports where kiosk_id = ? and id <= (select id from reports where kiosk_id = ?"
            " order by id desc limit 1 offset ?)",
            (kiosk_id, kiosk_id, KEEP_REPORTS),
        )


def store_uploads(
    db: sqlite3.Connection, kiosk_id: int, items: list[dict[str, Any]], now: datetime | None = None
) -> list[str]:
    """Store a batch; return every key now held (new, already there or set aside), which the kiosk may then forget.

    Items the county cannot use go to rejected_uploads with the reason; a new rating is counted
    for the dashboard in the same transaction as it is stored.
    """
    stamp = (now or _now()).isoformat()
    with transaction(db):
        (village,) = db.execute("select village from kiosks where id = ?", (kiosk_id,)).fetchone()
        for item in items:
            kept = item["payload"]
            if item["kind"] == "notice_photo":  # its bytes go to village_photos, not with every upload
                kept = {k: v for k, v in kept.items() if k != "data"}
            row = {"idempotency_key": f"{kiosk_id}:{item['key']}", "kiosk_id": kiosk_id, "kind": item["kind"],
                   "payload": json.dumps(kept, ensure_ascii=False), "received_at": stamp}  # fmt: skip
            trouble = payloads.problem(item["kind"], item["payload"])
            if trouble is not None:
                _set_aside(db, row, trouble)
                continue
            if item["kind"] == "display_log" and not retention.first_log_of_day(db, kiosk_id, item["payload"]):
                continue  # the kiosk's log of that day is held already (whole, or as its counts once pruned)
            if item["kind"] == "notice_photo":
                village_photos.keep(db, village, kiosk_id, item["payload"], stamp)
            cursor = db.execute(
                "insert or ignore into uploads (idempotency_key, kiosk_id, kind, payload, received_at)"
                " values (:idempotency_key, :kiosk_id, :kind, :payload, :received_at)",
                row,
            )
            if cursor.rowcount == 1 and item["kind"] == "feedback":
                _count_rating(db, village, item["payload"])
            elif cursor.rowcount == 1 and item["kind"] == "display_log":
                takedowns.judge_display_log(db, kiosk_id, item["payload"])
            elif cursor.rowcount == 1 and item["kind"] == "village_notice":
                takedowns.note_change(db, village, kiosk_id, item["payload"])
    return [item["key"] for item in items]


def _set_aside(db: sqlite3.Connection, row: dict[str, Any], trouble: str) -> None:
    cursor = db.execute(
        "insert or ignore into rejected_uploads (idempotency_key, kiosk_id, kind, payload, problem, received_at)"
        " values (?, ?, ?, ?, ?, ?)",
        (row["idempotency_key"], row["kiosk_id"], row["kind"], row["payload"], trouble, row["received_at"]),
    )
    if cursor.rowcount == 1:  # once per item, not again when the kiosk sends it again
        log.warning(tr("upload %(key)s (%(kind)s) from kiosk %(id)s set aside in rejected_uploads: %(problem)s",
                       key=row["idempotency_key"], kind=row["kind"], id=row["kiosk_id"], problem=trouble))  # fmt: skip


def _count_rating(db: sqlite3.Connection, village: str, rating: dict[str, Any]) -> None:
    where = (rating["day"], village, rating["kind"], rating["item_id"])
    db.execute(
        "insert into rating_counts values (?, ?, ?, ?, ?, 1) on conflict do update set count = count + 1",
        (*where, rating["level"]),
    )
    for reason in dict.fromkeys(rating.get("reasons") or []):
        db.execute(
            "insert into reason_counts values (?, ?, ?, ?, ?, 1) on conflict do update set count = count + 1",
            (*where, reason),
        )
