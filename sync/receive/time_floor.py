"""The kiosk's time floor: the newest county signing time it has verified, a lower bound for its clock.

Kiosk clocks can be far behind (a flat CMOS battery), so expiry is never judged by a time older
than the floor. County clocks can be wrong too: a signing time far ahead of a kiosk clock that
looks right is not taken, and staff have a way back (`kiosk reset-time-floor`) when a
kiosk whose own clock could not judge followed a county that was ahead. All of it lives in the
sync status (updater.STATUS): time_floor, time_floor_before (the way back), county_clock_ahead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

# How far a county's signing time may run ahead of a kiosk clock that looks right before the kiosk
# stops taking it as its time floor: past that, the county's clock is the suspect.
FLOOR_LEAD = timedelta(days=1)
# A kiosk clock this far behind the floor still looks right (the floor is when the county signed:
# a clock a few minutes slow, syncing just after, is behind it); `kiosk status` warns past it.
CLOCK_SLACK = timedelta(hours=1)
# This software was written in 2026: a kiosk clock before then is wrong (a flat CMOS battery).
CLOCK_PLAUSIBLE_FROM = datetime(2026, 1, 1, tzinfo=UTC)


def time_floor(status: dict[str, Any], key: str = "time_floor") -> datetime | None:
    """Return the time recorded under *key* in a sync status, or None (none yet, or unreadable)."""
    try:
        floor = datetime.fromisoformat(status[key])
    except (KeyError, TypeError, ValueError):
        return None
    return floor if floor.tzinfo is not None else floor.replace(tzinfo=UTC)


def clock_looks_right(now: datetime, floor: datetime | None) -> bool:
    """Say whether a kiosk clock reading *now* can judge a county's signing time."""
    return now >= CLOCK_PLAUSIBLE_FROM and (floor is None or now >= floor - CLOCK_SLACK)


def raise_floor(status: dict[str, Any], now: datetime, signed: datetime) -> None:
    """Take the county's verified signing time *signed* as the floor in *status*, if it should be.

    A clock that cannot judge (before this software existed, or behind the floor) lets the floor
    follow the county, and keeps the floor from before the first such rise as the way back: a
    county clock that was ahead goes on signing nightly, so "before the last rise" would still be
    ahead. A clock that looks right judges the county in turn: a signing time more than FLOOR_LEAD
    ahead of it means the county's clock was wrong, and taking it would make every later signature
    look expired. It is noted for `kiosk status`, not taken; one less far ahead is taken only up to
    the clock's own time, so the floor stays a time both clocks agree has passed.
    """
    floor = time_floor(status)
    if floor is not None and signed <= floor:
        return
    judged = clock_looks_right(now, floor)
    if judged and signed > now + FLOOR_LEAD:
        status["county_clock_ahead"] = signed.isoformat()
        return
    status.pop("county_clock_ahead", None)
    if judged:
        status.pop("time_floor_before", None)  # the clock agrees with the county: nothing to undo
        # A county a few hours ahead (local time taken for UTC) would move the screens, which go by
        # the later of clock and floor, ahead of a right clock: notices shown early, 公示期 cut short.
        signed = max(min(signed, now), floor) if floor is not None else min(signed, now)
    elif floor is not None:
        status.setdefault("time_floor_before", floor.isoformat())
    status["time_floor"] = signed.isoformat()


def lower_floor(status: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """Put the floor in *status* back to before the rises its clock could not judge (or forget it).

    :returns: the floor (old, new).
    """
    old = time_floor(status)
    before = time_floor(status, "time_floor_before")
    status.pop("time_floor_before", None)
    new = before if before is not None and (old is None or before < old) else None
    if new is None:
        status.pop("time_floor", None)
    else:
        status["time_floor"] = new.isoformat()
    status.pop("county_clock_ahead", None)
    return old, new
