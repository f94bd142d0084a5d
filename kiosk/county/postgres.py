"""county.db on PostgreSQL: the interface of Python's sqlite3 that the county's code uses, over psycopg (issue 18).

The county server's code talks to its database as to sqlite3: ``db.execute(sql, params)`` with ``?`` or
``:name`` parameters, rows read by index or by column name, ``rowcount``, ``transaction()`` (kiosk/data/
transactions.py) and sqlite3's exceptions. A connection from ``connect`` speaks the same to PostgreSQL:

- parameters are rewritten to psycopg's (``%s``, ``%(name)s``) outside quotes, and every other ``%`` doubled;
- ``begin immediate`` (a write transaction) begins one and takes one transaction-wide advisory lock, so that
  write transactions run one at a time across every process, as SQLite runs them: a read and the write that
  depends on it (an enrolment code, the last admin, a draft's revision) hold on both;
- a write of one kiosk's own rows (``transaction(db, kiosk=id)``: its report, its upload) shares that lock with
  the other kiosks' and takes one of its kiosk alone: the kiosks' writes run side by side, and their commits
  share the disk's flushes, while every other write still runs alone;
- psycopg's errors are raised as sqlite3's (IntegrityError, OperationalError, DatabaseError), with the
  original as their cause.

Only this module imports psycopg, and only a county server whose KIOSK_COUNTY_DATABASE_URL names PostgreSQL
loads it (the package's `postgres` extra).
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.abc import Buffer
from psycopg.rows import RowMaker

WRITE_LOCK = 0x6B696F736B  # the advisory lock every write transaction takes ("kiosk")
KIOSK_LOCKS = 0x6B696F  # the space of one kiosk's own lock, beside its id
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|\?|:[A-Za-z_]\w*|%")
_BEGIN_WRITE = "begin immediate"  # kiosk/data/transactions.py


@functools.lru_cache(maxsize=1024)
def translated(sql: str) -> str:
    """Return *sql* with sqlite3's parameters as psycopg's (outside quotes), and every ``%`` doubled (psycopg reads
    one anywhere, quotes included, as the start of a parameter)."""

    def token(found: re.Match[str]) -> str:
        text = found[0]
        if text == "?":
            return "%s"
        if text.startswith(":") and text != "::":
            return f"%({text[1:]})s"
        return text.replace("%", "%%")  # a quoted string or name, a cast, or a % of its own

    return _TOKENS.sub(token, sql)


class Row(Sequence[Any]):
    """A row read by index or by column name, as sqlite3.Row."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: Sequence[Any]) -> None:
        self._names, self._values = names, values

    def __getitem__(self, key: Any) -> Any:
        return self._values[self._names[key]] if isinstance(key, str) else self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Row) and tuple(self._values) == tuple(other._values) and self._names == other._names

    def __hash__(self) -> int:
        return hash(tuple(self._values))

    def keys(self) -> list[str]:
        return list(self._names)


def _rows(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    names = {column.name: n for n, column in enumerate(cursor.description or ())}
    return lambda values: Row(names, values)


class Cursor:
    """What ``execute`` returns: its rows, and how many rows it changed."""

    def __init__(self, cursor: psycopg.Cursor[Row]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self) -> Row | None:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Row]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


class Connection:
    """A PostgreSQL connection that county code uses as a sqlite3 connection (autocommit, as county.db's are)."""

    def __init__(self, connection: psycopg.Connection[Row]) -> None:
        self._connection = connection

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()) -> Cursor:
        cursor = self._connection.cursor()
        if sql.strip().lower() == _BEGIN_WRITE:
            self._begin(f"select pg_advisory_xact_lock({WRITE_LOCK:d})")
            return Cursor(cursor)
        with _as_sqlite3_errors():
            cursor.execute(translated(sql), parameters)
        return Cursor(cursor)

    def _begin(self, lock: str) -> None:
        """Begin a transaction and take its *lock* (a statement of numbers only), in one round trip: sent as one
        simple query, both or neither run. If the lock is not had (a lock timeout), the transaction is ended."""
        with _as_sqlite3_errors():
            try:
                self._connection.execute(f"begin; {lock}".encode(), prepare=False)
            except psycopg.Error:
                if self.in_transaction:
                    self._connection.execute("rollback")
                raise

    def begin_for_kiosk(self, kiosk: int) -> None:
        """Begin a write transaction of one kiosk's own rows (kiosk/data/transactions.py)."""
        self._begin(f"select pg_advisory_xact_lock_shared({WRITE_LOCK:d}), pg_advisory_xact_lock({KIOSK_LOCKS:d},"
                    f" {int(kiosk):d})")  # fmt: skip

    def executemany(self, sql: str, rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Cursor:
        cursor = self._connection.cursor()
        with _as_sqlite3_errors():
            cursor.executemany(translated(sql), rows)
        return Cursor(cursor)

    def commit(self) -> None:
        """Nothing to commit outside transaction() (autocommit, as county.db's sqlite3 connections)."""
        self._connection.commit()

    def close(self) -> None:
        self._connection.close()

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open, as sqlite3's."""
        return self._connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def reusable(self) -> bool:
        """Whether a kept connection can serve the next request: open, and not in a transaction (one a failed
        request left open is rolled back)."""
        if self._connection.closed or self._connection.broken:
            return False
        if self.in_transaction:
            try:
                self._connection.rollback()
            except psycopg.Error:
                return False
        return True


@contextmanager
def _as_sqlite3_errors() -> Iterator[None]:
    try:
        yield
    except psycopg.IntegrityError as error:
        raise sqlite3.IntegrityError(str(error)) from error
    except psycopg.OperationalError as error:
        raise sqlite3.OperationalError(str(error)) from error
    except psycopg.Error as error:
        raise sqlite3.DatabaseError(str(error)) from error


class _NumberLoader(psycopg.adapt.Loader):
    """numeric (what sum() of integers gives) as sqlite3 gives numbers: an int when whole, else a float."""

    def load(self, data: Buffer) -> int | float:
        number = Decimal(bytes(data).decode())
        return int(number) if number == number.to_integral_value() else float(number)


def connect(url: str, read_only: bool = False) -> Connection:
    """Open the PostgreSQL database *url* (postgresql://user@host:port/name) as county code uses county.db
    (*read_only*: every transaction on it is refused a write)."""
    with _as_sqlite3_errors():
        connection = psycopg.connect(url, autocommit=True, row_factory=_rows)
    connection.adapters.register_loader("numeric", _NumberLoader)
    if read_only:
        connection.execute("set default_transaction_read_only = on")
    return Connection(connection)
