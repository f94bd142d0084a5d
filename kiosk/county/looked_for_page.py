"""The dashboard's page of what villagers looked for (群众关注): over a chosen period, for the whole county or one
village, the most opened matters, the guide endings reached and the searches that found nothing (the content
gaps), each with a bar chart drawn on the server and a CSV file; county-wide, each village's totals too.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from kiosk.county import looked_for
from kiosk.county.bar_chart import bar_chart
from kiosk.county.content import Published
from kiosk.county.dashboard import (
    DETAIL_PAGES,
    KINDS,
    PAGES,
    Link,
    Period,
    Table,
    chosen_period,
    dashboard_db,
    published_county,
    village_cell,
)
from kiosk.staff.auth import login_required

bp = Blueprint("looked_for", __name__, url_prefix="/dashboard/looked-for")
SHOWN_ROWS = 100  # rows of a list on the page; its CSV file has up to looked_for.LIMIT
PAGE_NAMES = {"ten_ones": _l("Ten ones"), "contacts": _l("Contacts and supervision")}
PAGE_LINKS = {"ten_ones": "mobile.ten_ones"}  # the phone pages have no contacts page of their own


def _village(published: Published | None) -> str | None:
    """The village chosen (its code), or None for the whole county; 404 for a code no kiosk or content knows."""
    code = request.args.get("village", "")
    if not code:
        return None
    if code not in _villages(published):
        abort(404)
    return code


def _villages(published: Published | None) -> dict[str, str]:
    """Every village that has a kiosk or is published, by code: its name, or its code when unknown."""
    names = dict(published.village_names) if published else {}
    return {code: names.get(code, code) for code in sorted({*names, *looked_for.known_villages(dashboard_db())})}


def _own_notice_titles(village: str | None) -> dict[tuple[str, str], str]:
    """The village's own notices, named by their latest change (only a chosen village's: few rows)."""
    if village is None:
        return {}
    rows = dashboard_db().execute(
        "select notice, json_extract(payload, '$.notice.title') from latest_notices where village = ?", (village,)
    )
    return {("notice", notice): title for notice, title in rows if isinstance(title, str)}


def opened_table(published: Published | None, period: Period, village: str | None) -> Table:
    titles = {**(published.titles if published else {}), **_own_notice_titles(village)}
    rows = []
    for row in looked_for.most(dashboard_db(), looked_for.OPENED, period.first, period.last, village):
        kind, key = row["kind"], row["key"]
        title = str(PAGE_NAMES[key]) if kind == "page" and key in PAGE_NAMES else titles.get((kind, key))
        endpoint = PAGE_LINKS.get(key) if kind == "page" else DETAIL_PAGES.get(kind)
        href = None
        if village and endpoint and title:  # a phone page needs its village: county-wide rows are not linked
            href = url_for(endpoint, village=village, **({} if kind == "page" else {"item_id": key}))
        item = Link(title, href) if href and title else (title or key)
        rows.append({"item": item, "kind": str(KINDS.get(kind, _l("Page"))), "id": key, "count": row["count"]})
    columns = [("item", _l("Matter")), ("kind", _l("Kind")), ("id", _l("Id")), ("count", _l("Times opened"))]
    return Table("opened", _l("Most opened matters"), columns, rows, _l("Nothing was opened in this period."))


def _guide_titles(published: Published | None) -> dict[str, tuple[str, dict[str, str]]]:
    """Each published guide's title and its endings' titles, by id."""
    guides = published.county.guides if published else []
    return {g["id"]: (g["title"], {e["id"]: e["title"] for e in g["endings"]}) for g in guides}


def endings_table(published: Published | None, period: Period, village: str | None) -> Table:
    titles = _guide_titles(published)
    rows = []
    for row in looked_for.most(dashboard_db(), looked_for.ENDINGS, period.first, period.last, village):
        guide, _slash, ending = row["key"].partition("/")
        guide_title, endings = titles.get(guide, (guide, {}))  # a guide no longer published: its id
        rows.append({"guide": guide_title, "ending": endings.get(ending, ending), "count": row["count"]})
    columns = [("guide", _l("Guide")), ("ending", _l("Ending")), ("count", _l("Times reached"))]
    return Table("endings", _l("Guide endings reached"), columns, rows, _l("No guide was followed to its end."))


def not_found_table(_published: Published | None, period: Period, village: str | None) -> Table:
    rows = [
        {"query": row["key"], "count": row["count"]}
        for row in looked_for.most(dashboard_db(), looked_for.NOT_FOUND, period.first, period.last, village)
    ]
    columns = [("query", _l("Searched for")), ("count", _l("Times"))]
    return Table("not-found", _l("Searches that found nothing"), columns, rows,
                 _l("Every search in this period found something."))  # fmt: skip


def villages_table(published: Published | None, period: Period, village: str | None) -> Table:
    rows = []
    for row in [] if village else looked_for.villages(dashboard_db(), period.first, period.last):
        cell = village_cell(row["village"], published)
        rows.append({**row, "village": Link(cell.text, _here(period, row["village"]))})
    columns = [("village", _l("Village")), ("opened", _l("Matters opened")), ("endings", _l("Guide endings reached")),
               ("not_found", _l("Searches that found nothing"))]  # fmt: skip
    return Table("villages", _l("Per village"), columns, rows, _l("No kiosk sent its counts for this period."))


TABLES = {"opened": opened_table, "endings": endings_table, "not-found": not_found_table, "villages": villages_table}
CHARTS = {"opened": "item", "endings": "ending", "not-found": "query"}  # the column a chart's bars are named by


def _here(period: Period, village: str | None = None, name: str | None = None) -> str:
    span: dict[str, Any] = {"from": period.first.isoformat(), "to": period.last.isoformat(), "village": village}
    return url_for("looked_for.table_csv", name=name, **span) if name else url_for("looked_for.overview", **span)


@bp.route("/")
@login_required
def overview() -> ResponseReturnValue:
    published = published_county()
    period = chosen_period(published)
    village = _village(published)
    tables = [TABLES[name](published, period, village) for name in TABLES]
    charts: dict[str, Any] = {}
    for table in tables:
        table.csv_href = _here(period, village, table.name)
        if table.name in CHARTS:
            bars = [(str(row[CHARTS[table.name]]), int(row["count"])) for row in table.rows]
            charts[table.name] = bar_chart(bars, str(table.title))
    title = _l("What villagers looked for")
    return render_template("county/looked_for.html", page="looked_for", pages=PAGES, title=title,
                           tables=[t for t in tables if not (village and t.name == "villages")], charts=charts,
                           max_rows=SHOWN_ROWS, period=period, village=village, villages=_villages(published),
                           nothing_published=published is None)  # fmt: skip


@bp.route("/<name>.csv")
@login_required
def table_csv(name: str) -> ResponseReturnValue:
    """One list as a CSV file, for the same period and village as the page."""
    if name not in TABLES:
        abort(404)
    published = published_county()
    period = chosen_period(published)
    village = _village(published)
    table = TABLES[name](published, period, village)
    return table.csv_file(f"looked-for-{name}-{village or 'county'}-{period.first}-{period.last}.csv")
