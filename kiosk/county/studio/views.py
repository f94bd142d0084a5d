"""The studio's item pages: the list of a kind's items, and the form that writes one as a draft.

The form is drawn from the kind's schema (sync.authoring.forms). Saving makes or updates the item's
draft (kiosk/county/studio/changes.py): the folder itself changes only when a reviewer approves it.
A draft may be saved with problems, which are shown at their fields; it is submitted only without.
Buttons that edit the steps or add a row redraw the form, saving nothing.
"""

from __future__ import annotations

import re
from math import ceil
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from kiosk.county.reports import county_db
from kiosk.county.studio import changes, labels
from kiosk.county.studio.access import can, content_dir, scope_of, studio_page
from kiosk.screens.flowchart import layout
from kiosk.staff.notice_views import FRAMED_POLICY
from sync.authoring import forms, items, steps
from sync.authoring.history import History
from sync.authoring.plan import unique_id
from sync.contract.pinyin import slug
from sync.contract.procedure import expand_steps
from sync.contract.schemas import Problem

bp = Blueprint("studio", __name__, url_prefix="/studio")
PAGE = 50  # items a list shows at a time
KIND = items.KINDS["power"]
ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # content/schema's id pattern
PATH = re.compile(rf"{KIND.folder}/{ID.pattern}\.yaml")


@bp.route("/powers")
@studio_page
def power_list() -> ResponseReturnValue:
    query = request.args.get("q", "").strip()[:40]
    found = items.listed(content_dir() or abort(503), KIND)
    if query:
        found = [item for item in found if query in item.title or query in item.id or query in item.category]
    pages = max(1, ceil(len(found) / PAGE))
    number = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    drafts = {change.path: change for change in changes.listed(county_db(), changes.OPEN)}
    shown = found[(number - 1) * PAGE : number * PAGE]
    return render_template("studio/items.html", items=shown, query=query, number=number, pages=pages,
                           count=len(found), drafts=drafts)  # fmt: skip


@bp.route("/powers/new")
@studio_page
def power_new() -> ResponseReturnValue:
    return _form({"steps": [{"id": "", "title": "", "actor": ""}]}, path="", change=None, base="")


@bp.route("/powers/<item_id>")
@studio_page
def power_edit(item_id: str) -> ResponseReturnValue:
    folder = content_dir() or abort(503)
    path = f"{KIND.folder}/{item_id}.yaml"
    if not ID.fullmatch(item_id):
        abort(404)
    change = changes.open_change_of(county_db(), path)
    if change is not None and change.content is not None:  # its draft, and what is still to fix in it
        problems = items.check(folder, path, change.content, KIND.schema)
        return _form(items.parse(change.content), path=path, change=change, base=change.base, problems=problems)
    if not (folder / path).is_file():
        abort(404)
    text, data = items.read_item(folder, path)
    problems = items.check(folder, path, text, KIND.schema)  # a file edited by hand may have some
    return _form(data, path=path, change=None, base=History(folder).blob(path), problems=problems)


@bp.route("/powers/save", methods=["POST"])
@studio_page
def power_save() -> ResponseReturnValue:
    folder = content_dir() or abort(503)
    form = request.form
    data = forms.read_form(items.schema_of(KIND), form)
    data["steps"] = steps.read_steps(form)
    change_id = form.get("change", type=int)
    change = changes.get(county_db(), change_id) if change_id else None
    if change_id and (change is None or not can(g.account, "edit", change.township)):
        abort(404)  # as its page is: another township's change is not this account's to see or save
    path, base = change.path if change else form.get("path", ""), form.get("base", "")
    if path and not (PATH.fullmatch(path) and (change or (folder / path).is_file())):
        abort(404)  # the form names the item's own file; nothing else may reach a path
    if path:  # its id names its file (the page does not offer it): one posted by hand would copy another item's
        data["id"] = path.removeprefix(f"{KIND.folder}/").removesuffix(".yaml")
    operation = form.get("op", "")
    if operation:  # a button that edits the form: redraw it, save nothing
        data["steps"] = steps.apply(data["steps"], operation)
        return _form(data, path=path, change=change, base=base, reason=form.get("reason", ""),
                     revision=form.get("revision", type=int))  # fmt: skip
    if not path:  # a new item: its id from its name unless the clerk gave one; its file from its id
        taken = {item.id for item in items.listed(folder, KIND)}
        given = str(data.get("id", ""))
        data["id"] = given or unique_id(slug(str(data.get("name", ""))) or "item", set(taken))
        path = f"{KIND.folder}/{data['id']}.yaml"
        if not ID.fullmatch(str(data["id"])):  # the id names the file: nothing else may reach the path
            said = _("An id has only lower-case letters, digits and hyphens, e.g. dibao-shenqing.")
            problems = [Problem(path, 1, "id", said)]
            return _form(data, path="", change=None, base="", problems=problems, status=422)
        if given in taken or (folder / path).exists():
            problems = [Problem(path, 1, "id", _("There is already an item with this id: choose another."))]
            return _form(data, path="", change=None, base="", problems=problems, status=422)
    before = items.township_in_folder(folder, path) if path else None  # as the folder has it, whatever the form says
    township = scope_of(before, items.township_of(folder, data))
    if not can(g.account, "edit", township):
        problems = [Problem(path, 1, "township", _("You work on the content of the township %(code)s only.",
                                                   code=g.account.township))]  # fmt: skip
        return _form(data, path=path if change or base else "", change=change, base=base, problems=problems, status=403)
    old = change.content if change and change.content is not None else _text_of(folder, path)
    text = items.dump_item(old, data, KIND.schema)
    problems = items.check(folder, path, text, KIND.schema)
    reason = form.get("reason", "").strip()[:500]
    try:
        saved = changes.save_draft(
            county_db(), kind=KIND.name, path=path, item_id=str(data.get("id", "")), title=str(data.get("name", "")),
            township=township, base=change.base if change else base, content=text, author=g.account.name,
            reason=reason, change_id=change.id if change else None, revision=form.get("revision", 0, type=int),
        )  # fmt: skip
    except changes.ChangeError as error:
        return _form(data, path=path, change=change, base=base, problems=[Problem(path, 1, "", str(error))], status=409)
    if problems:
        flash(_("Saved as a draft, with problems to fix before it can be submitted."))
        return _form(data, path=path, change=saved, base=saved.base, problems=problems, status=422)
    if form.get("submit"):
        changes.submit(county_db(), saved.id, g.account.name)
        flash(_("Submitted for review."))
        return redirect(url_for("studio_review.change", change_id=saved.id))
    flash(_("Saved as a draft."))
    return redirect(url_for("studio.power_edit", item_id=data["id"]))


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


def _text_of(folder: Any, path: str) -> str:
    file = folder / path
    return file.read_text(encoding="utf-8-sig") if path and file.is_file() else ""


def problem_names(problems: list[Problem]) -> dict[str, list[str]]:
    """Each problem under the form name of its field ("steps[2].to" is steps.1.to), "" for the item's own."""
    named: dict[str, list[str]] = {}
    for problem in problems:
        name = re.sub(r"\[(\d+)\]", lambda m: f".{int(m.group(1)) - 1}", problem.field)
        named.setdefault(name, []).append(problem.message)
    return named


def _form(
    data: dict[str, Any], *, path: str, change: changes.Change | None, base: str,
    problems: list[Problem] | None = None, reason: str = "", revision: int | None = None, status: int = 200,
) -> ResponseReturnValue:  # fmt: skip
    """The item's form holding *data*, its problems at their fields (the page's status: *status*)."""
    folder = content_dir() or abort(503)
    fields = forms.fields_of(items.schema_of(KIND), data)
    listed_steps = [dict(step) for step in data.get("steps", [])]
    chart = chart_of(listed_steps)
    named = problem_names(problems or [])
    page = render_template(
        "studio/item_form.html", fields=fields, steps=listed_steps, targets=steps.targets(listed_steps), chart=chart,
        path=path, change=change, base=base, problems=named,
        steps_problems=any(name.startswith("steps") for name in named),
        reason=reason or (change.reason if change else ""),
        revision=revision if revision is not None else (change.revision if change else 0),
        labels=labels.LABELS, hints=labels.HINTS, choice_labels=labels.CHOICES, then_labels=labels.THEN,
        then_of=steps.then_of,
        places=items.places_named(folder),
    )  # fmt: skip
    return page, status
