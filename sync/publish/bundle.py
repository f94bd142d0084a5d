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

An item is held as the canonical JSON of its data (`Item`), and a shard is written from those bytes
without decoding them, so a publish that keeps its items in a cache (sync/publish/changed_files.py)
reads back only the items of the shards it must make again: a shard's `fingerprint` says whether it would
come out as it did last time.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from sync.contract.channel import CONTENT_FORMAT, canonical, photo_refs, scope_of, shard_name
from sync.contract.content import County
from sync.contract.search import with_initials

SHARD_TARGET_BYTES = 512 * 1024  # uncompressed JSON per shard, roughly
_FIRST_DAY, _LAST_DAY, _PER_DAY = date(2000, 1, 1), 2**16, 2**16  # notice_orders: days from 2000, notices a day


@dataclass(slots=True)
class Item:
    """One item as its shard holds it, {kind, id, order, data}: *data* is the canonical JSON of what it says.

    *data* is None for an item a publish's cache holds: its *digest* (content_digest) and *size* (of the data)
    stand for it, and its data is read only when a shard it is in must be made again.
    """

    kind: str
    id: str
    scope: str  # the bundle scope: 'county', 'township/x', 'village/y'
    order: int | None  # its place in its kind's list, as the source files give it (None: one of its kind)
    digest: str
    size: int
    photos: tuple[str, ...] = ()
    data: bytes | None = None
    source: str | None = None  # the file it was made of: where the publish cache holds its data

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.id}"

    def encoded(self, data: bytes) -> bytes:
        """The item as `canonical` writes it, {"data", "id", "kind", "order"}, around its data's JSON *data*."""
        order = b"" if self.order is None else b',"order":' + str(self.order).encode()
        return b'{"data":' + data + b',"id":' + canonical(self.id) + b',"kind":' + canonical(self.kind) + order + b"}"

    @property
    def length(self) -> int:
        """The length of the item as its shard holds it (uncompressed)."""
        order = 0 if self.order is None else 9 + len(str(self.order))  # ,"order":N
        return 23 + _json_length(self.id) + _json_length(self.kind) + order + self.size  # {"data":,"id":,"kind":}


_PLAIN = re.compile(r'[^"\\\x00-\x1f]*')  # what JSON writes as it is, between its quotes


def _json_length(text: str) -> int:
    """len(canonical(text)), without writing it for the plain text ids and kinds are."""
    return len(text.encode()) + 2 if _PLAIN.fullmatch(text) else len(canonical(text))


def item_of(kind: str, item_id: str, scope: str, order: int | None, value: Any) -> Item:
    """The Item of one entry of the county whose data is *value*."""
    data = canonical(value)
    photos = tuple(photo_refs({"kind": kind, "data": value}))
    return Item(kind, item_id, scope, order, data_digest(kind, item_id, data), len(data), photos, data)


def data_digest(kind: str, item_id: str, data: bytes) -> str:
    """The content_digest of the item of *kind* and *item_id* whose data is the canonical JSON *data*."""
    head = b'{"data":' + data + b',"id":' + canonical(item_id) + b',"kind":' + canonical(kind) + b"}"
    return hashlib.sha256(head).hexdigest()


def content_digest(item: dict[str, Any]) -> str:
    """The digest of what an item says, leaving out its place in the county's list ("order"): an item
    added before it moves it, and changes nothing in it (for the summary of a publish)."""
    return hashlib.sha256(canonical({key: value for key, value in item.items() if key != "order"})).hexdigest()


def county_items(county: County, powers: list[Item] | None = None, notices: list[Item] | None = None) -> list[Item]:
    """Every item of the county; its power items and notices are *powers* and *notices* when a cache gives them."""
    items = [item_of("county", county.info["code"], "county", None, county.info)]
    if county.ten_ones:
        items.append(item_of("ten_ones", "ten-ones", "county", None, with_initials("ten_ones", county.ten_ones)))
    # "order" keeps each kind's order from the source files (shards are sorted by id instead).
    items += [item_of("catalogue", c["id"], "county", n, with_initials("catalogue", c))
              for n, c in enumerate(county.catalogue)]  # fmt: skip
    items += [item_of("calendar", str(year["year"]), "county", None, year) for year in county.calendar]
    searched = (("power", county.powers, powers), ("notice", county.notices, notices))  # only these are searched
    for kind, entries, given in searched:
        if given is not None:
            items += given
            continue
        orders = notice_orders(entries) if kind == "notice" else range(len(entries))
        items += [item_of(kind, e["id"], scope_of(e["scope"]), n, with_initials(kind, e))
                  for n, e in zip(orders, entries, strict=True)]  # fmt: skip
    for kind, others in (("contact", county.contacts), ("duty", county.duties), ("guide", county.guides)):
        items += [item_of(kind, e["id"], scope_of(e["scope"]), n, e) for n, e in enumerate(others)]
    return items


@dataclass
class Shard:
    """One shard of a scope: its file name and its items, sorted by kind and id."""

    name: str
    items: list[Item]

    @cached_property
    def fingerprint(self) -> str:
        """What makes the shard's bytes: each item's digest (its kind, id and data) and place, in order."""
        digest = hashlib.sha256()
        for item in self.items:
            digest.update(f"{item.digest} {item.order}\n".encode())
        return digest.hexdigest()

    def encoded(self, scope: str, data_of: Callable[[Item], bytes]) -> bytes:
        """The shard's file: gzip of canonical({"scope", "items"}); *data_of* reads an item's data a cache holds."""
        parts = [item.encoded(item.data if item.data is not None else data_of(item)) for item in self.items]
        return _gzip(b'{"items":[' + b",".join(parts) + b'],"scope":' + canonical(scope) + b"}")


@dataclass
class ScopeLayout:
    """One scope's items cut into shards, and the photos they show."""

    scope: str
    shards: list[Shard] = field(default_factory=list)
    photos: dict[str, Path] = field(default_factory=dict)  # "media/x.jpg" -> source file

    @property
    def items(self) -> dict[str, str]:
        """kind/id -> digest of every item of the scope (for summaries)."""
        return {item.key: item.digest for shard in self.shards for item in shard.items}


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


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


def _shard_of(key: str, count: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % count


def layouts(items: list[Item], media: dict[str, Path]) -> dict[str, ScopeLayout]:
    """Cut *items* into each scope's shards; *media* gives the file of every photo ("media/x.jpg") they show."""
    by_scope: dict[str, list[Item]] = {"county": []}
    for item in items:
        by_scope.setdefault(item.scope, []).append(item)
    found = {}
    for scope, scoped in by_scope.items():
        scoped.sort(key=lambda item: (item.kind, item.id))
        count = _shard_count(sum(item.length for item in scoped))
        shards = [Shard(shard_name(index, count), []) for index in range(count)]
        for item in scoped:
            shards[_shard_of(item.key, count)].items.append(item)
        photos = {ref: media[ref] for item in scoped for ref in item.photos}
        found[scope] = ScopeLayout(scope, shards, photos)
    return found


def manifest(scope: str, shard_count: int, published: str) -> bytes:
    """Return the scope's manifest: its number of shards, the date its content last changed and its form."""
    return canonical({"scope": scope, "published": published, "shard_count": shard_count, "format": CONTENT_FORMAT})


@dataclass
class ScopeBundle:
    """One scope's content as targets, plus a digest per item (what tests and tools read of a whole county)."""

    scope: str
    shards: dict[str, bytes] = field(default_factory=dict)  # "shard-000-of-004.json.gz" -> gzip JSON
    photos: dict[str, Path] = field(default_factory=dict)  # "media/x.jpg" -> source file
    items: dict[str, str] = field(default_factory=dict)  # "kind/id" -> digest, for summaries


def build_bundles(county: County) -> dict[str, ScopeBundle]:
    """Cut the whole county into scope bundles, keyed by scope path."""

    def no_cache(item: Item) -> bytes:
        raise AssertionError(f"{item.key}: every item of a County has its data")

    return {
        scope: ScopeBundle(scope, {s.name: s.encoded(scope, no_cache) for s in layout.shards}, layout.photos,
                           layout.items)
        for scope, layout in layouts(county_items(county), county.media).items()
    }  # fmt: skip
