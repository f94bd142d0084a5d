"""How far off a kiosk's clock may be, how much one kiosk may send, and how long the county keeps what was sent.

A signed request carries the kiosk's time (X-Kiosk-Time). Refusing times outside a window bounds
how long a captured request could be replayed, so the record of signatures seen (the replay
guard) need only cover twice the window and can be pruned. Per-kiosk quotas bound what one
kiosk key, or someone who took it, can add to county.db. Old rows are pruned a batch at a time
after accepted requests, so no request ever pays for a backlog.

The per-minute and per-day counts live in county.db, not in kiosk.web's in-memory SlidingWindow:
they must hold across the server's processes (it may run several) and its restarts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kiosk.county import retention
from sync.contract.i18n import tr

PRUNE_BATCH = 100  # rows per table per accepted request while there are old rows: bounded work
USAGE_PRUNE_BATCH = 10  # kiosks' days of counts of what villagers looked for (up to 3,000 rows each)
PRUNE_PAUSE = timedelta(minutes=1)  # a table found clear is looked at again after this: most requests prune nothing


def utc_now() -> datetime:
    """The county's clock (tests move it)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Limits:
    """The COUNTY_* settings, as the checks use them."""

    clock: timedelta
    bytes_per_day: int
    items_per_day: int
    requests_per_minute: int
    keep: timedelta
    usage_keep: timedelta  # 0: keep every day's counts of what villagers looked for

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        return cls(
            clock=timedelta(hours=int(config["COUNTY_CLOCK_HOURS"])),
            bytes_per_day=int(config["COUNTY_KIOSK_MB_PER_DAY"]) * 1024 * 1024,
            items_per_day=int(config["COUNTY_KIOSK_ITEMS_PER_DAY"]),
            requests_per_minute=int(config["COUNTY_KIOSK_REQUESTS_PER_MINUTE"]),
            keep=timedelta(days=int(config["COUNTY_KEEP_DAYS"])),
            usage_keep=timedelta(days=int(config["COUNTY_USAGE_KEEP_DAYS"])),
        )


def clock_problem(stamp: str, now: datetime, window: timedelta) -> str | None:
    """Say what is wrong with a kiosk's X-Kiosk-Time *stamp*, or None when it is within *window* of *now*."""
    try:
        kiosk_time = datetime.fromisoformat(stamp)
    except ValueError:
        kiosk_time = None
    if kiosk_time is None or kiosk_time.tzinfo is None:
        return tr("the request's X-Kiosk-Time %(stamp)r is not a time with its UTC offset", stamp=stamp[:40])
    if abs(kiosk_time - now) <= window:
        return None
    return tr(
        "the kiosk's clock is wrong: it says %(kiosk)s (UTC) but the county's says %(county)s, more than "
        "%(hours)s hours apart. Set the kiosk's date and time (or its time zone) right; its reports and uploads "
        "wait until then.",
        kiosk=f"{kiosk_time.astimezone(UTC):%Y-%m-%d %H:%M}", county=f"{now:%Y-%m-%d %H:%M}",
        hours=int(window.total_seconds() // 3600),
    )  # fmt: skip


def over_limit(kiosk: sqlite3.Row | None, now: datetime, limits: Limits) -> tuple[str, int] | None:
    """Return why the kiosk must wait and for how many seconds, or None while it is within its rate and quota.

    *kiosk*: its row with what it sent on *now*'s day (store.enrolled), or None for no enrolled kiosk.
    """
    if kiosk is None or kiosk["minute_requests"] is None:
        return None
    bytes_, items, minute, requests = (kiosk[name] for name in ("bytes", "items", "minute", "minute_requests"))
    if bytes_ >= limits.bytes_per_day or items >= limits.items_per_day:
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        return (
            tr("this kiosk has sent its day's quota (%(mb)s MB or %(items)s items); the rest waits until midnight UTC",
               mb=limits.bytes_per_day // (1024 * 1024), items=limits.items_per_day),
            max(1, int((midnight - now).total_seconds())),
        )  # fmt: skip
    if minute == f"{now:%H:%M}" and requests >= limits.requests_per_minute:
        return (
            tr("this kiosk has made %(count)s requests this minute, the most allowed; try again in a minute",
               count=requests),
            60 - now.second,
        )  # fmt: skip
    return None


def count_use(db: sqlite3.Connection, kiosk_id: int, now: datetime, size: int, items: int) -> None:
    """Add one accepted request of *size* bytes and *items* uploaded items to the kiosk's day and minute."""
    db.execute(
        "insert into kiosk_usage (kiosk_id, day, bytes, items, minute, minute_requests) values (?, ?, ?, ?, ?, 1)"
        " on conflict (kiosk_id, day) do update set bytes = kiosk_usage.bytes + excluded.bytes,"
        " items = kiosk_usage.items + excluded.items, minute_requests = case when kiosk_usage.minute = excluded.minute"
        " then kiosk_usage.minute_requests + 1 else 1 end, minute = excluded.minute",
        (kiosk_id, f"{now:%Y-%m-%d}", size, items, f"{now:%H:%M}"),
    )


class Pruner:
    """Delete, a batch at a time, what is past keeping; look at a table again only a while after it was found clear.

    Kept: replay records for twice the clock window (a request is accepted only within the window
    of its time, and its time is within the window of its arrival); reports, ratings and village
    notice changes as received, and uploads set aside, for COUNTY_KEEP_DAYS, after which the
    dashboard still has the daily rating counts, each notice's latest change and each kiosk's
    latest report. Display logs are kept whole COUNTY_KEEP_DAYS, and each kiosk's latest whatever its age
    (retention.prune_display_logs: takedowns.py compares them day by day). Counts of what villagers looked for
    are kept COUNTY_USAGE_KEEP_DAYS (retention.prune_usage).
    """

    def __init__(self, batch: int = PRUNE_BATCH, pause: timedelta = PRUNE_PAUSE) -> None:
        self.batch, self.pause = batch, pause
        self.clear_until: dict[str, datetime] = {}  # per statement: found clear, so not worth a look before then

    def prune(self, db: sqlite3.Connection, now: datetime, limits: Limits) -> int:
        """Delete up to a batch of rows per table that are past keeping; return how many went."""
        old = (now - limits.keep).isoformat()
        statements = {
            "seen_signatures": (
                "delete from seen_signatures where digest in (select digest from seen_signatures where at < ? limit ?)",
                (now - 2 * limits.clock).isoformat()),
            "reports": (
                "delete from reports where id in (select id from reports r where received_at < ? and id <"
                " (select max(id) from reports n where n.kiosk_id = r.kiosk_id) limit ?)", old),
            "ratings": (
                "delete from uploads where idempotency_key in (select idempotency_key from uploads"
                " where kind = 'feedback' and received_at < ? limit ?)", old),
            "notice changes": (
                "delete from uploads where idempotency_key in (select idempotency_key from uploads"
                " where kind = 'village_notice' and received_at < ? limit ?)", old),
            "rejected_uploads": (
                "delete from rejected_uploads where idempotency_key in (select idempotency_key from rejected_uploads"
                " where received_at < ? limit ?)", old),
            "kiosk_usage": (
                "delete from kiosk_usage where (kiosk_id, day) in (select kiosk_id, day from kiosk_usage"
                " where day < ? limit ?)", f"{now - timedelta(days=2):%Y-%m-%d}"),
        }  # fmt: skip
        if not limits.keep:  # COUNTY_KEEP_DAYS=0: keep everything received
            statements = {name: statements[name] for name in ("seen_signatures", "kiosk_usage")}
        deleted = 0
        if limits.usage_keep and now >= self.clear_until.get("usage", now):
            count = retention.prune_usage(db, (now - limits.usage_keep).date(), USAGE_PRUNE_BATCH)
            if count < USAGE_PRUNE_BATCH:
                self.clear_until["usage"] = now + self.pause
            deleted += count
        if now >= self.clear_until.get("display logs", now):
            count = retention.prune_display_logs(db, now.date(), limits.keep.days)
            if count < retention.PRUNE_BATCH:
                self.clear_until["display logs"] = now + self.pause
            deleted += count
        for name, (sql, before) in statements.items():
            if now < self.clear_until.get(name, now):
                continue
            count = db.execute(sql, (before, self.batch)).rowcount
            if count < self.batch:
                self.clear_until[name] = now + self.pause
            deleted += count
        return deleted
