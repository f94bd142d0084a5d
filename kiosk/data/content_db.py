"""The installed content, read-only: each request reads the version current when it began."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, abort, current_app, redirect, render_template, request
from werkzeug.exceptions import InternalServerError

from kiosk.data import queries
from kiosk.data.local_db import path_of
from kiosk.web import opened_request_db, request_db
from sync.receive.install import mark_damaged, readable_content

log = logging.getLogger(__name__)
CACHE_KB = 256  # SQLite's page cache of each connection, each database


class NoContent(Exception):
    """Nothing is installed yet."""


class ContentDamaged(NoContent):
    """Every installed version is damaged: the next sync installs the content again."""


# Each server thread keeps its connection to the current version between requests, so SQLite's
# page cache stays warm; a request that finds another version current reopens.
_per_thread = threading.local()


def _connection_to(path: Path, data_dir: Path) -> sqlite3.Connection:
    held: tuple[Path, sqlite3.Connection] | None = getattr(_per_thread, "held", None)
    if held is not None and held[0] == path:
        return held[1]
    if held is not None:
        held[1].close()
    connection = open_content(path, data_dir)
    _per_thread.held = (path, connection)
    return connection


def open_content(path: Path, data_dir: Path) -> sqlite3.Connection:
    """Open an installed version read-only, with the village's own data (local.db) attached read-only."""
    # Read-only: a bug in a view cannot change installed content.
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    # The village's own notices (staff console) live beside it in local.db, read-only here too.
    local = path_of(data_dir)
    try:
        connection.execute("attach database ? as local", (f"file:{local}?mode=ro",))
    except sqlite3.OperationalError as error:
        # A reader of a WAL database needs local.db-shm, which a full disk may not let it make: read
        # the file as it is instead (changes still in the WAL wait until there is room).
        log.warning("reading %s without its WAL (%s): is the disk full?", local, error)
        connection.execute("attach database ? as local", (f"file:{local}?mode=ro&immutable=1",))
    # Each server thread holds one (SQLite's default page cache is 2 MB a database): the operating system
    # caches the files for all of them, and a page costs a copy from it (issue 17: the screens' memory).
    for schema in ("main", "local"):
        connection.execute(f"pragma {schema}.cache_size = -{CACHE_KB}")
    return connection


def get_db() -> sqlite3.Connection:
    """Return a read-only connection to the version that was current when this request began."""
    # Not closed when the request ends: the thread keeps it for the next one.
    return request_db("content", _current_version, close=False)


def content_meta() -> dict[str, str]:
    """Return the meta table (village, version, time zone, ...) of this request's content: not to be changed.

    Read once per version and server thread: a page asked for it three or four times (its heading, its QR code,
    the time), and a version's content never changes.
    """
    db = get_db()
    kept: tuple[sqlite3.Connection, dict[str, str]] | None = getattr(_per_thread, "meta", None)
    if kept is None or kept[0] is not db:
        kept = _per_thread.meta = (db, queries.meta(db))
    return kept[1]


def _current_version() -> sqlite3.Connection:
    data_dir = Path(current_app.config["DATA_DIR"])
    # The current version, or the previous one (N-1) if the current is damaged.
    readable = readable_content(data_dir)
    if readable.path is None:
        raise ContentDamaged() if readable.damaged else NoContent()
    return _connection_to(readable.path, data_dir)


def _no_content(error: NoContent) -> Any:
    return render_template("screens/no_content.html", repairing=isinstance(error, ContentDamaged)), 503


def _damaged_on_read(error: sqlite3.DatabaseError) -> Any:
    """A version that looked intact failed a read: if its pages are damaged, show the previous version."""
    held: tuple[Path, sqlite3.Connection] | None = getattr(_per_thread, "held", None)
    corrupt = getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    if held is None or not corrupt or opened_request_db("content") is None or request.method != "GET":
        current_app.logger.exception("a database read failed: %s", error)
        return InternalServerError()
    path, connection = held
    try:
        damaged = connection.execute("pragma main.quick_check").fetchone()[0] != "ok"  # not local.db
    except sqlite3.DatabaseError:
        damaged = True
    if not damaged:  # the damage is in local.db, not in the county's content
        current_app.logger.exception("a database read failed: %s", error)
        return InternalServerError()
    mark_damaged(path)
    connection.close()
    _per_thread.held = None
    return redirect(request.full_path.rstrip("?"), 303)  # read again, from the previous version


def init_app(app: Flask) -> None:
    app.register_error_handler(NoContent, _no_content)
    app.register_error_handler(sqlite3.DatabaseError, _damaged_on_read)


Found = TypeVar("Found")


def one_or_404(row: Found | None) -> Found:
    """Return *row*, or answer 404 when the item is not in this version."""
    if row is None:
        abort(404)
    return row
