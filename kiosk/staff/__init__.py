"""The village staff console: its own Flask app on its own listener (default 127.0.0.1:8081).

Nothing of it is reachable from the villager screens: a different app, port and session cookie.
Every form carries a CSRF token (Flask-WTF), sign-in is rate-limited (Flask-Limiter) and locks an
account after repeated failures (accounts.py), and a session ends after STAFF_IDLE_MINUTES idle.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_babel import Babel, get_locale
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from .. import secret_key, security_headers, select_locale
from ..settings import LOCALES, load_settings

MAX_REQUEST_BYTES = 80 * 1024 * 1024  # six phone photos and the text; more is cut off (413)
csrf = CSRFProtect()
limiter = Limiter(get_remote_address, storage_uri="memory://", headers_enabled=True)


def create_staff_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the staff console: settings from defaults and KIOSK_* variables, then *test_config*."""
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.from_mapping(load_settings())
    if test_config:
        app.config.update(test_config)
    data_dir = Path(app.config["DATA_DIR"])
    app.config["SECRET_KEY"] = app.config.get("SECRET_KEY") or secret_key(data_dir, "staff_secret_key")
    app.config.update(
        SESSION_COOKIE_NAME="kiosk_staff",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=app.config["STAFF_IDLE_MINUTES"]),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which expires when idle
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(Path(__file__).parent.parent / "translations"))
    Babel(app, locale_selector=select_locale)
    csrf.init_app(app)
    limiter.init_app(app)

    from . import admin, auth, notice_views, pages

    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
    notice_views.register(app)
    from . import duties

    app.register_blueprint(duties.bp)
    app.after_request(security_headers)
    app.jinja_env.globals.update(
        locales=LOCALES, get_locale=get_locale, request_path=lambda: request.full_path.rstrip("?")
    )
    return app
