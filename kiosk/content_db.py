"""The installed content, read-only: each request reads the version current when it began."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, render_template

from sync.install import current_database

from .local_db import path_of


class NoContent(Exception):
    """Nothing is installed yet."""


# Each server thread keeps its connection to the current version between requests, so SQLite's
# page cache stays warm; a request that finds another version current reopens (decision 4).
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
    # Read-only: a bug in a view cannot change installed content (STYLE.md).
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    # The village's own notices (staff console) live beside it in local.db, read-only here too.
    connection.execute("attach database ? as local", (f"file:{path_of(data_dir)}?mode=ro",))
    return connection


def get_db() -> sqlite3.Connection:
    """Return a read-only connection to the version that was current when this request began."""
    if "content_db" not in g:
        data_dir = Path(current_app.config["DATA_DIR"])
        path = current_database(data_dir)
        if path is None or not path.exists():
            raise NoContent()
        g.content_db = _connection_to(path, data_dir)
    db: sqlite3.Connection = g.content_db
    return db


def close_db(_error: BaseException | None = None) -> None:
    """Forget the connection at the end of a request; the thread keeps it for the next one."""
    g.pop("content_db", None)


def _no_content(_error: NoContent) -> Any:
    return render_template("screens/no_content.html"), 503


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    app.register_error_handler(NoContent, _no_content)


Found = TypeVar("Found")


def one_or_404(row: Found | None) -> Found:
    """Return *row*, or answer 404 when the item is not in this version."""
    if row is None:
        abort(404)
    return row
