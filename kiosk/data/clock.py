"""What time it is on the kiosk: its clock, never earlier than the county's signatures.

A kiosk with a flat CMOS battery wakes up in 2000 and would judge every notice as not yet
published; the time floor (the newest signing time it verified, sync/receive/updater.py) is a
trusted lower bound, so the kiosk takes the later of the two. ``county_now`` is the one reading of
it that the screens, slips, speech, ratings, staff pages and reports go by. The same facts tell
staff when the clock is off.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, g

from kiosk.data import queries
from kiosk.data.content_db import content_meta
from sync.contract.dates import DEFAULT_TIMEZONE, utc_minute
from sync.receive.status import STATUS, read_status
from sync.receive.time_floor import CLOCK_SLACK, time_floor

# A clock this far past the newest signature verified is ahead, or the kiosk has long been cut off:
# either way staff must look (notices would be judged as archived).
CLOCK_AHEAD = timedelta(days=30)
_floors: dict[Path, tuple[int, datetime | None]] = {}  # status file -> (mtime_ns, floor): one stat per request


def utc_now() -> datetime:
    return datetime.now(UTC)


def floor_of(data_dir: Path) -> datetime | None:
    """Return the kiosk's time floor, read again only when the sync status file changed."""
    path = Path(data_dir) / STATUS
    try:
        changed = path.stat().st_mtime_ns
    except OSError:
        return None
    held = _floors.get(path)
    if held is None or held[0] != changed:
        held = (changed, time_floor(read_status(Path(data_dir))))
        _floors[path] = held
    return held[1]


def kiosk_utc_now(data_dir: Path) -> datetime:
    """Return the later of the clock and the time floor, in UTC."""
    now, floor = utc_now(), floor_of(data_dir)
    return floor if floor is not None and floor > now else now


def county_now(data_dir: Path, content: sqlite3.Connection) -> datetime:
    """Return the county's local time now, to the second: the later of the clock and the time floor.

    In the time zone of the installed content (its meta table), and naive like the content's dates,
    so the two compare directly (queries.content_time writes it as they are stored).
    """
    return _local_now(data_dir, queries.meta(content).get("timezone", DEFAULT_TIMEZONE))


def _local_now(data_dir: Path, timezone: str) -> datetime:
    local = kiosk_utc_now(data_dir).astimezone(ZoneInfo(timezone))
    return local.replace(tzinfo=None, microsecond=0)


def clock_warning(status: dict[str, Any], now: datetime | None = None) -> dict[str, str] | None:
    """Say whether the clock is off, from a sync status: None, or {'problem', 'clock', 'signed', 'days'}.

    'behind': the kiosk clock is behind the county's newest signature (the screens use the latter);
    'ahead': the clock is over CLOCK_AHEAD past it (a clock ahead, or a kiosk cut off that long);
    'county_ahead': the county signed at a time ahead of this kiosk's clock, which looks right.
    """
    now = now or utc_now()
    floor = time_floor(status)
    county_ahead = time_floor(status, "county_clock_ahead")
    if floor is not None and now < floor - CLOCK_SLACK:
        return _warning("behind", now, floor)
    if county_ahead is not None:
        return _warning("county_ahead", now, county_ahead)
    if floor is not None and now > floor + CLOCK_AHEAD:
        return _warning("ahead", now, floor)
    return None


def _warning(problem: str, now: datetime, signed: datetime) -> dict[str, str]:
    days = str(abs((now - signed).days))
    return {"problem": problem, "clock": utc_minute(now), "signed": utc_minute(signed), "days": days}


def screen_now() -> datetime:
    """Return county_now for this request (a villager screen or a staff page), by its content.

    One moment for the whole request: a page, the day its look is counted on and what it says of time agree.
    :raises NoContent: before any content is installed.
    """
    now: datetime | None = g.get("screen_now")
    if now is None:
        data_dir = Path(current_app.config["DATA_DIR"])
        now = g.screen_now = _local_now(data_dir, content_meta().get("timezone", DEFAULT_TIMEZONE))
    return now
