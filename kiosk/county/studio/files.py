"""The county's own files in the studio: contacts, the ten ones and the disclosure duties, each one form.

Each is one file of the county (contacts.yaml, ten_ones.yaml, duties.yaml) holding a list of entries;
its form is drawn from its schema, a row per entry (an empty row to add one; emptying a row removes
it), and saving makes a draft of the whole file, reviewed and approved like an item's. These files
serve every township, so only an account of the whole county edits them. The file's comments stay
with the entries they are written beside (sync.authoring.items.dump_item).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kiosk.county.reports import county_db
from kiosk.county.studio import changes, labels
from kiosk.county.studio.access import can, content_dir, studio_page
from kiosk.county.studio.views import problem_names
from sync.authoring import forms, items
from sync.authoring.history import History
from sync.contract.schemas import Problem

bp = Blueprint("studio_files", __name__, url_prefix="/studio/county")
SECTIONS = {  # the page's name -> the kind, and its title
    "contacts": ("contacts", _l("Contacts and supervision phones")),
    "ten-ones": ("ten_ones", _l("The ten ones")),
    "duties": ("duties", _l("Disclosure duties")),
}


def _kind(section: str) -> tuple[items.Kind, Any]:
    if section not in SECTIONS:
        abort(404)
    name, title = SECTIONS[section]
    if not can(g.account, "edit", ""):  # the county's own files: for accounts of the whole county
        abort(403)
    return items.KINDS[name], title


@bp.route("/<section>")
@studio_page
def edit(section: str) -> ResponseReturnValue:
    kind, _title = _kind(section)
    folder = content_dir() or abort(503)
    change = changes.open_change_of(county_db(), kind.file)
    if change is not None and change.content is not None:
        problems = items.check(folder, kind.file, change.content, kind.schema)
        return _form(section, items.parse(change.content), change=change, base=change.base, problems=problems)
    if not (folder / kind.file).is_file():
        return _form(section, {}, change=None, base="")
    text, data = items.read_item(folder, kind.file)
    problems = items.check(folder, kind.file, text, kind.schema)
    return _form(section, data, change=None, base=History(folder).blob(kind.file), problems=problems)


@bp.route("/<section>", methods=["POST"])
@studio_page
def save(section: str) -> ResponseReturnValue:
    kind, title = _kind(section)
    folder = content_dir() or abort(503)
    form = request.form
    data = forms.read_form(items.schema_of(kind), form)
    change = changes.open_change_of(county_db(), kind.file)
    base = change.base if change else form.get("base", "")
    old = change.content if change and change.content is not None else _text(folder / kind.file)
    text = items.dump_item(old, data, kind.schema)
    problems = items.check(folder, kind.file, text, kind.schema)
    try:
        saved = changes.save_draft(
            county_db(), kind=kind.name, path=kind.file, item_id=kind.name, title=str(title), township="",
            base=base, content=text, author=g.account.name, reason=form.get("reason", "").strip()[:500],
            change_id=change.id if change else None, revision=form.get("revision", 0, type=int),
        )  # fmt: skip
    except changes.ChangeError as error:
        return _form(section, data, change=change, base=base, problems=[Problem(kind.file, 1, "", str(error))],
                     status=409)  # fmt: skip
    if problems:
        flash(_("Saved as a draft, with problems to fix before it can be submitted."))
        return _form(section, data, change=saved, base=saved.base, problems=problems, status=422)
    if form.get("submit"):
        changes.submit(county_db(), saved.id, g.account.name)
        flash(_("Submitted for review."))
        return redirect(url_for("studio_review.change", change_id=saved.id))
    flash(_("Saved as a draft."))
    return redirect(url_for("studio_files.edit", section=section))


def _text(file: Any) -> str:
    return str(file.read_text(encoding="utf-8-sig")) if file.is_file() else ""


def _form(
    section: str, data: dict[str, Any], *, change: changes.Change | None, base: str,
    problems: list[Problem] | None = None, status: int = 200,
) -> ResponseReturnValue:  # fmt: skip
    kind, title = _kind(section)
    page = render_template(
        "studio/file_form.html", section=section, title=title, fields=forms.fields_of(items.schema_of(kind), data),
        change=change, base=base, problems=problem_names(problems or []), labels=labels.LABELS, hints=labels.HINTS,
        choice_labels=labels.CHOICES,
        revision=change.revision if change else 0, reason=change.reason if change else "",
        places=items.places_named(content_dir() or abort(503)),
    )  # fmt: skip
    return page, status
