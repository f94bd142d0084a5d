"""Cut a county's content into signed-repository targets, scoped so a kiosk fetches only its own.

Scopes: ``county`` (everything county-wide: county info, ten ones, catalogue, the official calendar,
county-wide powers, notices, contacts, disclosure duties and guides), ``township/<code>`` and ``village/<code>``.
Each scope has

    <scope>/manifest.json            how many shards the scope has, and the date its content changed
    <scope>/shard-<k>-of-<n>.json.gz  the scope's items, split by a hash of their id
    <scope>/media/<name>              the photos its items refer to as media/<name>

Items are spread over shards so that one changed item changes one shard of a few tens of
kilobytes, not the whole scope (README: the update channel). Photos are listed by a role of their own
(repository.py), so an edit to text does not make kiosks download the list of every photo again.
Every file is byte-for-byte deterministic: the same content gives the same targets, so
publishing it again changes nothing.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sync.contract.channel import CONTENT_FORMAT, canonical, photo_refs, scope_of, shard_name
from sync.contract.content import County
from sync.contract.search import with_initials

SHARD_TARGET_BYTES = 128 * 1024  # uncompressed JSON per shard, roughly
_FIRST_DAY, _LAST_DAY, _PER_DAY = date(2000, 1, 1), 2**16, 2**16  # notice_orders: days from 2000, notices a day


@dataclass
class ScopeBundle:
    """One scope's content as targets, plus a digest per item for the publish summary."""

    scope: str
    shards: dict[str, bytes] = field(default_factory=dict)  # "shard-000-of-004.json.gz" -> gzip JSON
    photos: dict[str, Path] = field(default_factory=dict)  # "media/x.jpg" -> source file
    items: dict[str, str] = field(default_factory=dict)  # "kind/id" -> digest, for summaries


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def _items(county: County) -> dict[str, list[dict[str, Any]]]:
    """Group every item of the county by bundle scope, as {kind, id, data}."""
    scopes: dict[str, list[dict[str, Any]]] = {"county": []}
    county_wide = scopes["county"]
    county_wide.append({"kind": "county", "id": county.info["code"], "data": county.info})
    if county.ten_ones:
        county_wide.append({"kind": "ten_ones", "id": "ten-ones", "data": with_initials("ten_ones", county.ten_ones)})
    # "order" keeps each kind's order from the source files (shards are sorted by id instead).
    county_wide += [
        {"kind": "catalogue", "id": c["id"], "order": n, "data": with_initials("catalogue", c)}
        for n, c in enumerate(county.catalogue)
    ]
    county_wide += [{"kind": "calendar", "id": str(year["year"]), "data": year} for year in county.calendar]
    scoped = (
        ("power", county.powers),
        ("notice", county.notices),
        ("contact", county.contacts),
        ("duty", county.duties),
        ("guide", county.guides),
    )
    for kind, entries in scoped:
        orders = notice_orders(entries) if kind == "notice" else range(len(entries))
        for order, entry in zip(orders, entries, strict=True):
            data = with_initials(kind, entry) if kind in ("power", "notice") else entry  # only these are searched
            item = {"kind": kind, "id": entry["id"], "order": order, "data": data}
            scopes.setdefault(scope_of(entry["scope"]), []).append(item)
    return scopes


def notice_orders(notices: Sequence[Mapping[str, Any]]) -> list[int]:
    """Order notices newest first: by the day each was published, then by id.

    Notices come every month for years, each in a file of its own, named anyhow. Ordered by file, a new
    notice would move every notice after it, and every shard they are in would change; ordered by day, it
    moves only the notices of its own day (a kiosk's install then writes only what changed: issue 17).
    """
    ids = [str(n["id"]) for n in notices]
    days = [(date.fromisoformat(str(n["published"])[:10]) - _FIRST_DAY).days for n in notices]
    orders: dict[str, int] = {}
    previous, rank = None, 0
    for day, notice_id in sorted(zip(days, ids, strict=True)):
        rank = rank + 1 if day == previous else 0
        previous = day
        orders[notice_id] = (_LAST_DAY - day) * _PER_DAY + rank
    return [orders[notice_id] for notice_id in ids]


def _shard_count(total_bytes: int) -> int:
    count = 1
    while total_bytes / count > SHARD_TARGET_BYTES:
        count *= 2
    return count


def _shard_of(item: dict[str, Any], count: int) -> int:
    key = f"{item['kind']}/{item['id']}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") % count


def content_digest(item: dict[str, Any]) -> str:
    """The digest of what an item says, leaving out its place in the county's list ("order"): an item
    added before it moves it, and changes nothing in it (for the summary of a publish)."""
    return hashlib.sha256(canonical({key: value for key, value in item.items() if key != "order"})).hexdigest()


def build_scope(scope: str, items: list[dict[str, Any]], county: County) -> ScopeBundle:
    """Build one scope's shards and list its photos."""
    bundle = ScopeBundle(scope)
    encoded = [(item, canonical(item)) for item in sorted(items, key=lambda i: (i["kind"], i["id"]))]
    count = _shard_count(sum(len(data) for _item, data in encoded))
    shards: list[list[dict[str, Any]]] = [[] for _ in range(count)]
    for item, _data in encoded:
        shards[_shard_of(item, count)].append(item)
        bundle.items[f"{item['kind']}/{item['id']}"] = content_digest(item)
    for index, shard in enumerate(shards):
        bundle.shards[shard_name(index, count)] = _gzip(canonical({"scope": scope, "items": shard}))
    for item, _data in encoded:
        for ref in photo_refs(item):
            bundle.photos[ref] = county.media[ref]
    return bundle


def manifest(bundle: ScopeBundle, published: str) -> bytes:
    """Return the scope's manifest: its number of shards, the date its content last changed and its form."""
    return canonical(
        {"scope": bundle.scope, "published": published, "shard_count": len(bundle.shards), "format": CONTENT_FORMAT}
    )


def build_bundles(county: County) -> dict[str, ScopeBundle]:
    """Cut the whole county into scope bundles, keyed by scope path."""
    return {scope: build_scope(scope, items, county) for scope, items in _items(county).items()}
