"""The county's content studio: forms, drafts, review and history of the county's content folder.

Clerks write or change an item in a form drawn from its schema (views.py); the draft waits in
county.db (changes.py) until a reviewer of its township approves it, which writes the file into the
content folder and records it in the folder's git history (sync/authoring/history.py); the county's own
files (files.py) and each year of the official calendar (calendar.py) are one form each; review.py
shows what waits, each change's difference and flowchart, and the history, where a change can be
taken back. Who may do what: access.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from sync.contract.i18n import speak_in

STATE_NAMES = {
    "draft": _l("draft"), "submitted": _l("submitted, waiting for review"), "returned": _l("sent back"),
    "approved": _l("approved, not yet published"), "published": _l("published"), "withdrawn": _l("withdrawn"),
}  # fmt: skip


def init_app(app: Flask) -> None:
    """Put the studio's pages on the county app (/studio/); start the content folder's history if there is one."""
    from kiosk.county.studio import calendar, files, imports, photos, preview, publishing, review, views
    from sync.authoring.history import History

    if app.config.get("CONTENT_DIR"):
        History(Path(app.config["CONTENT_DIR"])).start()  # a repository from the first start: every change recorded

    app.register_blueprint(views.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(imports.exports)
    app.register_blueprint(publishing.bp)
    app.register_blueprint(preview.bp)
    app.register_blueprint(files.bp)
    app.register_blueprint(photos.bp)
    app.register_blueprint(calendar.bp)

    @app.context_processor
    def _studio_words() -> dict[str, Any]:
        sections = {kind: section for section, (kind, _title) in files.SECTIONS.items()}
        return {"state_names": STATE_NAMES, "file_sections": sections}

    @app.before_request
    def _messages_in_the_readers_language() -> None:
        locale = get_locale()  # problems found by sync/ (validation, an import's rows) in the page's language
        speak_in(locale.language if locale else None)

    @app.teardown_request
    def _messages_as_before(_error: BaseException | None) -> None:
        speak_in(None)
