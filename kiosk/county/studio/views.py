"""The studio's item pages: the list of a kind's items (power items, notices, guides), and the form that
writes one as a draft.

The form is drawn from the kind's schema (sync.authoring.forms); a power item's steps and a
notice's text have their own parts, and a guide's answers choose where they lead from its questions
and endings (sync.authoring.guide_form). Saving makes or updates the item's draft
(kiosk/county/studio/changes.py): the folder itself changes only when a reviewer approves it. A
draft may be saved with problems, which are shown at their fields; it is submitted only without.
Buttons that edit the steps, add a row or put in a pasted table redraw the form, saving nothing.
"""

from __future__ import annotations

import re
from math import ceil
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from kiosk.county.reports import county_db
from kiosk.county.studio import changes, labels, photos
from kiosk.county.studio.access import can, check, content_dir, scope_of, studio_page
from kiosk.screens.flowchart import layout
from kiosk.staff.notice_views import FRAMED_POLICY, MAX_PHOTOS
from sync.authoring import forms, guide_form, items, steps
from sync.authoring.history import History
from sync.authoring.plan import unique_id
from sync.authoring.tables import markdown_table
from sync.contract.pinyin import slug
from sync.contract.procedure import FOUR_TWO_STEPS, expand_steps
from sync.contract.schemas import Problem

bp = Blueprint("studio", __name__, url_prefix="/studio")
PAGE = 50  # items a list shows at a time
SECTIONS = {"powers": items.KINDS["power"], "notices": items.KINDS["notice"], "guides": items.KINDS["guide"]}
SECTION = "<any(powers, notices, guides):section>"  # the page's name -> its kind, above
ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # content/schema's id pattern


def _path(kind: items.Kind, item_id: str) -> str:
    return f"{kind.folder}/{item_id}{kind.suffix}"


def file_name(path: str) -> str:
    """The name of an item's file without its ending, as its page's address has it (a guide's need not be its id)."""
    return path.rpartition("/")[2].rpartition(".")[0]


@bp.route(f"/{SECTION}")
@studio_page
def item_list(section: str) -> ResponseReturnValue:
    kind = SECTIONS[section]
    query = request.args.get("q", "").strip()[:40]
    found = items.listed(content_dir() or abort(503), kind)
    if kind.name == "guide":  # in the kiosk's order: its files'
        found = sorted(found, key=lambda item: item.path)
    if query:
        found = [item for item in found if query in item.title or query in item.id or query in item.category]
    pages = max(1, ceil(len(found) / PAGE))
    number = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    drafts = {change.path: change for change in changes.listed(county_db(), changes.OPEN)}
    shown = found[(number - 1) * PAGE : number * PAGE]
    return render_template("studio/items.html", items=shown, query=query, number=number, pages=pages,
                           count=len(found), drafts=drafts, section=section, kind=kind,
                           words=labels.SECTIONS)  # fmt: skip


@bp.route(f"/{SECTION}/new")
@studio_page
def item_new(section: str) -> ResponseReturnValue:
    kind = SECTIONS[section]
    start = {"steps": [{"id": "", "title": "", "actor": ""}]} if kind.name == "power" else {}
    return _form(kind, start, path="", change=None, base="")


@bp.route(f"/{SECTION}/<item_id>")
@studio_page
def item_edit(section: str, item_id: str) -> ResponseReturnValue:
    kind = SECTIONS[section]
    folder = content_dir() or abort(503)
    path = _path(kind, item_id)
    if not ID.fullmatch(item_id):
        abort(404)
    change = changes.open_change_of(county_db(), path)
    if change is not None and change.content is not None:  # its draft, and what is still to fix in it
        problems = check(path, change.content, kind.schema)
        data = items.parse_item(path, change.content)
        return _form(kind, data, path=path, change=change, base=change.base, problems=problems)
    if not (folder / path).is_file():
        abort(404)
    text, data = items.read_item(folder, path)
    problems = check(path, text, kind.schema)  # a file edited by hand may have some
    return _form(kind, data, path=path, change=None, base=History(folder).blob(path), problems=problems)


def _read(kind: items.Kind, form: Any) -> tuple[dict[str, Any], list[Problem]]:
    """The item the form posted: its fields, and a power item's steps or a notice's text and photos (those sent
    with the form stored); and why any photo sent was refused."""
    data = forms.read_form(items.schema_of(kind), form)
    if kind.name == "guide":
        data = guide_form.with_ids(data)
    if kind.name == "power":
        data["steps"] = steps.read_steps(form)
    refused: list[Problem] = []
    if kind.name == "notice":
        data[items.BODY] = forms.clean(form.get("body", ""), lines=True)[: changes.MAX_FILE_BYTES]
        data["photos"] = photos.kept_photos(form)
        refused = photos.add_uploads(data["photos"], request.files.getlist("new_photos"), form.get("path", ""))
        if not data["photos"]:
            del data["photos"]
    return data, refused


def _edited(kind: items.Kind, data: dict[str, Any], operation: str, form: Any) -> dict[str, Any]:
    """*data* after the form's button *operation*: a power item's steps edited, or a pasted table put in a notice."""
    if kind.name == "power":
        data["steps"] = steps.apply(data["steps"], operation)
    elif kind.name == "notice" and operation == "table" and (table := markdown_table(form.get("table", ""))):
        data[items.BODY] = f"{str(data.get(items.BODY, '')).rstrip()}\n\n{table}\n".lstrip()
    return data


@bp.route(f"/{SECTION}/save", methods=["POST"])
@studio_page
def item_save(section: str) -> ResponseReturnValue:
    kind = SECTIONS[section]
    folder = content_dir() or abort(503)
    form = request.form
    data, refused = _read(kind, form)
    change_id = form.get("change", type=int)
    change = changes.get(county_db(), change_id) if change_id else None
    if change_id and (change is None or not can(g.account, "edit", change.township)):
        abort(404)  # as its page is: another township's change is not this account's to see or save
    path, base = change.path if change else form.get("path", ""), form.get("base", "")
    if change and not change.path.startswith(f"{kind.folder}/"):
        abort(404)  # a change of another kind is saved on its own page
    if path and not (re.fullmatch(_path(kind, ID.pattern), path) and (change or (folder / path).is_file())):
        abort(404)  # the form names the item's own file; nothing else may reach a path
    if path and kind.name == "guide":  # its id stays as it was (the page does not offer it): addresses name it
        old = change.content if change and change.content is not None else items.text_of(folder, path)
        data["id"] = str(items.parse(old).get("id") or data.get("id") or file_name(path))
    elif path:  # its id names its file (the page does not offer it): one posted by hand would copy another item's
        data["id"] = file_name(path)
    operation = form.get("op", "")
    if operation:  # a button that edits the form: redraw it, save nothing
        return _form(kind, _edited(kind, data, operation, form), path=path, change=change, base=base,
                     problems=refused, reason=form.get("reason", ""),
                     revision=form.get("revision", type=int))  # fmt: skip
    if not path:  # a new item: its id from its name unless the clerk gave one; its file from its id
        taken = {item.id for item in items.listed(folder, kind)}
        given = str(data.get("id", ""))
        data = {"id": given or unique_id(slug(str(data.get(kind.title, ""))) or "item", set(taken)), **data}  # first
        path = _path(kind, str(data["id"]))
        if kind.name == "guide" and ID.fullmatch(str(data["id"])):
            path = guide_form.new_path(folder, str(data["id"]))
        if not ID.fullmatch(str(data["id"])):  # the id names the file: nothing else may reach the path
            said = _("An id has only lower-case letters, digits and hyphens, e.g. dibao-shenqing.")
            problems = [Problem(path, 1, "id", said)]
            return _form(kind, data, path="", change=None, base="", problems=problems, status=422)
        if given in taken or (folder / path).exists():
            problems = [Problem(path, 1, "id", _("There is already an item with this id: choose another."))]
            return _form(kind, data, path="", change=None, base="", problems=problems, status=422)
    before = items.township_in_folder(folder, path) if path else None  # as the folder has it, whatever the form says
    township = scope_of(before, items.township_of(folder, data))
    if not can(g.account, "edit", township):
        problems = [Problem(path, 1, "township", _("You work on the content of the township %(code)s only.",
                                                   code=g.account.township))]  # fmt: skip
        return _form(kind, data, path=path if change or base else "", change=change, base=base, problems=problems,
                     status=403)  # fmt: skip
    old = change.content if change and change.content is not None else items.text_of(folder, path)
    text = items.dump_notice(old, data) if kind.suffix == ".md" else items.dump_item(old, data, kind.schema)
    problems = refused + check(path, text, kind.schema)
    reason = form.get("reason", "").strip()[:500]
    try:
        with History(folder).lock():  # never while a reviewer approves this change (changes.approve)
            saved = changes.save_draft(
                county_db(), kind=kind.name, path=path, item_id=str(data.get("id", "")),
                title=str(data.get(kind.title, "")),
                township=township, base=change.base if change else base, content=text, author=g.account.name,
                reason=reason, change_id=change.id if change else None, revision=form.get("revision", 0, type=int),
            )  # fmt: skip
    except changes.ChangeError as error:
        return _form(kind, data, path=path, change=change, base=base, problems=[Problem(path, 1, "", str(error))],
                     status=409)  # fmt: skip
    if problems:
        flash(_("Saved as a draft, with problems to fix before it can be submitted."))
        return _form(kind, data, path=path, change=saved, base=saved.base, problems=problems, status=422)
    if form.get("submit"):
        changes.submit(county_db(), saved.id, g.account.name)
        flash(_("Submitted for review."))
        return redirect(url_for("studio_review.change", change_id=saved.id))
    flash(_("Saved as a draft."))
    return redirect(url_for("studio.item_edit", section=section, item_id=file_name(path)))


@bp.route("/flowchart", methods=["POST"])
@studio_page
def flowchart() -> ResponseReturnValue:
    """The procedure on the form, drawn as the kiosk draws it: for the form's frame, redrawn as the clerk types."""
    page = render_template("studio/flowchart_frame.html", chart=chart_of(steps.read_steps(request.form)))
    return page, {"Content-Security-Policy": FRAMED_POLICY}


def chart_of(listed_steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    try:
        return layout(expand_steps([step for step in listed_steps if step.get("id")]))
    except (KeyError, ValueError, TypeError, IndexError):
        return []  # a procedure too broken to draw: its problems say why


def problem_names(problems: list[Problem]) -> dict[str, list[str]]:
    """Each problem under the form name of its field ("steps[2].to" is steps.1.to), "" for the item's own."""
    named: dict[str, list[str]] = {}
    for problem in problems:
        name = re.sub(r"\[(\d+)\]", lambda m: f".{int(m.group(1)) - 1}", problem.field)
        named.setdefault(name, []).append(problem.message)
    return named


def _form(
    kind: items.Kind, data: dict[str, Any], *, path: str, change: changes.Change | None, base: str,
    problems: list[Problem] | None = None, reason: str = "", revision: int | None = None, status: int = 200,
) -> ResponseReturnValue:  # fmt: skip
    """The item's form holding *data*, its problems at their fields (the page's status: *status*)."""
    folder = content_dir() or abort(503)
    fields = forms.fields_of(items.schema_of(kind), data)
    listed_steps = [dict(step) for step in data.get("steps", [])]
    chart = chart_of(listed_steps)
    named = forms.at_fields(problem_names(problems or []), fields)
    page = render_template(
        "studio/item_form.html", kind=kind, section=next(s for s, k in SECTIONS.items() if k == kind),
        title=data.get(kind.title), body=data.get(items.BODY, ""), fields=fields, steps=listed_steps,
        targets=steps.targets(listed_steps), chart=chart,
        path=path, change=change, base=base, problems=named,
        steps_problems=any(name.startswith("steps") for name in named),
        reason=reason or (change.reason if change else ""),
        revision=revision if revision is not None else (change.revision if change else 0),
        labels=labels.labels_of(kind.name), hints=labels.HINTS, choice_labels=labels.CHOICES, then_labels=labels.THEN,
        words=labels.SECTIONS, row_titles=labels.ROWS, guide_targets=guide_form.targets(data),
        reference_names=guide_form.reference_names(folder) if kind.name == "guide" else {},
        then_of=steps.then_of, four_two_steps=FOUR_TWO_STEPS,
        places=items.places_named(folder), max_photos=MAX_PHOTOS,
    )  # fmt: skip
    return page, status
