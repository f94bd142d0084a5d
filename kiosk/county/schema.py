"""county.db's tables, and how an older county.db reaches them: one sqlite-utils migration per change.

Each migration runs once, in order, and is recorded in the database (`_sqlite_migrations`);
store.open_store applies those not yet run. A migration that reshapes what is kept also brings the
rows kept before it to the new shape (m004 judges old uploads as store_uploads judges new ones).
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from kiosk.county import dashboard_accounts, payloads, takedowns, uploads, village_photos
from kiosk.county.studio import changes as studio_changes
from kiosk.data import sign_in_tries
from sync.contract.dates import MONDAY_TO_FRIDAY

migrations = Migrations("kiosk-county")


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
            uploads.set_aside(db.conn, row, trouble)
            db.execute("delete from uploads where idempotency_key = ?", [row["idempotency_key"]])
        elif row["kind"] == "feedback":
            uploads.count_rating(db.conn, row["village"], payload)


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
            takedowns.record_gone(db.conn, kiosk_id, before[1], log, MONDAY_TO_FRIDAY)  # no calendar then
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
        # Judged Monday to Friday: the county published no calendar when this migration was written.
        takedowns.note_change(db.conn, village, kiosk_id, json.loads(payload), MONDAY_TO_FRIDAY)


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


@migrations()
def m014_software_updates(db: Database) -> None:
    # Each report's last software update (payloads.software_update); and per kiosk and release the latest
    # update that ended, kept when later reports say nothing of it (the release paused, or not tried again
    # after it was switched back): what the dashboard's releases page counts (kiosk/county/rollout.py).
    for column in ("update_offered", "update_outcome", "update_step", "update_error", "update_at"):
        db.execute(f"alter table reports add column {column} text")
    db.execute(
        """create table release_outcomes (
          kiosk_id integer not null references kiosks(id), version text not null, outcome text not null,
          step text, error text, at text, received_at text not null, primary key (kiosk_id, version)) without rowid"""
    )
    db.execute("create index release_outcomes_by_version on release_outcomes (version, received_at)")
    # What the county's automatic pause did about a release: when it paused it and after how many kiosks,
    # or why it could not; failures received after counted_from count towards the next pause.
    db.execute(
        """create table release_watch (
          version text primary key, counted_from text, paused_at text, paused_kiosks integer, problem text,
          problem_at text)"""
    )


@migrations()
def m015_usage_counts(db: Database) -> None:
    # What villagers looked for, per village and county-local day (uploads.count_usage), and the same
    # added up county-wide and per village and kind: a dashboard period reads days, never every village's keys.
    # Keys in the order the dashboard groups them (looked_for.py): a 90-day page of 2,000 kiosks reads in half the time.
    db.execute(
        """create table usage_counts (village text not null, day text not null, kind text not null, key text not null,
          count integer not null, primary key (village, day, kind, key)) without rowid"""
    )
    db.execute(
        """create table usage_county_counts (day text not null, kind text not null, key text not null,
          count integer not null, primary key (kind, day, key)) without rowid"""
    )
    db.execute(
        """create table usage_village_totals (day text not null, village text not null, kind text not null,
          count integer not null, primary key (village, kind, day)) without rowid"""
    )


@migrations()
def m016_sign_in_tries(db: Database) -> None:
    # The dashboard's sign-in tries per address (kiosk/staff/limiter.py), until now in each process's memory: the
    # county server's processes now share one count (issue 18).
    sign_in_tries.create_table(db.conn)


@migrations()
def m017_report_keys(db: Database) -> None:
    # A report's own key (the kiosk makes one per report and sends it again with every retry): a report whose
    # answer was lost, sent again to another of the county's processes, is kept once (issue 18). Reports from
    # kiosks older than this have none, and are kept as they come.
    db.execute("alter table reports add column report_key text")
    db.execute("create unique index reports_once on reports (kiosk_id, report_key)")
