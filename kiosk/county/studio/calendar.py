"""The official calendar in the studio: each year's holidays and make-up working days, made from the holidays
package with a button and corrected by hand in a form, reviewed and approved like the county's other files.

The button does what `kiosk county calendar YEAR` does (sync.authoring.calendar_package), but the year
becomes a draft to check against the State Council's notice and to review, never a file in the folder
at once; a year the folder has already is made again only as a draft, whose difference the reviewer
sees. The form of a year is the county's file form (kiosk/county/studio/files.py), at
/studio/county/calendar/<year>. Only accounts of the whole county see these pages: every working-day
count of every township is made on the calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from kiosk.county.reports import county_db
from kiosk.county.studio import changes
from kiosk.county.studio.access import can, content_dir, studio_page
from sync.authoring import items
from sync.authoring.calendar_package import CalendarUnavailable, make_year
from sync.authoring.history import History
from sync.contract.checks import FolderReader
from sync.contract.dates import DEFAULT_TIMEZONE, local_now
from sync.contract.official_calendar import calendar_warnings, county_calendar, notice_title

bp = Blueprint("studio_calendar", __name__, url_prefix="/studio/county/calendar")
FIRST_YEAR, LAST_YEAR = 1950, 2100  # the schema's years


@dataclass(frozen=True)
class Year:
    """One year's file as the list shows it."""

    year: int
    path: str
    statutory_only: bool
    checked: bool
    notice: str
    change: changes.Change | None  # its open change, if any
    in_folder: bool = True  # False: a new year, a draft only


def title_of(year: int | str) -> str:
    """What the studio calls a year's file (and its change)."""
    return str(_("Official calendar of %(year)s", year=year))


def _county_only() -> Path:
    if not can(g.account, "edit", ""):  # every township's deadlines are counted on it: the county's own file
        abort(403)
    return content_dir() or abort(503)


def _years(folder: Path) -> list[Year]:
    found = []
    for file in sorted((folder / "calendar").glob("[0-9][0-9][0-9][0-9].yaml")):
        path = f"calendar/{file.name}"
        data = items.parse(items.text_of(folder, path))
        found.append(Year(int(file.stem), path, data.get("statutory_only") is True, data.get("checked") is True,
                          str(data.get("notice", "")), changes.open_change_of(county_db(), path)))  # fmt: skip
    drafted = {year.path for year in found}
    for change in changes.listed(county_db(), changes.OPEN):  # a new year, still a draft
        if change.kind == "calendar" and change.path not in drafted:
            found.append(Year(int(change.item_id), change.path, False, False, "", change, in_folder=False))
    return sorted(found, key=lambda year: year.year)


@bp.route("")
@studio_page
def years() -> ResponseReturnValue:
    """Each year of the calendar, what the calendar leaves uncovered or unchecked, and the button that makes a year."""
    folder = _county_only()
    reader = FolderReader(folder)
    sound = county_calendar(reader)
    county, _places = items.county_and_places(folder)
    today = local_now(str((county or {}).get("timezone") or DEFAULT_TIMEZONE)).date()
    shown = _years(folder)
    missing = [year for year in range(today.year, today.year + 3) if year not in {y.year for y in shown}]
    return render_template("studio/calendar.html", years=shown, warnings=calendar_warnings(sound, today),
                           problems=reader.problems, suggested=missing[0] if missing else today.year + 1,
                           first_year=FIRST_YEAR, last_year=LAST_YEAR)  # fmt: skip


@bp.route("/make", methods=["POST"])
@studio_page
def make() -> ResponseReturnValue:
    """Make a year from the holidays package as a draft (as `kiosk county calendar YEAR` does, but to review)."""
    folder = _county_only()
    year = request.form.get("year", type=int)
    if year is None or not FIRST_YEAR <= year <= LAST_YEAR:
        flash(_("Give a year from %(first)s to %(last)s.", first=FIRST_YEAR, last=LAST_YEAR))
        return redirect(url_for("studio_calendar.years"))
    path = f"calendar/{year}.yaml"
    try:
        made = make_year(year, statutory_only=bool(request.form.get("statutory_only")))
    except CalendarUnavailable as error:
        flash(str(error))
        return redirect(url_for("studio_calendar.years"))
    history = History(folder)
    try:
        with history.lock():  # never while a reviewer approves a change of this year (changes.approve)
            changes.save_draft(
                county_db(), kind="calendar", path=path, item_id=str(year), title=title_of(year), township="",
                base=history.blob(path), content=made.text, author=g.account.name,
                reason=_("made from the holidays package"),
            )  # fmt: skip
    except changes.ChangeError as error:
        flash(str(error))
        return redirect(url_for("studio_calendar.years"))
    if made.statutory_only:
        flash(_("%(year)s made as a draft with the holidays the law fixes only: the package does not have %(title)s"
                " yet.", year=year, title=notice_title(year)))  # fmt: skip
    else:
        flash(_("%(year)s made as a draft: check every day against %(title)s, correct any difference, tick that it is"
                " checked, then submit it for review.", year=year, title=notice_title(year)))  # fmt: skip
    return redirect(url_for("studio_files.edit", section=f"calendar/{year}"))
