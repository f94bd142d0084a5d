"""The villager screens: a Flask app built only by ``create_app``, on 127.0.0.1 by default."""

from __future__ import annotations

import sqlite3
from contextlib import suppress
from pathlib import Path
from typing import Any

from flask import Flask

from kiosk.web import base_app, csrf


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the kiosk app: settings from defaults and KIOSK_* variables, then *test_config*."""
    app = base_app(test_config, "secret_key", SESSION_COOKIE_SAMESITE="Strict")
    # Villagers never sign in, so a form (rate a service, print a slip) cannot prove who sent it: its
    # CSRF token proves it came from a page this kiosk rendered in this session, which keeps other
    # sites from posting through the kiosk's browser. It lives as long as the session, which the idle
    # reset ends.
    app.config.update(WTF_CSRF_TIME_LIMIT=None)
    # What villagers open and search for is counted here (unless USAGE_COUNTS is 0), never in the staff console's
    # or the studio's previews.
    app.config.setdefault("COUNT_LOOKS", bool(app.config["USAGE_COUNTS"]))
    csrf.init_app(app)
    data_dir = Path(app.config["DATA_DIR"])

    from kiosk.data import content_db
    from kiosk.data.local_db import open_local
    from kiosk.screens import feedback, filters, guides, slip, speech
    from kiosk.screens import views as screens
    from kiosk.screens.qr import forget_svg_codes

    try:
        open_local(data_dir).close()  # the village's own notices are read beside the county's content
    except sqlite3.OperationalError as error:  # a full disk: the county's content is still worth showing
        app.logger.warning("the kiosk's own database could not be prepared (%s); starting without changes to it", error)
    with suppress(OSError):  # a cache: a folder that cannot be tidied stays as it is
        forget_svg_codes(data_dir / "qr")
    content_db.init_app(app)
    filters.init_app(app)
    app.register_blueprint(screens.bp)
    app.register_blueprint(slip.bp)
    app.register_blueprint(speech.bp)
    app.register_blueprint(feedback.bp)
    app.register_blueprint(guides.bp)
    return app
