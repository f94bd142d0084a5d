"""The county server (DESIGN.md "county mode"): phone pages behind the kiosks' QR codes, the kiosks'
reports and uploads, and the county's dashboard. The signed repository beside it stays plain static
files; `serve` hands /metadata/ and /targets/ to kiosk.repo_server and the rest to this app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_babel import Babel, get_locale

from .. import secret_key, security_headers, select_locale
from ..repo_server import RepositoryApp
from ..settings import LOCALES, load_settings

WSGIApp = Callable[..., Iterable[bytes]]


def create_county_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the county server app; config REPO (the signed repository) and DATA_DIR (its own state)."""
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.from_mapping(load_settings())
    if test_config:
        app.config.update(test_config)
    data_dir = Path(app.config["DATA_DIR"])
    app.config["SECRET_KEY"] = app.config.get("SECRET_KEY") or secret_key(data_dir, "county_secret_key")
    app.config.update(SESSION_COOKIE_NAME="kiosk_county", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(Path(__file__).parent.parent / "translations"))
    Babel(app, locale_selector=select_locale)
    app.after_request(security_headers)
    app.jinja_env.globals.update(
        locales=LOCALES, get_locale=get_locale, request_path=lambda: request.full_path.rstrip("?")
    )
    from .. import filters

    filters.init_app(app, error_pages=False)
    from . import mobile, reports

    app.register_blueprint(mobile.bp)
    app.register_blueprint(reports.bp)
    return app


class CountyServer:
    """WSGI: the signed repository's files as static files, everything else to the county app."""

    STATIC = ("/metadata/", "/targets/")

    def __init__(self, repo: Path, app: WSGIApp) -> None:
        self.files = RepositoryApp(repo)
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(self.STATIC):
            return self.files(environ, start_response)
        return self.app(environ, start_response)
