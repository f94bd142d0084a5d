"""Template helpers shared by every screen."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from flask import Flask, render_template
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import gettext as _

from kiosk.screens.labels import CONTACT_KIND_LABELS, DOMAIN_LABELS, KIND_LABELS


def day(text: str | None) -> str:
    """Show a content date ('YYYY-MM-DD' or 'YYYY-MM-DD HH:MM') in the reader's language."""
    return _formatted_day(text, str(get_locale())) if text else ""


@lru_cache(maxsize=4096)
def _formatted_day(text: str, _locale: str) -> str:
    # Cached per language: Babel's formatter costs more than the rest of a list row.
    if len(text) == 10:
        return str(format_date(datetime.strptime(text, "%Y-%m-%d"), "long"))
    return str(format_datetime(datetime.strptime(text[:16], "%Y-%m-%d %H:%M"), "medium"))


def _not_found(_error: Any) -> Any:
    heading, text = _("Page not found"), _("This page is not in the kiosk's content. It may have been removed.")
    return render_template("screens/error.html", heading=heading, text=text), 404


def _server_error(_error: Any) -> Any:
    heading, text = _("Something went wrong"), _("Please go back to the home screen and try again.")
    return render_template("screens/error.html", heading=heading, text=text), 500


def init_app(app: Flask, error_pages: bool = True) -> None:
    app.add_template_filter(day)
    app.jinja_env.globals.update(
        domain_labels=DOMAIN_LABELS,
        contact_kind_labels=CONTACT_KIND_LABELS,
        kind_labels=KIND_LABELS,
        get_locale=get_locale,
    )
    if error_pages:
        app.register_error_handler(404, _not_found)
        app.register_error_handler(500, _server_error)
