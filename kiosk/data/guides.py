"""Read the installed guides (我要办) and what their endings name. Views call these; SQL stays here."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any, cast

from kiosk.data import queries
from sync.contract.guides import named
from sync.contract.kinds import Guide, GuideEnding


def _without_table(error: sqlite3.OperationalError) -> bool:
    """A content database built before guides existed has no guides table: none until the next sync."""
    return "no such table" in str(error)


def guides(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return every guide of this village, in the county's order: id, title, summary."""
    try:
        rows = db.execute("select id, title, summary from guides order by position").fetchall()
    except sqlite3.OperationalError as error:
        if not _without_table(error):
            raise
        return []
    return [dict(row) for row in rows]


def guide(db: sqlite3.Connection, guide_id: str) -> Guide | None:
    """Return one guide with its questions and endings, or None."""
    try:
        row = db.execute("select * from guides where id = ?", (guide_id,)).fetchone()
    except sqlite3.OperationalError as error:
        if not _without_table(error):
            raise
        return None
    if row is None:
        return None
    found = {key: row[key] for key in ("id", "title", "scope", "summary") if row[key] is not None}
    # Checked by the county before it was signed (sync/contract/guides.py): the shape Guide says.
    return cast(Guide, {**found, "questions": json.loads(row["questions"]), "endings": json.loads(row["endings"])})


def ending_items(db: sqlite3.Connection, ending: GuideEnding, now: datetime) -> list[dict[str, Any]]:
    """Return what *ending* names that a villager may open now, in the order it names them: powers, catalogue
    items, then notices on show (an expired one is left out). Each: kind, id, title, and the item itself."""
    found: list[dict[str, Any]] = []
    for kind, key in (("power", "powers"), ("catalogue", "catalogue"), ("notice", "notices")):
        for item_id in named(ending, key):
            item = queries.shown_item(db, kind, item_id, now)
            if item is None or (kind == "notice" and queries.is_archived(item, now)):
                continue  # gone from this version, or no longer on show
            found.append({"kind": kind, "id": item_id, "title": _title(kind, item), "item": item})
    return found


def _title(kind: str, item: dict[str, Any]) -> str:
    if kind == "power":
        return str(item["name"])
    if kind == "notice":
        return str(item["title"])
    return " · ".join(filter(None, (item["level1"], item["level2"])))


def ending_contacts(db: sqlite3.Connection, ending: GuideEnding) -> list[dict[str, Any]]:
    """Return the contacts *ending* names, in its order (one not in this version is left out)."""
    wanted = named(ending, "contacts")
    if not wanted:
        return []
    marks = ", ".join("?" * len(wanted))
    rows = db.execute(f"select * from contacts where id in ({marks})", wanted)  # noqa: S608 - only ? marks
    by_id = {row["id"]: dict(row) for row in rows}
    return [by_id[contact_id] for contact_id in wanted if contact_id in by_id]
