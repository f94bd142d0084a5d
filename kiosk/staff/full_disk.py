"""A full disk while staff save: the page says so plainly and keeps what they typed, never a 500.

The notice forms catch it themselves and show the form again with the text in it; any other save
(duties, accounts) gets a page that says nothing was saved and sends them back to their form.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from pathlib import Path

from flask import Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from kiosk.data.local_db import disk_low

log = logging.getLogger(__name__)
INSUFFICIENT_STORAGE = 507  # RFC 4918: the server cannot store what is needed to complete the request
DISK_FULL = _l(
    "The kiosk's disk is full, so nothing was saved. What you typed is still below: keep this page open, ask"
    " whoever looks after the kiosk to free some space, then save again."
)


def is_disk_full(error: BaseException) -> bool:
    """Tell whether *error* is SQLite's or the file system's way of saying the disk is full."""
    if isinstance(error, sqlite3.OperationalError):
        code = getattr(error, "sqlite_errorcode", None)
        # On a nearly full disk local.db is opened read-only (local_db._connect): a write then fails as such.
        read_only = code == sqlite3.SQLITE_READONLY and disk_low(Path(current_app.config["DATA_DIR"]))
        return code == sqlite3.SQLITE_FULL or "disk is full" in str(error) or read_only
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def noted(error: BaseException) -> bool:
    """Return whether *error* is a full disk, logging it for whoever looks after the kiosk when it is."""
    if not is_disk_full(error):
        return False
    log.warning("a staff save on %s failed, the disk is full: %s", request.path, error)
    return True


def register(app: Flask) -> None:
    """Answer a full disk anywhere in the console with a page that says so (507), not a 500."""
    app.register_error_handler(sqlite3.OperationalError, _disk_full_page)
    app.register_error_handler(OSError, _disk_full_page)


def _disk_full_page(error: Exception) -> ResponseReturnValue:
    if not noted(error):
        raise error  # anything else goes on to Flask's own handling (a logged 500)
    return render_template("staff/disk_full.html"), INSUFFICIENT_STORAGE
