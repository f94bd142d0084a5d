"""What each village's kiosk shows, as the county server knows it: its published content and its notices.

The published content is read from the signed repository's own files on disk (no HTTP, and no TUF
client: these are the files this server signed), rebuilt into a County once per published snapshot
version, and cut per village by ``sync.contract.snapshot.village_snapshot``, the function a kiosk's sync
installs from. A village's own notices arrive through the kiosks' outbox (``uploads`` in county.db).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Set
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from kiosk.county import village_photos
from kiosk.data.queries import CONTACT_KINDS, DOMAINS
from sync.contract.channel import MEDIA_PREFIX, county_from_items, read_shard, shard_name
from sync.contract.content import County
from sync.contract.dates import DEFAULT_TIMEZONE, MONDAY_TO_FRIDAY, WorkCalendar, local_now, parse_moment
from sync.contract.i18n import tr
from sync.contract.kinds import in_scope
from sync.contract.official_calendar import work_calendar
from sync.contract.render import render_markdown
from sync.contract.snapshot import village_snapshot
from sync.publish.repository import Repository
from sync.receive.database import CATEGORY_ORDER

log = logging.getLogger(__name__)

# Villages whose view stays built. On 10,000 items one view holds about 1.3 MB and takes about 20 ms to cut.
VILLAGES_KEPT = 16


class NothingPublished(Exception):
    """The repository has no county content yet (or is not a repository)."""


@dataclass
class VillageView:
    """One village's snapshot, indexed for the phone pages."""

    snapshot: dict[str, Any]
    photos: dict[str, Path]  # blob name -> the repository's target file
    powers: dict[str, dict[str, Any]]
    categories: list[dict[str, Any]]  # {order, name, items}, in the kiosk's order
    notices: dict[str, dict[str, Any]]  # the county's, in scope
    catalogue: dict[str, dict[str, Any]]
    areas: list[dict[str, Any]]  # {order, name, items}
    contacts: dict[str, list[dict[str, Any]]]  # by kind, the village's own first

    def now(self) -> datetime:
        """Return the county's local time now, to the second: what the village's pages judge notices by.

        This server's own clock: it signs the content, so it needs no floor as a kiosk does.
        """
        return local_now(self.snapshot["county"].get("timezone", DEFAULT_TIMEZONE)).replace(microsecond=0)


def _categories(powers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group powers as the kiosk does (sync/database.py): known categories first, then as they come."""
    names = list(CATEGORY_ORDER)
    names += [p["category"] for p in powers if p["category"] not in names]
    names = list(dict.fromkeys(names))
    groups = [
        {"order": n, "name": name, "items": [p for p in powers if p["category"] == name]}
        for n, name in enumerate(names)
    ]
    return [group for group in groups if group["items"]]


def _areas(catalogue: list[dict[str, Any]]) -> list[dict[str, Any]]:
    areas: dict[int, dict[str, Any]] = {}
    for entry in catalogue:
        areas.setdefault(entry["area_order"], {"order": entry["area_order"], "name": entry["area"], "items": []})
        areas[entry["area_order"]]["items"].append(entry)
    return [areas[order] for order in sorted(areas)]


def _contacts(contacts: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    nearest = sorted(contacts, key=lambda c: {"village": 0, "township": 1}.get(c["scope"].split(":")[0], 2))
    grouped: dict[str, list[dict[str, Any]]] = {kind: [] for kind in CONTACT_KINDS}
    for contact in nearest:
        grouped.setdefault(contact["kind"], []).append(contact)
    return grouped


@dataclass
class Published:
    """One published snapshot version of the county, and the village views cut from it so far."""

    version: int
    county: County
    scope_dates: dict[str, str]  # scope ('county', 'village/x') -> the date its content last changed
    views: OrderedDict[str, VillageView] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @functools.cached_property
    def titles(self) -> dict[tuple[str, str], str]:
        """The title of every county item by (kind, id): power, notice, catalogue."""
        county = self.county
        titles = {("power", p["id"]): p["name"] for p in county.powers}
        titles |= {("notice", n["id"]): n["title"] for n in county.notices}
        titles |= {("catalogue", c["id"]): " · ".join(filter(None, (c["level1"], c.get("level2"))))
                   for c in county.catalogue}  # fmt: skip
        return titles

    @functools.cached_property
    def calendar(self) -> WorkCalendar:
        """The official calendar as published: what the county counts 公示期 on."""
        return work_calendar(self.county.calendar)

    @functools.cached_property
    def village_names(self) -> dict[str, str]:
        """Every village's name by its code."""
        return {village["code"]: village["name"] for village in self.county.villages()}

    def village_info(self, code: str) -> dict[str, str] | None:
        return next((v for v in self.county.villages() if v["code"] == code), None)

    def village(self, code: str) -> VillageView | None:
        """Return the village's view, cut on first use and kept for the next few hundred requests."""
        with self.lock:
            if code in self.views:
                self.views.move_to_end(code)
                return self.views[code]
        info = self.village_info(code)
        if info is None:
            return None
        view = self._cut(info)
        with self.lock:
            self.views[code] = view
            while len(self.views) > VILLAGES_KEPT:
                self.views.popitem(last=False)
        return view

    def _cut(self, village: dict[str, str]) -> VillageView:
        county = self.county
        # village_snapshot hashes every photo of the county it is given: give it only this village's.
        wanted = {ref for n in county.notices if in_scope(n["scope"], village) for ref in n.get("photos", [])}
        wanted |= {t["photo"] for t in county.ten_ones.get("items", []) if "photo" in t}
        own = dataclasses.replace(county, media={ref: f for ref, f in county.media.items() if ref in wanted})
        scopes = ("county", f"township/{village['township']}", f"village/{village['code']}")
        content_date = max(self.scope_dates[s] for s in scopes if s in self.scope_dates)
        snapshot, photos = village_snapshot(own, village["code"], self.version, content_date)
        return VillageView(
            snapshot=snapshot,
            photos=photos,
            powers={p["id"]: p for p in snapshot["powers"]},
            categories=_categories(snapshot["powers"]),
            notices={n["id"]: n for n in snapshot["notices"]},
            catalogue={c["id"]: c for c in snapshot["catalogue"]},
            areas=_areas(snapshot["catalogue"]),
            contacts=_contacts(snapshot["contacts"]),
        )


def read_published(repository: Repository) -> Published:
    """Rebuild the county from the repository's current snapshot: every scope, every photo.

    :raises NothingPublished: when no county-wide content has been published yet.
    """
    snapshot = repository.snapshot()
    items: list[dict[str, Any]] = []
    media: dict[str, Path] = {}
    dates: dict[str, str] = {}
    for name in sorted(snapshot.signed.meta.keys() - {"targets.json"}):
        role = name.removesuffix(".json")
        targets = repository.role(role, snapshot).signed.targets
        if role.startswith(MEDIA_PREFIX):
            for path, info in targets.items():
                media["media/" + path.rpartition("/media/")[2]] = repository.target_file(path, info)
            continue
        for path, info in targets.items():
            if not path.endswith("/manifest.json"):
                continue
            scope = path.removesuffix("/manifest.json")
            manifest = json.loads(repository.target_file(path, info).read_bytes())
            dates[scope] = manifest["published"]
            count = int(manifest["shard_count"])
            for index in range(count):
                shard = f"{scope}/{shard_name(index, count)}"
                items += read_shard(repository.target_file(shard, targets[shard]).read_bytes())
    if "county" not in dates:
        raise NothingPublished()
    return Published(snapshot.signed.version, county_from_items(items, media), dates)


class PublishedCounty:
    """The county as last published in a repository folder, rebuilt only when a new snapshot is signed.

    Each request costs one stat of timestamp.json; the nightly re-signing of the timestamp costs
    one small read. A rebuild (seconds for 10,000 items) is done by one thread while the others
    go on serving the version they had.
    """

    def __init__(self, path: Path) -> None:
        self.repository = Repository(path)
        self._held: tuple[tuple[int, int, int], Published] | None = None  # timestamp.json's stat, what it named
        self._building = threading.Lock()

    def _timestamp_stamp(self) -> tuple[int, int, int]:
        try:
            info = (self.repository.metadata / "timestamp.json").stat()
        except FileNotFoundError:
            raise NothingPublished() from None
        return info.st_ino, info.st_size, info.st_mtime_ns

    def current(self) -> Published:
        """Return the published county. :raises NothingPublished: before anything is published."""
        stamp = self._timestamp_stamp()
        held = self._held
        if held is not None and held[0] == stamp:
            return held[1]
        # Wait only if there is nothing to serve meanwhile.
        if not self._building.acquire(blocking=held is None):
            assert held is not None
            return held[1]
        try:
            held = self._held
            if held is not None and held[0] == stamp:
                return held[1]  # another thread read it while this one waited
            version = self.repository.timestamp().signed.snapshot_meta.version
            published = held[1] if held is not None and held[1].version == version else read_published(self.repository)
            self._held = (stamp, published)
            return published
        finally:
            self._building.release()


def published_calendar(county: PublishedCounty) -> WorkCalendar:
    """Return the official calendar the county last published (Monday to Friday before anything is published).

    A repository that cannot be read gives Monday to Friday too, and says so in the log: the kiosks'
    uploads are still taken (a notice taken down early is then judged without the holidays).
    """
    try:
        return county.current().calendar
    except NothingPublished:
        return MONDAY_TO_FRIDAY
    except (OSError, ValueError, KeyError) as error:
        log.warning(tr("the published content could not be read (%(error)s): 公示期 are counted Monday to Friday",
                       error=error))  # fmt: skip
        return MONDAY_TO_FRIDAY


# --- the village's own notices, uploaded by its kiosks ---------------------------------------


def latest_notice_changes(db: sqlite3.Connection, village: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """Return the latest change of each village notice, by (village, notice id), as kept when it arrived.

    Each change is the upload's payload ({action, at, notice}) with the kiosk that sent it
    (uploads.py keeps them in latest_notices: latest by `at`, then by arrival).
    """
    where, values = (" where village = ?", (village,)) if village else ("", ())
    rows = db.execute(f"select village, notice, kiosk_id, payload from latest_notices{where}", values)  # noqa: S608
    return {(place, notice): {**json.loads(payload), "kiosk_id": kiosk_id} for place, notice, kiosk_id, payload in rows}


def village_notices(db: sqlite3.Connection, village: str) -> dict[str, dict[str, Any]]:
    """Return the village's published notices by id: each notice's latest change wins.

    Each shows the photos of it that its kiosk has sent (village_photos.py).
    """
    shown = {}
    photos = village_photos.held(db, village)
    for (_village, notice_id), change in latest_notice_changes(db, village).items():
        notice = change["notice"]
        if change["action"] in ("publish", "update") and notice.get("state") == "published":
            shown[notice_id] = _shown(notice, photos)
    return {notice_id: notice for notice_id, notice in shown.items() if notice is not None}


def _shown(notice: dict[str, Any], photos: Set[str] = frozenset()) -> dict[str, Any] | None:
    """Return an uploaded notice in the county's notice form, or None if it is not well formed.

    Its photos are those of *photos* it names (a kiosk sends them as a JSON list in text).
    """
    try:
        named = notice.get("photos") or "[]"
        named = json.loads(named) if isinstance(named, str) else named
        shown_photos = [name for name in named if isinstance(name, str) and name in photos]
        title, body, domain = notice["title"], notice["body"], notice["domain"]
        published, expires = notice["published"], notice.get("expires")
        if not (isinstance(title, str) and isinstance(body, str) and domain in DOMAINS.values()):
            return None
        # The exact times when the kiosk sent them, else the dates alone.
        published_at = _sent_moment(notice.get("published_at") or published)
        exact_end = notice.get("expires_at")
        expires_at = _sent_moment(exact_end) if exact_end else None
        if expires_at is None and expires:
            expires_at = parse_moment(str(expires)[:16], end_of_day=True)
        days = notice.get("min_posting_days")
        days = int(days) if days else None
    except (KeyError, TypeError, ValueError):
        return None
    return {
        "id": notice["id"], "domain": domain, "title": title, "published": str(published)[:10],
        "expires": str(expires)[:10] if expires else None, "published_at": published_at.isoformat(sep=" "),
        "expires_at": expires_at.isoformat(sep=" ") if expires_at else None, "pinned": bool(notice.get("pinned")),
        "min_posting_days": days, "photos": shown_photos, "body_html": _markdown(body), "scope": "village",
    }  # fmt: skip


def _sent_moment(value: Any) -> datetime:
    """Parse a time a kiosk sent, to the second as the kiosk judges it ('23:59:59' for a whole day)."""
    text = str(value)
    return datetime.fromisoformat(text[:19]) if len(text) >= 19 else parse_moment(text[:16])


@lru_cache(maxsize=512)
def _markdown(text: str) -> str:
    return render_markdown(text)
