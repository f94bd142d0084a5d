"""The village staff console: its own Flask app on its own listener (default 127.0.0.1:8081).

Nothing of it is reachable from the villager screens: a different app, port and session cookie.
Every form carries a CSRF token (Flask-WTF), sign-in is rate-limited (Flask-Limiter) and locks an
account after repeated failures (accounts.py), and a session ends after STAFF_IDLE_MINUTES idle.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from .. import base_app

MAX_REQUEST_BYTES = 80 * 1024 * 1024  # six phone photos and the text; more is cut off (413)
csrf = CSRFProtect()
limiter = Limiter(get_remote_address, storage_uri="memory://", headers_enabled=True)


def create_staff_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the staff console: settings from defaults and KIOSK_* variables, then *test_config*."""
    app = base_app(test_config, "staff_secret_key", SESSION_COOKIE_NAME="kiosk_staff", SESSION_COOKIE_SAMESITE="Strict")
    app.config.update(
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=app.config["STAFF_IDLE_MINUTES"]),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which expires when idle
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    csrf.init_app(app)
    limiter.init_app(app)

    from . import admin, auth, notice_views, pages

    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
    notice_views.register(app)
    from . import duties

    app.register_blueprint(duties.bp)
    return app
