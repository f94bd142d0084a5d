"""Months of a county's history in its database (county.db, or PostgreSQL), written straight in, for bench.county.

What DAYS of hourly kiosk reports leave behind (at most store.KEEP_REPORTS per kiosk), one display log
per kiosk and day (NOTICES_ON_SHOW notices, a new set of POSTED notices with a 7-working-day 公示期 every
CYCLE_DAYS days, and on every 20th kiosk one of them gone on the cycle's fourth day), RATINGS_PER_DAY
ratings per kiosk and day, counted as uploads.store_uploads counts them, and each kiosk's day of what
villagers looked for (OPENED_PER_DAY items, NOT_FOUND_PER_DAY searches, ENDINGS_PER_DAY guide endings),
added up as uploads.count_usage adds them (here in memory first, each count written once).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

NOTICES_ON_SHOW = 40
POSTED = 5
CYCLE_DAYS = 14  # longer than any 7 working days, so only the notices taken down on purpose count
RATINGS_PER_DAY = 3
OPENED_PER_DAY, NOT_FOUND_PER_DAY, ENDINGS_PER_DAY = 12, 3, 2  # distinct keys a kiosk counts in a day
SEARCHES, ENDINGS = 2000, 24  # the county's distinct searches that find nothing, and guide endings


def _usage(kiosk_id: int, offset: int) -> list[list[object]]:
    """A kiosk's day of counts, as kiosk/data/usage.py sends them: distinct keys, counts from 1 to 4."""
    seed = kiosk_id * 7919 + offset * 104729
    counts: list[list[object]] = [["power", f"p{(seed + 37 * n) % 300:04d}", 1 + (seed + n) % 4]
                                  for n in range(OPENED_PER_DAY)]  # fmt: skip
    counts += [["search_none", f"q{(seed + 613 * n) % SEARCHES}", 1] for n in range(NOT_FOUND_PER_DAY)]
    counts += [["guide_ending", f"g{n}/e{(seed + 5 * n) % (ENDINGS // ENDINGS_PER_DAY)}", 1]
               for n in range(ENDINGS_PER_DAY)]  # fmt: skip
    return counts


def _display_log(kiosk_id: int, day: date, first: date) -> dict[str, object]:
    cycle_start = first + timedelta(days=(day - first).days // CYCLE_DAYS * CYCLE_DAYS)
    posted = [f"c{cycle_start:%m%d}-{n}" for n in range(POSTED)]
    facts = {"title": "低保对象名单公示", "published_at": f"{cycle_start} 00:00:00", "days": 7}
    shown = [f"n{n:03d}" for n in range(NOTICES_ON_SHOW - POSTED)] + posted
    if kiosk_id % 20 == 0 and (day - cycle_start).days >= 3:
        shown.remove(posted[0])  # taken down inside its 公示期
    return {"day": day.isoformat(), "at": f"{day} 02:30:00", "notices": shown,
            "posting": {notice: facts for notice in posted}}  # fmt: skip


def prefill(data_dir: Path, kiosks: list[tuple[int, str]], days: int, url: str | None = None) -> str:
    """Write *days* of history for *kiosks* (id, village), the days before today, into county.db in *data_dir* (or
    the PostgreSQL database *url*: store.open_store); return a line saying what."""
    from kiosk.county import payloads, store, takedowns
    from kiosk.data.local_db import transaction
    from kiosk.settings import setting
    from sync.contract.dates import MONDAY_TO_FRIDAY

    started = time.perf_counter()
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days)
    now = datetime.now(UTC).replace(microsecond=0)
    hours = min(days * 24, store.KEEP_REPORTS)
    overdue = json.dumps([{"duty": "finance-quarterly", "title": "村级财务季度公开", "what": "2026 Q3",
                           "due": first.isoformat()}], ensure_ascii=False)  # fmt: skip
    url = setting("COUNTY_DATABASE_URL") if url is None else url
    db = store.open_store(data_dir, url=url)
    levels: Counter[tuple[str, str, str, str, int]] = Counter()  # as uploads.count_rating counts them
    reasons: Counter[tuple[str, str, str, str, str]] = Counter()
    used: Counter[tuple[str, str, str, str]] = Counter()  # as uploads.count_usage adds them: (village, day, kind, key)
    counts = {"reports": 0, "display logs": 0, "ratings": 0, "takedowns": 0, "kiosk days of usage counts": 0}
    try:
        with transaction(db):
            for kiosk_id, village in kiosks:
                db.executemany(
                    "insert into reports (kiosk_id, received_at, app_version, content_version, checked_version,"
                    " content_date, last_outcome, disk_free_bytes, outbox_depth, overdue)"
                    " values (?, ?, '0.9.0', 42, 42, ?, 'unchanged', 12345678912, 0, ?)",
                    [(kiosk_id, (now - timedelta(hours=hours - n)).isoformat(), first.isoformat(), overdue)
                     for n in range(hours)],
                )  # fmt: skip
                counts["reports"] += hours
                uploads, before = [], None
                for offset in range(days):
                    day = first + timedelta(days=offset)
                    log = _display_log(kiosk_id, day, first)
                    uploads.append((f"history:display:{kiosk_id}:{day}", "display_log", log))
                    if before is not None:  # judged as uploads.store_uploads judges a log on arrival
                        takedowns.record_gone(db, kiosk_id, before, log, MONDAY_TO_FRIDAY)
                    before = log
                    for n in range(RATINGS_PER_DAY):
                        level = (kiosk_id + offset + n) % 5 + 1
                        item, tapped = f"p{(kiosk_id + n) % 20:04d}", "slow" if level <= 3 else "quick"
                        rating = {"kind": "power", "item_id": item, "level": level, "reasons": [tapped],
                                  "day": day.isoformat()}  # fmt: skip
                        uploads.append((f"history:rating:{kiosk_id}:{day}:{n}", "feedback", rating))
                        levels[(day.isoformat(), village, "power", item, level)] += 1
                        reasons[(day.isoformat(), village, "power", item, tapped)] += 1
                    for (kind, key), number in payloads.usage_counts({"counts": _usage(kiosk_id, offset)}).items():
                        used[(village, day.isoformat(), kind, key)] += number
                db.executemany(
                    "insert into uploads (idempotency_key, kiosk_id, kind, payload, received_at)"
                    " values (?, ?, ?, ?, ?)",
                    [(key, kiosk_id, kind, json.dumps(payload, ensure_ascii=False), now.isoformat())
                     for key, kind, payload in uploads],
                )  # fmt: skip
                counts["display logs"] += days
                counts["ratings"] += days * RATINGS_PER_DAY
                counts["kiosk days of usage counts"] += days
            # Added up here, each row written once: a row updated again and again in one transaction (a county's
            # count, by every kiosk) costs PostgreSQL more each time.
            county: Counter[tuple[str, str, str]] = Counter()
            totals: Counter[tuple[str, str, str]] = Counter()
            for (village, day_text, kind, key), number in used.items():
                county[(day_text, kind, key)] += number
                totals[(day_text, village, kind)] += number
            db.executemany("insert into usage_counts values (?, ?, ?, ?, ?)", [(*k, n) for k, n in used.items()])
            db.executemany("insert into usage_county_counts values (?, ?, ?, ?)", [(*k, n) for k, n in county.items()])
            db.executemany("insert into usage_village_totals values (?, ?, ?, ?)", [(*k, n) for k, n in totals.items()])
            db.executemany("insert into rating_counts values (?, ?, ?, ?, ?, ?)",
                           [(*key, count) for key, count in levels.items()])  # fmt: skip
            db.executemany("insert into reason_counts values (?, ?, ?, ?, ?, ?)",
                           [(*key, count) for key, count in reasons.items()])  # fmt: skip
        counts["takedowns"] = int(db.execute("select count(*) from gone_from_logs").fetchone()[0])
        if url:
            size = int(db.execute("select pg_database_size(current_database())").fetchone()[0]) / 2**20
        else:
            size = (Path(data_dir) / store.FILE).stat().st_size / 2**20
    finally:
        db.close()
    return (
        f"history: {days} days before today: "
        + ", ".join(f"{count:,} {name}" for name, count in counts.items())
        + f"; {'the database' if url else 'county.db'} {size:.0f} MB, written in {time.perf_counter() - started:.1f} s"
    )
