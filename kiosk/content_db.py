"""The installed content: opened read-only, once per request, from whichever version is current."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask, abort, current_app, g, render_template

from sync.install import current_database


class NoContent(Exception):
    """Nothing is installed yet."""


def get_db() -> sqlite3.Connection:
    """Return this request's read-only connection to the current content version."""
    if "content_db" not in g:
        path = current_database(Path(current_app.config["DATA_DIR"]))
        if path is None or not path.exists():
            raise NoContent()
        # Read-only: a bug in a view cannot change installed content (STYLE.md).
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        g.content_db = connection
    db: sqlite3.Connection = g.content_db
    return db


def close_db(_error: BaseException | None = None) -> None:
    connection = g.pop("content_db", None)
    if connection is not None:
        connection.close()


def _no_content(_error: NoContent) -> Any:
    return render_template("screens/no_content.html"), 503


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    app.register_error_handler(NoContent, _no_content)


def one_or_404(row: sqlite3.Row | None) -> sqlite3.Row:
    """Return *row*, or answer 404 when the item is not in this version."""
    if row is None:
        abort(404)
    return row
