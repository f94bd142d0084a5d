"""Cut one village's view of the county: what its kiosk installs and shows."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sync.contract.i18n import tr
from sync.contract.kinds import Contact, County, in_scope
from sync.contract.media import media_digest
from sync.contract.supervision import supervisors


def blob_name(digest: str, ref: str) -> str:
    """Name a media file by its content: '<sha256><ext>'."""
    return digest + Path(ref).suffix.lower()


def media_names(media: Mapping[str, Path]) -> dict[str, str]:
    """Return the blob name of each photo ('media/x.jpg'), from its file's bytes."""
    return {ref: blob_name(media_digest(file), ref) for ref, file in media.items()}


def village_notice(notice: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """Return a notice as a village's snapshot holds it: its photos by blob name (media_names)."""
    return {**notice, "photos": [names[p] for p in notice.get("photos", [])]}


def village_power(power: Mapping[str, Any], contacts: list[Contact], village: Mapping[str, str]) -> dict[str, Any]:
    """Return a power item as a village's snapshot holds it: whom it names as supervising, filled for the
    village from *contacts* (those the village shows)."""
    return {**power, "supervisors": supervisors(power["supervision"], contacts, village)}


def village_snapshot(
    county: County, village_code: str, version: int, content_date: str
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Return the village's snapshot (plain JSON) and the media files it needs, by blob name.

    Photo references ('media/x.jpg') are replaced by content-addressed blob names.
    :raises KeyError: when the county has no village *village_code*.
    """
    villages = {v["code"]: v for v in county.villages()}
    if village_code not in villages:
        raise KeyError(
            tr(
                "no village %(code)r in county %(county)r; known: %(known)s",
                code=village_code,
                county=county.info["code"],
                known=", ".join(villages),
            )
        )
    village = villages[village_code]
    names = media_names(county.media)
    notices = [village_notice(n, names) for n in county.notices if in_scope(n["scope"], village)]
    ten_ones: dict[str, Any] = {
        **county.ten_ones,
        "items": [{**t, "photo": names[t["photo"]]} if "photo" in t else t for t in county.ten_ones.get("items", [])],
    }
    contacts = [c for c in county.contacts if in_scope(c["scope"], village)]
    powers = [village_power(p, contacts, village) for p in county.powers if in_scope(p["scope"], village)]
    snapshot = {
        "version": version,
        "content_date": content_date,
        "county": {k: v for k, v in county.info.items() if k != "townships"},
        "village": village,
        "powers": powers,
        "notices": notices,
        "catalogue": county.catalogue,
        "ten_ones": ten_ones,
        "contacts": contacts,
        "duties": [d for d in county.duties if in_scope(d["scope"], village)],
        "guides": [g for g in county.guides if in_scope(g["scope"], village)],
        "calendar": county.calendar,  # county-wide: every village counts working days on it
    }
    used = {name for n in notices for name in n["photos"]} | {t["photo"] for t in ten_ones["items"] if "photo" in t}
    files = {names[ref]: file for ref, file in county.media.items() if names[ref] in used}
    return snapshot, files
