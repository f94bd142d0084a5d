"""The village staff console: its own Flask app on its own listener (default 127.0.0.1:8081).

Nothing of it is reachable from the villager screens: a different app, port and session cookie.
Every form carries a CSRF token (Flask-WTF), sign-in is rate-limited (Flask-Limiter) and locks an
account after repeated failures (accounts.py), and a session ends after STAFF_IDLE_MINUTES idle,
and on every device at once when the account signs out or gets a new password (its session epoch).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

from kiosk.web import base_app, csrf, limiter

MAX_REQUEST_BYTES = 80 * 1024 * 1024  # six phone photos and the text; more is cut off (413)


def signed_in_pages(app: Flask, name: Any, home: str, language: str) -> None:
    """Put accounts, sign-in and the admin pages on *app* (the staff console, or the county's dashboard).

    Accounts live in DATA_DIR/local.db (`kiosk staff add NAME --data DIR`). Every POST needs a CSRF
    token and sign-in is rate-limited; a session ends after STAFF_IDLE_MINUTES idle. *name* is
    the title every page's bar shows, *home* the endpoint it links to (and where sign-in leads),
    *language* the endpoint that switches language.
    """
    app.config.update(
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=app.config["STAFF_IDLE_MINUTES"]),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which expires when idle
    )
    app.extensions["console"] = {"name": name, "home": home, "language": language}
    app.jinja_env.globals["console"] = app.extensions["console"]
    csrf.init_app(app)
    limiter.init_app(app)
    from kiosk.staff import admin, auth

    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)


def create_staff_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the staff console: settings from defaults and KIOSK_* variables, then *test_config*."""
    app = base_app(test_config, "staff_secret_key", SESSION_COOKIE_NAME="kiosk_staff", SESSION_COOKIE_SAMESITE="Strict")
    app.config.update(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES)
    signed_in_pages(app, _l("Staff console"), home="pages.home", language="screens.switch_language")

    from kiosk.staff import notice_views, pages

    app.register_blueprint(pages.bp)
    notice_views.register(app)
    from kiosk.staff import duties, full_disk

    app.register_blueprint(duties.bp)
    full_disk.register(app)
    return app
