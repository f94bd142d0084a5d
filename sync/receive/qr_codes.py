"""Each item's QR code, drawn when its content is installed and kept in that version's database.

A detail page shows the code of its phone page (<base>/m/<village>/<kind>/<id>); no request draws
one. The codes live and go with their version: the previous version (N-1) keeps its own, and a
version's codes are deleted with its file. An install takes the codes of items the current version
already has from it, when the addresses are the same, and draws only the others: a night with a
few new items draws a few codes. (A village's own notices, posted at the kiosk, have no code here:
kiosk/screens/qr.py makes theirs.)
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path

KINDS = {"power": "powers", "notice": "notices", "catalogue": "catalogue"}  # the items with a phone page
# Part of what an install compares before taking the codes of the current version: a change to the
# drawing (qr_drawing) must raise it, so that every code is drawn again.
DRAWING = "png-1"
SCHEMA = """create table if not exists qr_codes (kind text not null, item_id text not null, png blob not null,
  primary key (kind, item_id)) without rowid"""
_ADDRESS_KEYS = ("public_base_url", "village_code")
log = logging.getLogger(__name__)


def mobile_url(base_url: str, village: str, kind: str, item_id: str) -> str:
    """Return the county's public page for an item: <base>/m/<village>/<kind>/<id>."""
    if kind not in KINDS:
        raise ValueError(f"no mobile page for {kind!r}")
    return f"{base_url.rstrip('/')}/m/{village}/{kind}/{item_id}"


def _meta(db: sqlite3.Connection) -> dict[str, str]:
    return {str(key): str(value) for key, value in db.execute("select key, value from meta")}


def write_qr_codes(db: sqlite3.Connection, current: Path | None = None) -> int:
    """Give every item of a content database being written (*db*) its QR code; return how many were drawn.

    Codes of the installed version *current* are taken where they show the same address. Codes of
    items no longer there are removed, so this also brings a database changed in place up to date.
    """
    db.execute(SCHEMA)
    meta = _meta(db)
    if current is not None:
        _take_from(db, current, meta)
    for kind, table in KINDS.items():
        db.execute(f"delete from qr_codes where kind = ? and item_id not in (select id from {table})", (kind,))  # noqa: S608
    from sync.receive.qr_workers import draw_all  # the qrcode package only where codes are drawn

    missing = [
        (kind, item_id)
        for kind, table in KINDS.items()
        for (item_id,) in db.execute(
            f"select id from {table} where id not in (select item_id from qr_codes where kind = ?)",  # noqa: S608
            (kind,),
        )
    ]
    urls = [mobile_url(meta["public_base_url"], meta["village_code"], kind, item_id) for kind, item_id in missing]
    rows = ((kind, item_id, png) for (kind, item_id), png in zip(missing, draw_all(urls), strict=True))
    db.executemany("insert into qr_codes values (?, ?, ?)", rows)
    db.execute("insert or replace into meta values ('qr_drawing', ?)", (DRAWING,))
    return len(missing)


def insert_codes(db: sqlite3.Connection, rows: Iterable[tuple[str, str, bytes]]) -> None:
    """Write codes drawn ahead (*rows*: kind, item id, PNG; qr_workers.Drawing) into a content database being
    written: write_qr_codes then draws only the ones missing."""
    db.execute(SCHEMA)
    db.executemany("insert or replace into qr_codes values (?, ?, ?)", rows)


def update_qr_codes(db: sqlite3.Connection, items: Iterable[tuple[str, str]]) -> int:
    """Bring the codes of *items* (kind, id) up to date in a content database changed in place: draw those it
    holds without a code, remove those of items it no longer holds. Return how many were drawn."""
    from sync.receive import qr_drawing

    meta, drawn = _meta(db), 0
    for kind, item_id in items:
        if kind not in KINDS:
            continue
        if not db.execute(f"select 1 from {KINDS[kind]} where id = ?", (item_id,)).fetchone():  # noqa: S608
            db.execute("delete from qr_codes where kind = ? and item_id = ?", (kind, item_id))
        elif not db.execute("select 1 from qr_codes where kind = ? and item_id = ?", (kind, item_id)).fetchone():
            url = mobile_url(meta["public_base_url"], meta["village_code"], kind, item_id)
            db.execute("insert into qr_codes values (?, ?, ?)", (kind, item_id, qr_drawing.qr_png(url)))
            drawn += 1
    return drawn


def _take_from(db: sqlite3.Connection, current: Path, meta: dict[str, str]) -> None:
    """Copy the codes of *current* (an installed version) into *db* if they show the same addresses."""
    try:
        source = sqlite3.connect(f"file:{current}?mode=ro", uri=True)
        try:
            theirs = _meta(source)
            same = all(theirs.get(key) == meta.get(key) for key in _ADDRESS_KEYS)
            if same and theirs.get("qr_drawing") == DRAWING:
                db.executemany("insert or ignore into qr_codes values (?, ?, ?)",
                               source.execute("select kind, item_id, png from qr_codes"))  # fmt: skip
        finally:
            source.close()
    except sqlite3.DatabaseError as error:  # damaged or unreadable: every code is drawn again
        log.warning("the QR codes of %s could not be read (%s); drawing them all", current, error)
