"""The county server: phone pages behind the kiosks' QR codes, the kiosks'
reports and uploads, and the county's dashboard. The signed repository beside it stays plain static
files; `serve` hands /metadata/ and /targets/ to kiosk.county.repo_files and the rest to this app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask, current_app, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l

from kiosk.county.repo_files import RepositoryApp
from kiosk.settings import waitress_proxy_options
from kiosk.staff import MAX_REQUEST_BYTES
from kiosk.web import base_app

WSGIApp = Callable[..., Iterable[bytes]]
# Twice the kiosks' API's own cap (reports.MAX_BODY), so a kiosk's too-large batch still gets the API's answer.
REQUEST_BYTES = 4 * 1024 * 1024
PHOTOS_REQUEST_BYTES = MAX_REQUEST_BYTES  # the staff console's: six phone photos and the text
ROLES = {  # kiosk.data.accounts.COUNTY_ROLES, as the admin page offers them
    "staff": _l("staff: the dashboard"),
    "editor": _l("editor: writes and imports content in the studio, and submits it"),
    "reviewer": _l("reviewer: also approves or sends back what editors submit"),
    "publisher": _l("publisher: also publishes what is approved"),
    "admin": _l("admin: all of these, and the accounts and the audit log"),
}


def create_county_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the county server app; config REPO (the signed repository), DATA_DIR (its own state) and,
    for the studio, CONTENT_DIR (the county's content folder)."""
    app = base_app(
        test_config, "county_secret_key", SESSION_COOKIE_NAME="kiosk_county", SESSION_COOKIE_SAMESITE="Strict"
    )
    from kiosk.county import dashboard, guard, looked_for_page, mobile, releases, reports, studio
    from kiosk.screens import filters
    from kiosk.staff import signed_in_pages
    from kiosk.web import csrf

    filters.init_app(app, error_pages=False)
    # The dashboard's accounts are in county.db (kiosk/county/dashboard_accounts.py): no local.db here.
    signed_in_pages(app, _l("County dashboard"), home="dashboard.kiosks", language="dashboard.switch_language",
                    accounts_db=reports.county_db, roles=ROLES)  # fmt: skip

    # The largest body any page takes: a notice's form in the studio with its photos. Anything past it is
    # refused before it is read (waitress's max_request_body_size in serve_options takes the same cap); every
    # other page takes at most REQUEST_BYTES (_cap_request).
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_CONTENT_LENGTH"] or PHOTOS_REQUEST_BYTES
    app.before_request_funcs.setdefault(None, []).insert(0, _cap_request)  # before anything reads a form
    guard.init_app(app)
    app.register_blueprint(mobile.bp)
    app.register_blueprint(reports.bp)
    csrf.exempt(reports.bp)  # kiosks sign each request with their own key instead: there is no session to ride
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(releases.bp)
    app.register_blueprint(looked_for_page.bp)
    studio.init_app(app)
    app.add_url_rule("/", "front", lambda: redirect(url_for("dashboard.kiosks")))
    return app


def _cap_request() -> None:
    """Hold every request but a studio form with photos to REQUEST_BYTES (or the app's own cap, if lower).

    A form with photos takes more only from a signed-in session: the CSRF check reads the whole form
    before the page can turn away a stranger."""
    from kiosk.county.studio import photos

    signed_in = session.get("account_id") is not None  # the cookie only: the body is not read yet
    if not signed_in or (request.endpoint, (request.view_args or {}).get("section")) not in photos.FORMS:
        request.max_content_length = min(REQUEST_BYTES, int(current_app.config["MAX_CONTENT_LENGTH"]))


def serve_options(config: dict[str, Any]) -> dict[str, Any]:
    """Return waitress's options for the county app built with *config*: its body cap, and the proxy in front."""
    # waitress refuses a body of max_request_body_size bytes or more, from its Content-Length, unread.
    return {"max_request_body_size": int(config["MAX_CONTENT_LENGTH"]) + 1, **waitress_proxy_options(config)}


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
