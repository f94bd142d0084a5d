"""The village staff console: its own Flask app on its own listener (default 127.0.0.1:8081).

Nothing of it is reachable from the villager screens: a different app, port and session cookie.
Every form carries a CSRF token (Flask-WTF), sign-in is rate-limited (staff/limiter.py) and locks an
account after repeated failures (accounts.py), and a session ends after STAFF_IDLE_MINUTES idle,
and on every device at once when the account signs out or gets a new password (its session epoch).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

from kiosk.web import base_app, csrf

MAX_REQUEST_BYTES = 80 * 1024 * 1024  # six phone photos and the text; more is cut off (413)


STAFF_ROLES = {"staff": _l("staff: notices and duties"), "admin": _l("admin: also accounts and the audit log")}


def signed_in_pages(
    app: Flask, name: Any, home: str, language: str, accounts_db: Callable[[], sqlite3.Connection],
    roles: dict[str, Any] = STAFF_ROLES,
) -> None:  # fmt: skip
    """Put accounts, sign-in and the admin pages on *app* (the staff console, or the county's dashboard).

    Accounts live in the database *accounts_db* returns for the request, migrated already: the
    kiosk's local.db (`kiosk staff add`), or the county's county.db (`kiosk county add-account`).
    Every POST needs a CSRF token and sign-in is rate-limited; a session ends after
    STAFF_IDLE_MINUTES idle. *name* is the title every page's bar shows, *home* the endpoint it
    links to (and where sign-in leads), *language* the endpoint that switches language, *roles* the
    roles an admin may give (each with what it may do, as the admin page says it).
    """
    app.config.update(
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=app.config["STAFF_IDLE_MINUTES"]),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which expires when idle
    )
    app.extensions["console"] = {"name": name, "home": home, "language": language, "roles": roles}
    app.jinja_env.globals["console"] = app.extensions["console"]
    app.extensions["accounts_db"] = accounts_db
    csrf.init_app(app)
    from kiosk.staff import admin, auth

    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)


def create_staff_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the staff console: settings from defaults and KIOSK_* variables, then *test_config*."""
    app = base_app(test_config, "staff_secret_key", SESSION_COOKIE_NAME="kiosk_staff", SESSION_COOKIE_SAMESITE="Strict")
    app.config.update(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES)
    from kiosk.data.local_db import open_local
    from kiosk.staff import auth, notice_views, pages

    open_local(Path(app.config["DATA_DIR"])).close()  # migrated once here; requests open it as it is
    signed_in_pages(app, _l("Staff console"), home="pages.home", language="screens.switch_language",
                    accounts_db=auth.local_db)  # fmt: skip

    app.register_blueprint(pages.bp)
    notice_views.register(app)
    from kiosk.staff import duties, full_disk, workdays

    app.register_blueprint(duties.bp)
    full_disk.register(app)
    workdays.init_app(app)
    return app
