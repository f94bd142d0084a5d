"""The photos of the villages' own notices, sent up by their kiosks, for the phone pages.

A kiosk sends each photo of a notice it publishes as a `notice_photo` upload: its name (the
SHA-256 of its bytes and its type, as the kiosk stored it) and its bytes in base64. The county
keeps the bytes once per village and name in county.db (`village_photos`), and the phone page of
a village notice shows those of its photos it holds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import sqlite3
from typing import Any

MAX_PHOTO_BYTES = 1_400_000  # in base64 within the county's cap on a request body (reports.MAX_BODY, 2 MB)
_NAME = re.compile(r"^([0-9a-f]{64})\.(jpg|png|webp)$")
_MAGIC = {"jpg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",), "webp": (b"RIFF",)}


def create_table(db: sqlite3.Connection) -> None:
    db.execute(
        """create table village_photos (
          village text not null, name text not null, data blob not null, kiosk_id integer not null,
          received_at text not null, primary key (village, name))"""
    )


def problem(payload: dict[str, Any]) -> str | None:
    """Return what is wrong with a photo upload, or None: its name must be its bytes' hash and type."""
    name, data = payload.get("name"), payload.get("data")
    found = _NAME.match(name) if isinstance(name, str) else None
    if found is None or not isinstance(payload.get("notice"), str):
        return "a notice photo has the notice's id and a name <sha256>.jpg, .png or .webp"
    if not isinstance(data, str) or len(data) > 4 * MAX_PHOTO_BYTES // 3 + 4:
        return f"a notice photo carries its bytes in base64, at most {MAX_PHOTO_BYTES} of them"
    try:
        photo = base64.b64decode(data, validate=True)
    except binascii.Error:
        return "a notice photo carries its bytes in base64"
    if hashlib.sha256(photo).hexdigest() != found.group(1):
        return f"the photo's bytes do not match its name {name}"
    if not photo.startswith(_MAGIC[found.group(2)]) or (found.group(2) == "webp" and photo[8:12] != b"WEBP"):
        return f"the photo {name} is not a {found.group(2)} file"
    return None


def keep(db: sqlite3.Connection, village: str, kiosk_id: int, payload: dict[str, Any], received_at: str) -> None:
    """Keep a checked photo upload for *village* (once: the same name is the same bytes)."""
    db.execute(
        "insert into village_photos (village, name, data, kiosk_id, received_at) values (?, ?, ?, ?, ?)"
        " on conflict do nothing",
        (village, payload["name"], base64.b64decode(payload["data"]), kiosk_id, received_at),
    )


def held(db: sqlite3.Connection, village: str) -> set[str]:
    """Return the names of the photos the county holds for *village*."""
    return {row[0] for row in db.execute("select name from village_photos where village = ?", (village,))}


def photo(db: sqlite3.Connection, village: str, name: str) -> bytes | None:
    """Return a photo of *village*'s notices, or None when the county does not hold it."""
    row = db.execute("select data from village_photos where village = ? and name = ?", (village, name)).fetchone()
    return bytes(row[0]) if row else None
