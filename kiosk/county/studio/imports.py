"""Excel in and out of the studio: a county's own small-power list or catalogue area (.xlsx), previewed,
then drafts; and the folder's list or an area written back out in the same layout (a download).

The file is read by the same code as `kiosk county import` (sync.authoring.importing): columns
found by their names and common variants, rows checked by the folder's own rules. The page shows
what would be new or changed and each row's problems in plain words. Making the drafts turns every
new or changed file into a draft of its own, problems and all, for the clerk to fix in the form and
submit; the content folder changes only as reviewers approve them. The uploaded file is kept in the
server's data folder between the preview and the drafts, and removed after (or a day later, if the
drafts are never made).
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
import tempfile
import time
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from kiosk.county.reports import county_db
from kiosk.county.studio import changes
from kiosk.county.studio.access import can, content_dir, scope_of, studio_page
from sync.authoring import items
from sync.authoring.history import History
from sync.authoring.importing import export, plan_import
from sync.authoring.plan import ImportPlan, render
from sync.authoring.sheets import SheetError
from sync.contract.files import atomic_write
from sync.contract.source import SourceError

bp = Blueprint("studio_import", __name__, url_prefix="/studio/import")
exports = Blueprint("studio_export", __name__, url_prefix="/studio/export")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FOLDER = "studio-imports"  # in the county server's data folder
TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")
PLACE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
KEPT_SECONDS = 24 * 3600  # a previewed table waits this long to be made into drafts
# Drafts one table makes at most: a county's small-power list has tens of matters, its catalogue 26 areas.
# A larger table (the command takes up to sheets.MAX_ROWS) would hold one request for minutes.
MAX_DRAFTS = 2_000


def _stored(token: str) -> Path:
    if not TOKEN.fullmatch(token):
        abort(404)
    path = Path(current_app.config["DATA_DIR"]) / FOLDER / f"{token}.xlsx"
    if not path.is_file():
        abort(404)
    return path


@bp.app_errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    """A file past the server's cap, refused before it is read (the sign-in and CSRF checks read the form first)."""
    if not request.path.startswith(bp.url_prefix or "/"):
        return error
    limit = int(request.max_content_length or 0) // (1024 * 1024)
    problem = _("The file is larger than %(mb)d MB: a list of a county's items is far smaller.", mb=limit)
    return render_template("studio/import.html", plan=None, problem=problem), 413


@bp.route("", methods=["GET", "POST"])
@studio_page
def upload() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("studio/import.html", plan=None, problem=None,
                               places=items.places_named(content_dir() or abort(503)))  # fmt: skip
    sheet = request.files.get("sheet")
    if sheet is None or not sheet.filename:
        return render_template("studio/import.html", plan=None, problem=_("Choose an .xlsx file first.")), 422
    token = secrets.token_urlsafe(24)
    stored = Path(current_app.config["DATA_DIR"]) / FOLDER / f"{token}.xlsx"
    stored.parent.mkdir(parents=True, exist_ok=True)
    _forget_old(stored.parent)
    atomic_write(stored, sheet.read())  # Flask capped the request (kiosk.county.REQUEST_BYTES) before reading it
    plan, problem = _plan(stored)
    if plan is None:
        stored.unlink(missing_ok=True)
        return render_template("studio/import.html", plan=None, problem=problem), 422
    name = Path(sheet.filename).name[:100]
    return render_template("studio/import.html", plan=plan, problem=None, token=token, name=name,
                           places=items.places_named(content_dir() or abort(503)))  # fmt: skip


def _forget_old(folder: Path) -> None:
    """Remove tables previewed but never made into drafts, after KEPT_SECONDS: abandoned uploads never pile up."""
    now = time.time()
    for old in folder.glob("*.xlsx"):
        with contextlib.suppress(OSError):  # another request may be removing it too
            if now - old.stat().st_mtime > KEPT_SECONDS:
                old.unlink()


def _plan(stored: Path) -> tuple[ImportPlan | None, str | None]:
    """The plan of the stored table, its new items placed where the form says (a township, a village or the county)."""
    try:
        plan = plan_import(stored, content_dir() or abort(503), request.form.get("area") or None)
    except SheetError as error:
        return None, str(error)
    if len(plan.items) > MAX_DRAFTS:
        return None, _("The table holds %(count)d items; the studio makes at most %(limit)d drafts from one table. "
                       "Split it into several files, or import it with kiosk county import.",
                       count=len(plan.items), limit=MAX_DRAFTS)  # fmt: skip
    kind, _sep, code = request.form.get("place", "").partition(":")
    if g.account.township and not kind:  # an account of one township imports for it
        kind, code = "township", g.account.township
    for item in plan.items:
        if item.action == "new" and item.entry_of is None and kind in ("township", "village") and PLACE.fullmatch(code):
            item.fields[kind] = code
    return plan, None


@bp.route("/<token>", methods=["POST"])
@studio_page
def make_drafts(token: str) -> ResponseReturnValue:
    stored = _stored(token)
    folder = content_dir() or abort(503)
    plan, problem = _plan(stored)
    if plan is None:
        flash(problem or "")
        return redirect(url_for("studio_import.upload"))
    name = request.form.get("name", "")[:100]
    planned = {item.path: item for item in plan.items}
    history = History(folder)
    drafts: list[changes.Draft] = []
    skipped: list[str] = []
    for path, text in render(plan, folder).items():
        kind, item = items.kind_of(path).name, planned[path]
        if kind == "catalogue":  # an area's file, holding many entries: named by its area
            fields = items.parse(text)
            item_id, title = Path(path).stem, str(fields.get("area") or item.label)
        else:
            fields = item.fields
            item_id, title = str(fields.get("id") or Path(path).stem), str(fields.get("name") or item.label)
        township = scope_of(items.township_in_folder(folder, path), items.township_of(folder, fields))
        if not can(g.account, "edit", township):
            skipped.append(f"{item.label}: " + _("You work on the content of the township %(code)s only.",
                                                 code=g.account.township))  # fmt: skip
            continue
        drafts.append(changes.Draft(kind, path, item_id, title, township, history.blob(path), text))
    made, refused = changes.save_drafts(county_db(), drafts, g.account.name, _("imported from %(file)s", file=name))
    skipped += [f"{planned[draft.path].label}: {message}" for draft, message in refused]
    stored.unlink(missing_ok=True)
    flash(_("%(made)d drafts made from the table; fix any problems in their forms, then submit them.", made=made))
    for message in skipped:
        flash(message)
    return redirect(url_for("studio_review.home"))


@exports.route("/powers.xlsx", defaults={"area": None})
@exports.route("/catalogue/<area>.xlsx")
@studio_page
def download(area: str | None) -> ResponseReturnValue:
    """The small-power list, or one area of the catalogue, as an Excel table in the layout the import reads."""
    folder = content_dir() or abort(503)
    if area is not None and area not in {found.title for found in items.listed(folder, items.KINDS["catalogue"])}:
        abort(404)
    with tempfile.TemporaryDirectory(prefix="studio-export-") as temporary:
        sheet = Path(temporary) / "export.xlsx"
        try:
            export(folder, sheet, area)
        except SourceError as error:  # a file of the folder with a problem: its list would be wrong
            flash(_("The table could not be written: %(problem)s", problem=error.message))
            return redirect(
                url_for("studio_files.catalogue") if area else url_for("studio.item_list", section="powers")
            )
        data = sheet.read_bytes()
    name = f"{area}.xlsx" if area else _("small-power-list.xlsx")
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=name)
