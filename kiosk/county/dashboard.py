"""The county's dashboard (sign-in required): every kiosk's state, each village's overdue disclosures
and early takedowns, and the villagers' ratings over a chosen period. Every table is also a CSV file.

Each table is built once (a Table: its columns and rows) and shown either as HTML or as CSV, so
the spreadsheet holds exactly what the page shows.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, g, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_percent, get_locale, ngettext
from flask_babel import lazy_gettext as _l

from kiosk.county import overview, payloads, takedowns
from kiosk.county.content import NothingPublished, Published, PublishedCounty
from kiosk.county.reports import county_db
from kiosk.screens.feedback import LEVELS, REASONS
from kiosk.screens.views import switch_language
from kiosk.staff.admin import csv_download
from kiosk.staff.auth import login_required
from sync.contract.dates import DEFAULT_TIMEZONE, MONDAY_TO_FRIDAY
from sync.contract.duties import label_of
from sync.contract.i18n import translator
from sync.contract.official_calendar import Gap, calendar_gaps

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
DEFAULT_DAYS = 30  # the period shown when none is chosen: the last 30 days
MAX_PERIOD = timedelta(days=366)
MAX_ROWS = 200  # rows of a table on one page: the rest on the next pages (?<table>-page=N), and all in its CSV file
FLAGS = {"behind": _l("behind"), "quiet": _l("quiet"), "never_seen": _l("never seen"), "revoked": _l("revoked")}
OUTCOMES = {"updated": _l("updated"), "unchanged": _l("unchanged"), "failed": _l("failed")}
KINDS = {"power": _l("Village power"), "notice": _l("Notice"), "catalogue": _l("Disclosure catalogue")}
DETAIL_PAGES = {kind: f"mobile.{kind}_detail" for kind in KINDS}


@dataclass
class Link:
    """A cell that is a link on the page and its text alone in the CSV file."""

    text: str
    href: str

    def __str__(self) -> str:
        return self.text


@dataclass
class Table:
    name: str  # its CSV file's name
    title: Any
    columns: list[tuple[str, Any]]  # (key, heading)
    rows: list[dict[str, Any]]
    empty: Any  # what the page says when there are no rows
    flagged: str = ""  # a row whose value under this key is true is marked
    summary: str = ""  # one line above the table
    csv_href: str = ""  # where its CSV file is, if not at dashboard.table_csv

    page: int = 1  # the page of rows shown (paged)
    pages: int = 1
    at: str = ""  # the page's own address, where the request's is not (the answer to a form)

    def page_href(self, number: int) -> str:
        """This page's address with the table's page *number* (every other choice kept)."""
        args = {**request.args.to_dict(), f"{self.name}-page": str(number)}
        return f"{self.at or request.path}?{urlencode(args)}"

    def csv_file(self, filename: str) -> ResponseReturnValue:
        """The table as the CSV file *filename*: its headings, then every row (not only those the page shows)."""
        headings = [str(heading) for _key, heading in self.columns]
        return csv_download(filename, [headings, *([row.get(key) for key, _h in self.columns] for row in self.rows)])


@dataclass
class Period:
    first: date
    last: date
    problem: Any = None


def paged(table: Table) -> Table:
    """Show the page of the table's rows the request asks for (?<name>-page=N; the first when none, or none such)."""
    table.pages = max(1, -(-len(table.rows) // MAX_ROWS))
    asked = request.args.get(f"{table.name}-page", "")
    table.page = min(int(asked), table.pages) if asked.isdigit() and 0 < int(asked) < 10**6 else 1
    return table


def published_county() -> Published | None:
    county: PublishedCounty = current_app.extensions["mobile_published"]
    try:
        return county.current()
    except NothingPublished:
        return None


@bp.context_processor
def _calendar_gaps() -> dict[str, Any]:
    """The years counted in now that the published official calendar does not cover: flagged on every page."""

    def gaps() -> list[Gap]:
        published = published_county()
        calendar = published.calendar if published else MONDAY_TO_FRIDAY
        return calendar_gaps(calendar, datetime.now(county_zone(published)).date())

    return {"calendar_gaps": gaps}


def county_zone(published: Published | None) -> ZoneInfo:
    try:
        return ZoneInfo(published.county.info.get("timezone", DEFAULT_TIMEZONE) if published else DEFAULT_TIMEZONE)
    except (ValueError, KeyError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def local_time(stamp: str | None, zone: ZoneInfo) -> str:
    return f"{datetime.fromisoformat(stamp).astimezone(zone):%Y-%m-%d %H:%M}" if stamp else ""


def village_cell(code: str, published: Published | None) -> Link:
    name = published.village_names.get(code) if published else None
    return Link(f"{name} ({code})" if name else code, url_for("mobile.index", village=code))


def dashboard_db() -> sqlite3.Connection:
    """county.db for this request, read-only: the dashboard never writes."""
    return county_db(read_only=True)


def _ratings(period: Period) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The period's ratings per item and per village, counted once for the page's two tables."""
    if "ratings" not in g:
        g.ratings = overview.feedback(dashboard_db(), period.first, period.last)
    ratings: tuple[list[dict[str, Any]], list[dict[str, Any]]] = g.ratings
    return ratings


def chosen_period(published: Published | None) -> Period:
    """The period from the `from` and `to` parameters (the county's local days); the last 30 days by default."""
    today = datetime.now(county_zone(published)).date()
    period = Period(today - timedelta(days=DEFAULT_DAYS - 1), today)
    for name, field in (("from", "first"), ("to", "last")):
        if request.args.get(name):
            chosen = payloads.day(request.args[name])
            if chosen is None:
                period.problem = _l("Write the From and To dates like 2026-11-27, in the years 2000 to 2100.")
                return period
            setattr(period, field, chosen)
    if period.first > period.last:
        period.first, period.last = period.last, period.first
    if period.last - period.first > MAX_PERIOD:
        period.first = period.last - MAX_PERIOD
        period.problem = _l("A period is at most a year: it now starts a year before its end.")
    return period


# --- the tables ------------------------------------------------------------------------------


def kiosks_table(published: Published | None, _unused: Period) -> Table:
    latest = published.version if published else None
    zone = county_zone(published)
    rows = []
    kiosks = overview.kiosks(dashboard_db(), latest, datetime.now(UTC))
    for kiosk in kiosks:
        free = kiosk["disk_free_bytes"]
        rows.append({
            "id": kiosk["id"], "village": village_cell(kiosk["village"], published),
            "flags": ", ".join(str(FLAGS[flag]) for flag in kiosk["flags"]),
            "app_version": kiosk["app_version"] or "", "content_version": kiosk["content_version"] or "",
            "content_date": kiosk["content_date"] or "", "last_seen": local_time(kiosk["received_at"], zone),
            "last_outcome": str(OUTCOMES.get(kiosk["last_outcome"], kiosk["last_outcome"] or "")),
            "last_error": kiosk["last_error"] or "",
            "disk_free": f"{free / 2**30:.1f} GB" if isinstance(free, int | float) else "",
            "outbox_depth": kiosk["outbox_depth"] if kiosk["outbox_depth"] is not None else "",
            "rejected": kiosk["rejected"] or "",
        })  # fmt: skip
    columns = [("id", _l("Kiosk")), ("village", _l("Village")), ("flags", _l("Needs attention")),
               ("app_version", _l("App version")), ("content_version", _l("Content version")),
               ("content_date", _l("Content date")), ("last_seen", _l("Last report")),
               ("last_outcome", _l("Last sync")), ("last_error", _l("Sync error")), ("disk_free", _l("Disk free")),
               ("outbox_depth", _l("Waiting to upload")), ("rejected", _l("Uploads set aside"))]  # fmt: skip
    counts = Counter(flag for kiosk in kiosks for flag in kiosk["flags"])
    summary = " · ".join(
        [ngettext("%(num)d kiosk", "%(num)d kiosks", len(kiosks))]
        + [f"{label}: {counts[flag]}" for flag, label in FLAGS.items() if counts[flag]]
    )
    return Table("kiosks", _l("Kiosks"), columns, rows, _l("No kiosk yet: add one with kiosk county add-kiosk."),
                 flagged="flags", summary=summary)  # fmt: skip


def overdue_table(published: Published | None, _unused: Period) -> Table:
    zone = county_zone(published)
    translate = translator(get_locale().language if get_locale() else "zh")
    rows = [{**duty, "village": village_cell(duty["village"], published),
             "reported_at": local_time(duty["reported_at"], zone),
             "what": label_of(duty["period"], translate) or duty["what"]}  # the period in the reader's language
            for duty in overview.overdue(dashboard_db())]  # fmt: skip
    columns = [("village", _l("Village")), ("duty", _l("Disclosure")), ("what", _l("For")), ("due", _l("Was due")),
               ("kiosk_id", _l("Kiosk")), ("reported_at", _l("Reported"))]  # fmt: skip
    return Table("overdue", _l("Overdue disclosures"), columns, rows, _l("No kiosk reports an overdue disclosure."))


def takedowns_table(published: Published | None, period: Period) -> Table:
    rows = []
    for found in takedowns.early_takedowns(dashboard_db(), period.first, period.last):
        rows.append({
            **found, "village": village_cell(found["village"], published),
            "title": found["title"] or found["notice"],
            "published_at": found["published_at"][:16], "ends": found["ends"].isoformat(),
            "last_seen": found["last_seen"].isoformat() if found["last_seen"] else "",
            "missing": found["missing"].isoformat(), "kiosks": ", ".join(map(str, sorted(found["kiosks"]))),
        })  # fmt: skip
    columns = [("village", _l("Village")), ("title", _l("Notice")), ("published_at", _l("Published")),
               ("days", _l("Posting period (working days)")), ("ends", _l("Must stay up until")),
               ("last_seen", _l("Last seen on show")), ("missing", _l("Gone from")),
               ("reason", _l("Reason given")), ("kiosks", _l("Kiosk"))]  # fmt: skip
    return Table("takedowns", _l("Notices taken down before their posting period ended"), columns, rows,
                 _l("No notice came down before its posting period ended in this period."))  # fmt: skip


def _rating_columns() -> list[tuple[str, Any]]:
    return [(f"level_{level}", LEVELS[level]) for level in overview.LEVELS] + [
        ("total", _l("Ratings")), ("dissatisfied", _l("Share dissatisfied"))]  # fmt: skip


def _rating_cells(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "dissatisfied": format_percent(row["dissatisfied"])}


def feedback_villages_table(published: Published | None, period: Period) -> Table:
    _items, villages = _ratings(period)
    rows = [{**_rating_cells(row), "village": village_cell(row["village"], published)} for row in villages]
    return Table("feedback-villages", _l("Ratings per village"), [("village", _l("Village")), *_rating_columns()],
                 rows, _l("No ratings in this period."))  # fmt: skip


def feedback_items_table(published: Published | None, period: Period) -> Table:
    items, _villages = _ratings(period)
    titles = published.titles if published else {}
    # The village's own notices are named by their latest change; read only when a rated one needs it.
    own: dict[tuple[str, str], str] = {}
    if any(row["kind"] == "notice" and ("notice", row["item"]) not in titles for row in items):
        named = dashboard_db().execute(
            "select village, notice, json_extract(payload, '$.notice.title') from latest_notices"
        )
        own = {(village, notice): title for village, notice, title in named if isinstance(title, str)}
    rows = []
    for row in items:
        title = titles.get((row["kind"], row["item"]))
        if title is None and row["kind"] == "notice":  # the village's own notice, known from its changes
            title = own.get((row["village"], row["item"]))
        endpoint = DETAIL_PAGES[row["kind"]]  # payloads.py lets only these kinds in
        item = Link(str(title), url_for(endpoint, village=row["village"], item_id=row["item"])) if title else None
        rows.append({
            **_rating_cells(row), "village": village_cell(row["village"], published),
            "kind": str(KINDS[row["kind"]]), "item": item or row["item"],
            "reasons": "; ".join(f"{REASONS.get(code, code)} ×{n}" for code, n in row["reasons"].most_common()),
        })  # fmt: skip
    columns = [("village", _l("Village")), ("kind", _l("Kind")), ("item", _l("Item")), *_rating_columns(),
               ("reasons", _l("Reasons given"))]  # fmt: skip
    return Table("feedback-items", _l("Ratings per item"), columns, rows, _l("No ratings in this period."))


TABLES: dict[str, Callable[[Published | None, Period], Table]] = {
    "kiosks": kiosks_table,
    "overdue": overdue_table,
    "takedowns": takedowns_table,
    "feedback-villages": feedback_villages_table,
    "feedback-items": feedback_items_table,
}
PAGES = {
    "kiosks": (_l("Kiosks"), ("kiosks",), False),
    "villages": (_l("Villages"), ("overdue", "takedowns"), True),
    "feedback": (_l("Villagers' ratings"), ("feedback-villages", "feedback-items"), True),
}


# --- the views -------------------------------------------------------------------------------


def _page(page: str) -> ResponseReturnValue:
    title, names, has_period = PAGES[page]
    published = published_county()
    period = chosen_period(published)
    tables = [paged(TABLES[name](published, period)) for name in names]
    return render_template("county/dashboard.html", page=page, pages=PAGES, title=title, tables=tables,
                           max_rows=MAX_ROWS, period=period if has_period else None,
                           nothing_published=published is None)  # fmt: skip


@bp.route("/")
@login_required
def kiosks() -> ResponseReturnValue:
    return _page("kiosks")


@bp.route("/villages")
@login_required
def villages() -> ResponseReturnValue:
    return _page("villages")


@bp.route("/feedback")
@login_required
def feedback() -> ResponseReturnValue:
    return _page("feedback")


@bp.route("/<name>.csv")
@login_required
def table_csv(name: str) -> ResponseReturnValue:
    """One table as a CSV file for a spreadsheet, for the same period as the page."""
    if name not in TABLES:
        abort(404)
    published = published_county()
    period = chosen_period(published)
    table = TABLES[name](published, period)
    span = f"{period.first}-{period.last}" if name != "kiosks" else f"{period.last}"
    return table.csv_file(f"{name}-{span}.csv")


# The kiosk's own language switch: it sets the session's language and goes back where it was.
bp.add_url_rule("/language/<code>", "switch_language", switch_language)
