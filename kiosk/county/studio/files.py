"""The county's own files in the studio: contacts, the ten ones, the disclosure duties, each area of the
disclosure catalogue and each year of the official calendar, each one form.

Each is one file of the county (contacts.yaml, ten_ones.yaml, duties.yaml, catalogue/<area>.yaml,
calendar/<year>.yaml: its list of years and its button are kiosk/county/studio/calendar.py) holding a
list of entries;
its form is drawn from its schema, a row per entry (an empty row to add one; emptying a row removes
it), and saving makes a draft of the whole file, reviewed and approved like an item's. These files
serve every township, so only an account of the whole county edits them. The file's comments stay
with the entries they are written beside (sync.authoring.items.dump_item).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kiosk.county.reports import county_db
from kiosk.county.studio import changes, labels
from kiosk.county.studio.access import can, check, content_dir, studio_page
from kiosk.county.studio.calendar import FIRST_YEAR, LAST_YEAR, title_of
from kiosk.county.studio.views import problem_names
from sync.authoring import forms, items
from sync.authoring.history import History
from sync.authoring.plan import unique_id
from sync.contract.official_calendar import notice_title, weekday_name
from sync.contract.pinyin import slug
from sync.contract.schemas import Problem

bp = Blueprint("studio_files", __name__, url_prefix="/studio/county")
AREA = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # an area's file name, as changes.PATH has it
YEAR = re.compile(r"[0-9]{4}")
SECTIONS = {  # the page's name -> the kind, and its title
    "contacts": ("contacts", _l("Contacts and supervision phones")),
    "ten-ones": ("ten_ones", _l("The ten ones")),
    "duties": ("duties", _l("Disclosure duties")),
    "county": ("county", _l("The county, its townships and villages")),
}


@dataclass(frozen=True)
class File:
    """One of the county's files as a page edits it: its kind, its path, what the page calls it, its address."""

    kind: items.Kind
    path: str
    title: Any
    section: str  # "contacts", "catalogue/18-shehui-jiuzhu" or "calendar/2027"

    @property
    def year(self) -> int | None:
        """The year of a year's calendar; None for another file."""
        return int(self.section.removeprefix("calendar/")) if self.kind.name == "calendar" else None


def _file(section: str) -> File:
    """The file the page *section* edits (404 for any other); only for accounts of the whole county."""
    if not can(g.account, "edit", ""):  # the county's own files: for accounts of the whole county
        abort(403)
    if section in SECTIONS:
        name, title = SECTIONS[section]
        return File(items.KINDS[name], items.KINDS[name].file, title, section)
    if section.startswith("calendar/"):  # a year, there or not yet (made by hand, or from the package's draft)
        year = section.removeprefix("calendar/")
        if not (YEAR.fullmatch(year) and FIRST_YEAR <= int(year) <= LAST_YEAR):
            abort(404)
        return File(items.KINDS["calendar"], f"{section}.yaml", title_of(year), section)
    area = section.removeprefix("catalogue/")
    path = f"catalogue/{area}.yaml"
    folder = content_dir() or abort(503)
    if not section.startswith("catalogue/") or not AREA.fullmatch(area) or not (folder / path).is_file():
        abort(404)
    listed = {item.path: item.title for item in items.listed(folder, items.KINDS["catalogue"])}
    return File(items.KINDS["catalogue"], path, listed.get(path) or area, section)


@bp.route("/catalogue")
@studio_page
def catalogue() -> ResponseReturnValue:
    """The areas of the disclosure catalogue, each a link to its form."""
    _file("contacts")  # the same accounts as the county's other files
    areas = items.listed(content_dir() or abort(503), items.KINDS["catalogue"])
    return render_template("studio/areas.html", areas=areas)


@bp.route("/<path:section>")
@studio_page
def edit(section: str) -> ResponseReturnValue:
    file = _file(section)
    folder = content_dir() or abort(503)
    change = changes.open_change_of(county_db(), file.path)
    if change is not None and change.content is not None:
        problems = check(file.path, change.content, file.kind.schema)
        return _form(file, items.parse(change.content), change=change, base=change.base, problems=problems)
    if not (folder / file.path).is_file():
        return _form(file, {"year": file.year} if file.year else {}, change=None, base="")
    text, data = items.read_item(folder, file.path)
    problems = check(file.path, text, file.kind.schema)
    return _form(file, data, change=None, base=History(folder).blob(file.path), problems=problems)


@bp.route("/<path:section>", methods=["POST"])
@studio_page
def save(section: str) -> ResponseReturnValue:
    file = _file(section)
    folder = content_dir() or abort(503)
    form = request.form
    data = _with_ids(items.schema_of(file.kind), forms.read_form(items.schema_of(file.kind), form))
    change = changes.open_change_of(county_db(), file.path)
    base = change.base if change else form.get("base", "")
    old = change.content if change and change.content is not None else items.text_of(folder, file.path)
    text = items.dump_item(old, data, file.kind.schema)
    problems = check(file.path, text, file.kind.schema)
    item_id = file.kind.name if file.kind.file else file.path.rpartition("/")[2].removesuffix(".yaml")
    try:
        with History(folder).lock():  # never while a reviewer approves this change (changes.approve)
            saved = changes.save_draft(
                county_db(), kind=file.kind.name, path=file.path, item_id=item_id, title=str(file.title), township="",
                base=base, content=text, author=g.account.name, reason=form.get("reason", "").strip()[:500],
                change_id=change.id if change else None, revision=form.get("revision", 0, type=int),
            )  # fmt: skip
    except changes.ChangeError as error:
        return _form(file, data, change=change, base=base, problems=[Problem(file.path, 1, "", str(error))],
                     status=409)  # fmt: skip
    if problems:
        flash(_("Saved as a draft, with problems to fix before it can be submitted."))
        return _form(file, data, change=saved, base=saved.base, problems=problems, status=422)
    if form.get("submit"):
        changes.submit(county_db(), saved.id, g.account.name)
        flash(_("Submitted for review."))
        return redirect(url_for("studio_review.change", change_id=saved.id))
    flash(_("Saved as a draft."))
    return redirect(url_for("studio_files.edit", section=section))


NAMED_BY = ("name", "title", "level2", "level1")  # the field a row's id is made from: the first it has


def _with_ids(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """*data* with an id made from its name (pinyin, as an item's) for each new row the clerk left without one."""
    for key, rows in data.items():
        if not isinstance(rows, list) or "id" not in schema["properties"][key].get("items", {}).get("properties", {}):
            continue
        taken = {str(row["id"]) for row in rows if isinstance(row, dict) and row.get("id")}
        for number, row in enumerate(rows):
            named = next((str(row[field]) for field in NAMED_BY if isinstance(row, dict) and row.get(field)), "")
            if isinstance(row, dict) and not row.get("id") and named:
                rows[number] = {"id": unique_id(slug(named) or "item", taken), **row}  # first, as the schema has it
    return data


def _form(
    file: File, data: dict[str, Any], *, change: changes.Change | None, base: str,
    problems: list[Problem] | None = None, status: int = 200,
) -> ResponseReturnValue:  # fmt: skip
    fields = forms.fields_of(items.schema_of(file.kind), data)
    page = render_template(
        "studio/file_form.html", section=file.section, title=file.title, path=file.path, fields=fields,
        change=change, base=base, problems=forms.at_fields(problem_names(problems or []), fields),
        labels=labels.labels_of(file.kind.name), hints=labels.HINTS, choice_labels=labels.CHOICES,
        row_titles=labels.ROWS, notice=notice_title(file.year) if file.year else "", weekday_of=weekday_of,
        revision=change.revision if change else 0, reason=change.reason if change else "",
        places=items.places_named(content_dir() or abort(503)),
    )  # fmt: skip
    return page, status


def weekday_of(text: str) -> str:
    """The day of the week of the day *text* (YYYY-MM-DD), shown beside a date; "" for a day that does not exist."""
    try:
        return weekday_name(date.fromisoformat(text)) if len(text) == 10 else ""
    except ValueError:
        return ""
