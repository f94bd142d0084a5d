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
def transaction(db: Database) -> Iterator[Database]:
    """Run the block as one write transaction: every change in it happens, or none does."""
    db.execute("begin immediate")
    try:
        yield db
    except BaseException:
        db.execute("rollback")
        raise
    db.execute("commit")
