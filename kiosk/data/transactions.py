"""One write transaction over any of the project's databases (local.db, county.db, or county.db on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar


class Executes(Protocol):
    """A sqlite3 connection, or one that speaks as one (kiosk/county/postgres.py)."""

    def execute(self, sql: str, /) -> object: ...


Database = TypeVar("Database", bound=Executes)


@contextmanager
def transaction(db: Database, kiosk: int | None = None) -> Iterator[Database]:
    """Run the block as one write transaction: every change in it happens, or none does.

    *kiosk*: the block writes only that kiosk's own rows, and counts that add up whatever the order (a report, an
    upload). On PostgreSQL such writes of different kiosks run at once, each waiting only for its own kiosk's and
    for the writes that are not a kiosk's (kiosk/county/postgres.py); SQLite runs one write at a time.

    Inside a transaction already (the caller's), the block is part of that one: it begins, commits and rolls back
    nothing itself, and what it writes is kept or lost with the rest.
    """
    if getattr(db, "in_transaction", False):
        yield db
        return
    begin = getattr(db, "begin_for_kiosk", None)
    if kiosk is not None and begin is not None:
        begin(kiosk)
    else:
        db.execute("begin immediate")
    try:
        yield db
    except BaseException:
        db.execute("rollback")
        raise
    db.execute("commit")
