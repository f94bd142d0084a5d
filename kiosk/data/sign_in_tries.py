"""Sign-in tries, per view and address, in the database that holds the accounts (kiosk/staff/limiter.py).

The kiosk's staff console keeps them in local.db; the county server in county.db, so that its several
processes share one count (issue 18): a guess sent to one process counts against the next sent to another.
A try is a row: when it was made, by the wall clock that every process shares. Rows older than the longest
window a rule can have are deleted as tries come, and past MAX_KEPT rows (an attacker with many addresses) the
oldest go.
"""

from __future__ import annotations

import math
import sqlite3

from kiosk.data.transactions import transaction

MAX_KEPT = 100_000  # rows: about 5 MB; past it the oldest tries are forgotten
LONGEST = 86_400  # seconds: the longest window a rule can have ("... per day")
SCHEMA = (
    "create table sign_in_tries (view text not null, address text not null, at real not null)",
    "create index sign_in_tries_by_address on sign_in_tries (view, address, at)",
    "create index sign_in_tries_by_time on sign_in_tries (at)",
)


def create_table(db: sqlite3.Connection) -> None:
    """Make the table (a migration of local.db or county.db calls it, inside its transaction)."""
    for statement in SCHEMA:
        db.execute(statement)


def take(db: sqlite3.Connection, view: str, address: str, limits: list[tuple[int, int]], now: float) -> int | None:
    """Count a try of *view* from *address* at *now* (seconds since the epoch) and return None; or, when a limit
    ((count, seconds), ...) is reached, count nothing and return the seconds until a try would be counted.

    One write transaction: two processes taking the last try of a window cannot both have it.
    """
    longest = max(seconds for _count, seconds in limits)
    with transaction(db):
        db.execute("delete from sign_in_tries where at <= ?", (now - LONGEST,))
        tries = [float(at) for (at,) in db.execute(
            "select at from sign_in_tries where view = ? and address = ? and at > ? order by at",
            (view, address, now - longest),
        )]  # fmt: skip
        waits = [tries[-count] + seconds - now for count, seconds in limits
                 if sum(1 for at in tries if at > now - seconds) >= count]  # fmt: skip
        if waits:
            return max(1, math.ceil(max(waits)))
        db.execute("insert into sign_in_tries (view, address, at) values (?, ?, ?)", (view, address, now))
        (kept,) = db.execute("select count(*) from sign_in_tries").fetchone()
        if kept > MAX_KEPT:
            db.execute(
                "delete from sign_in_tries where at <= (select at from sign_in_tries order by at limit 1 offset ?)",
                (kept - MAX_KEPT - 1,),
            )
    return None
