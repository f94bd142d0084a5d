"""What travels between the county's repository and a kiosk: role and target names, shards, items.

Both sides use this module and nothing else of each other (sync/publish signs, sync/receive
verifies). Scopes: ``county`` (everything county-wide), ``township/<code>`` and ``village/<code>``.
Each scope has

    <scope>/manifest.json            how many shards the scope has, the date its content changed, and the
                                     form of its content (CONTENT_FORMAT)
    <scope>/shard-<k>-of-<n>.json.gz  the scope's items {kind, id, order, data}, split by a hash of their id
    <scope>/media/<name>              the photos its items refer to as media/<name>

and is signed by a role of its own, its photos by another (media-<role>).
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any, cast

from sync.contract.kinds import (
    SORT,
    CalendarYear,
    CatalogueEntry,
    Contact,
    County,
    CountyInfo,
    Duty,
    Guide,
    Notice,
    Power,
    TenOnes,
    sort_value,
)

# The form of the content a kiosk can read, in each scope's manifest. Raise it only when a kiosk of this
# software would read the items wrong or fail on them (a field it needs that the content no longer has, a
# meaning changed); a new kind or field that older kiosks may ignore keeps it. A kiosk refuses a higher form
# with a message that says to update its software first, and keeps the content it has.
# 2: supervision {village: true}, 四议两公开 outcomes, 公开内容 as a list, guides and the calendar (issue 16).
CONTENT_FORMAT = 2

SIGNED_AT = "x-signed-at"  # signing time in timestamp metadata: a trusted lower bound for kiosk clocks

MAX_ITEM_BYTES = 8 * 1024 * 1024  # decompressed shard limit on the kiosk (zip-bomb guard)


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))  # made once, not a call


def canonical(value: Any) -> bytes:
    """Serialise *value* the same way every time."""
    return _CANONICAL.encode(value).encode()


def scope_of(entry_scope: str) -> str:
    """Map a content scope ('county', 'township:x', 'village:y') to a bundle scope path."""
    return entry_scope.replace(":", "/")


MEDIA_PREFIX = "media-"  # scope roles start with county, township- or village-: no clash


def role_of(scope: str) -> str:
    """Name the signed role that holds a scope: 'county', 'township-x', 'village-y'."""
    return scope.replace("/", "-")


def media_role_of(scope: str) -> str:
    """Name the signed role that holds a scope's photos: 'media-county', 'media-village-y'."""
    return MEDIA_PREFIX + role_of(scope)


SORTED_KINDS = ("power", "notice", "catalogue")  # the kinds whose rows and search rows are numbered by SORT


def placed(item: dict[str, Any]) -> int:
    """Return an item's place among its kind on the kiosk (kinds.sort_value)."""
    return sort_value(int(item.get("order", 0)), str(item["data"].get("scope", "county")))


def county_from_items(items: list[dict[str, Any]], media: dict[str, Path]) -> County:
    """Rebuild a County from the items of downloaded scopes (the kiosk's side of _items)."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for item in sorted(items, key=lambda i: (i["kind"], placed(i), i["id"])):
        if item["kind"] in SORTED_KINDS:
            item["data"][SORT] = placed(item)
        by_kind.setdefault(item["kind"], []).append(item["data"])
    (info,) = by_kind.get("county", [None])
    if info is None:
        raise ValueError("the county-wide content has no county information")
    ten_ones = by_kind.get("ten_ones", [{}])[0]
    # Items come from verified shards the county's checked content was cut into.
    return County(
        cast(CountyInfo, info),
        cast(list[Power], by_kind.get("power", [])),
        cast(list[Notice], by_kind.get("notice", [])),
        cast(list[CatalogueEntry], by_kind.get("catalogue", [])),
        cast(TenOnes, ten_ones),
        cast(list[Contact], by_kind.get("contact", [])),
        media,
        duties=cast(list[Duty], by_kind.get("duty", [])),  # none from a county published before duties existed
        guides=cast(list[Guide], by_kind.get("guide", [])),  # nor guides before guides existed
        calendar=cast(list[CalendarYear], by_kind.get("calendar", [])),  # nor before the calendar
    )


def photo_refs(item: dict[str, Any]) -> list[str]:
    """Return the photos ('media/x.jpg') an item shows."""
    data = item["data"]
    if item["kind"] == "notice":
        return list(data.get("photos", []))
    if item["kind"] == "ten_ones":
        return [t["photo"] for t in data.get("items", []) if "photo" in t]
    return []


def shard_name(index: int, count: int) -> str:
    return f"shard-{index:03d}-of-{count:03d}.json.gz"


def read_shard(data: bytes) -> list[dict[str, Any]]:
    """Return the items of a downloaded (already verified) shard, refusing a decompression bomb."""
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
        raw = stream.read(MAX_ITEM_BYTES + 1)
    if len(raw) > MAX_ITEM_BYTES:
        raise ValueError("a content shard unpacks to more than its limit")
    items: list[dict[str, Any]] = json.loads(raw)["items"]
    return items
