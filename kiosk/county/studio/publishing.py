"""Publishing from the studio: what is approved goes out to the kiosks, signed with the server's online keys.

The publisher sees the approved changes waiting; publishing validates the whole content folder as
`kiosk county validate` does (nothing is signed while it has a problem), then signs and publishes
what changed as `kiosk county publish` does, with the online keys the server was started with
(`kiosk county serve --keys`; the root keys stay offline). The result is each scope's count of
added, changed and removed items, the approved changes become published, the folder's history gets
a tag for the version, and the dashboard shows each kiosk's way to it. The folder is held (no
approval writes to it) from the validation to the signature.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, g, render_template
from flask.typing import ResponseReturnValue

from kiosk.county.reports import county_db
from kiosk.county.studio import changes
from kiosk.county.studio.access import can, content_dir, studio_page
from sync.authoring.history import History, HistoryError
from sync.contract.content import ContentInvalid
from sync.contract.source import SourceError
from sync.publish.changed_files import FolderPublish
from sync.publish.keys import SigningKeyError
from sync.publish.repository import Repository, RepositoryError

bp = Blueprint("studio_publish", __name__, url_prefix="/studio/publish")
MAX_PROBLEMS_SHOWN = 200


def _keys() -> Path | None:
    folder = current_app.config.get("KEYS_DIR")
    return Path(folder) if folder else None


@bp.route("")
@studio_page
def overview() -> ResponseReturnValue:
    if not can(g.account, "publish"):
        abort(403)
    waiting = changes.listed(county_db(), ("approved",))
    return render_template("studio/publish.html", waiting=waiting, keys=_keys() is not None, result=None,
                           problems=None, error=None)  # fmt: skip


@bp.route("", methods=["POST"])
@studio_page
def publish() -> ResponseReturnValue:
    if not can(g.account, "publish"):
        abort(403)
    folder, keys = content_dir() or abort(503), _keys()
    waiting = changes.listed(county_db(), ("approved",))
    shown = {"waiting": waiting, "keys": keys is not None, "result": None, "problems": None, "error": None}
    if keys is None:
        return render_template("studio/publish.html", **shown), 503
    history = History(folder)
    with history.lock():
        try:
            history.record_hand_edits()  # what is published is in the history, hand edits too
        except HistoryError as error:
            current_app.logger.error("studio: nothing published: %s", error)
            return render_template("studio/publish.html", **{**shown, "error": str(error)}), 500
        publishing = FolderPublish(folder, Path(current_app.config["DATA_DIR"]))  # its cache: sync/publish/
        try:
            county = publishing.load()
            result = publishing.publish(Repository(Path(current_app.config["REPO"]), keys))
        except ContentInvalid as invalid:
            problems = [str(problem) for problem in invalid.problems[:MAX_PROBLEMS_SHOWN]]
            return render_template("studio/publish.html", **{**shown, "problems": problems}), 422
        except SourceError as error:
            return render_template("studio/publish.html", **{**shown, "problems": [str(error)]}), 422
        except (RepositoryError, SigningKeyError) as error:
            return render_template("studio/publish.html", **{**shown, "error": str(error)}), 500
        finally:
            publishing.close()
        if result.version is not None:
            changes.mark_published(county_db(), result.version, g.account.name)
            try:
                history.tag(f"published-{result.version}")
            except HistoryError:
                current_app.logger.exception("version %s published, but its tag in the history failed", result.version)
    warnings = [str(warning) for warning in county.warnings[:MAX_PROBLEMS_SHOWN]]
    return render_template("studio/publish.html", **{**shown, "waiting": [], "result": result, "warnings": warnings})
