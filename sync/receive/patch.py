"""Write a new version as a copy of the installed one with only the items that changed.

A county's content grows for years while a night changes a few items. The sync (updater.py) compares
the signed files the installed version was built from (its ``targets`` table) with those the county
lists now. When only shards of power items, notices and catalogue items changed, it reads the old and
the new form of each changed shard (item_changes) and write_patched copies the installed database and
replaces, in the copy, the rows, search rows and QR codes of the items that differ; the lists and
counts (lists.py) are worked out again. Anything else (the county's information, contacts, which a
power item's supervisors are filled from, guides, duties, the ten ones, a photo's bytes, a category
outside the standard ones) reaches many rows, and the whole version is written again
(database.write_database), as the first install does. install.install_patch makes the copy current
as it does a whole version: atomically, the previous version kept.

An item's rows are found by its id and its place (kinds.sort_value), which both writings give it the
same way: a patched version holds what a whole install of the same content holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sync.contract.channel import photo_refs, placed, read_shard
from sync.contract.kinds import Contact, in_scope
from sync.contract.search import (
    BATCH,
    SearchRows,
    delete_document,
    document,
    search_rowid,
    search_rows,
    write_search_rows,
)
from sync.contract.snapshot import media_names, village_notice, village_power
from sync.receive.database import (
    CATEGORY_ORDER,
    DatabaseCheckFailed,
    catalogue_row,
    notice_row,
    power_row,
)
from sync.receive.lists import write_lists
from sync.receive.qr_codes import mobile_url, update_qr_codes

TABLES = {"power": "powers", "notice": "notices", "catalogue": "catalogue"}  # the kinds a patch writes
MOST_SHARDS = 64  # changed shards of a scope beyond which the whole version is written (a county that changed much)


class NotPatchable(Exception):
    """The change reaches more than its own items' rows: the whole version is written again."""


@dataclass
class Patch:
    """What a night changed, as items of the shards ({kind, id, order, data}), and what the new version records."""

    removed: list[dict[str, Any]] = field(default_factory=list)  # the old form of each item changed or gone
    added: list[dict[str, Any]] = field(default_factory=list)  # the new form of each item changed or new
    photos: dict[str, Path] = field(default_factory=dict)  # the added items' photos ('media/x.jpg') as files
    meta: dict[str, str] = field(default_factory=dict)  # version, content_date, source
    targets: dict[str, str] = field(default_factory=dict)  # the signed files it is built from, with their SHA-256


def plan_patch(
    old: Mapping[str, str], new: Mapping[str, str], scopes: Iterable[str], kept: Callable[[str], bytes],
    fetched: Callable[[list[str]], list[bytes]],
) -> Patch:  # fmt: skip
    """Find the items that changed between two listings of signed files (path -> SHA-256: updater._listing).

    :param kept: the bytes of a file the installed version was built from, by its SHA-256.
    :param fetched: the bytes of the new files at these paths, fetched and verified.
    :raises NotPatchable: when the whole version must be written again.
    """
    if not old:
        raise NotPatchable("the installed version was written before the files it is built from were kept")
    changed = {path for path in old.keys() | new.keys() if old.get(path) != new.get(path)}
    if any("/media/" in path and path in old and path in new for path in changed):
        raise NotPatchable("a photo changed under its name")  # every item showing it would change
    patch = Patch()
    for scope in scopes:
        shards = sorted(path for path in changed if path.startswith(f"{scope}/shard-"))
        if len(shards) > MOST_SHARDS:
            raise NotPatchable(f"{len(shards)} shards of {scope} changed")
        olds = (item for path in shards if path in old for item in read_shard(_verified(kept, old[path])))
        news = (item for data in fetched([path for path in shards if path in new]) for item in read_shard(data))
        found = item_changes(olds, news)
        patch.removed += found.removed
        patch.added += found.added
    return patch


def _verified(kept: Callable[[str], bytes], sha256: str) -> bytes:
    try:
        data = kept(sha256)
    except OSError as error:
        raise NotPatchable(f"a file the installed version was built from is not kept ({error})") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise NotPatchable(f"a file the installed version was built from is damaged ({sha256})")
    return data


def item_changes(old_items: Iterable[dict[str, Any]], new_items: Iterable[dict[str, Any]]) -> Patch:
    """Compare the items of a scope's changed shards, old and new; return those that differ.

    :raises NotPatchable: when an item of another kind, or in a category outside the standard ones, differs.
    """
    old = {(item["kind"], item["id"]): item for item in old_items}
    new = {(item["kind"], item["id"]): item for item in new_items}
    patch = Patch(
        removed=[item for key, item in old.items() if new.get(key) != item],
        added=[item for key, item in new.items() if old.get(key) != item],
    )
    for item in patch.removed + patch.added:
        if item["kind"] not in TABLES:
            raise NotPatchable(f"a {item['kind']} item changed ({item['id']})")
        if item["kind"] == "power" and item["data"]["category"] not in CATEGORY_ORDER:
            # Other categories are numbered in the order they first come: the whole list decides it.
            raise NotPatchable(f"a power item in the category {item['data']['category']!r} changed")
    return patch


def write_patched(target: Path, base: Path, patch: Patch) -> None:
    """Write into *target* a copy of the installed database *base* with *patch* applied, and check it."""
    shutil.copyfile(base, target)
    db = sqlite3.connect(target, isolation_level=None)
    try:
        db.execute("pragma journal_mode = off")  # a new file: a failure deletes it, nothing to roll back
        db.execute("begin")
        meta = dict(db.execute("select key, value from meta").fetchall())
        village = {"code": meta["village_code"], "township": meta["township"]}
        shown = _photos_of(db, patch.removed)
        for item in patch.removed:
            _remove(db, item)
        standard = {category: n for n, category in enumerate(CATEGORY_ORDER)}  # item_changes allows no other
        add_items(db, patch.added, village, _contacts(db), media_names(patch.photos), standard)
        db.executemany("insert or replace into meta values (?, ?)", patch.meta.items())
        db.execute("delete from targets")
        db.executemany("insert into targets values (?, ?)", patch.targets.items())
        _update_media(db, shown, _photos_of(db, patch.added))
        write_lists(db, _lists_touched(patch))
        update_qr_codes(db, {(item["kind"], item["id"]) for item in patch.removed + patch.added})
        db.execute("commit")
        _check(db, patch)
    finally:
        db.close()
    with open(target, "rb") as file:
        os.fsync(file.fileno())


def _photos_of(db: sqlite3.Connection, items: list[dict[str, Any]]) -> set[str]:
    """Return the photos (blob names) the rows of these items show in *db*."""
    ids = json.dumps([item["id"] for item in items if item["kind"] == "notice"])
    rows = db.execute("select photo.value from notices, json_each(notices.photos) as photo where notices.id in "
                      "(select value from json_each(?))", (ids,))  # fmt: skip
    return {row[0] for row in rows}


def _update_media(db: sqlite3.Connection, before: set[str], after: set[str]) -> None:
    """Keep the media table to the photos shown: add those the new rows show, drop those no row shows now."""
    db.executemany("insert or ignore into media values (?)", ((blob,) for blob in after))
    for blob in before - after:
        used = db.execute("select 1 from notices where instr(photos, ?) union all "
                          "select 1 from ten_ones where photo = ? limit 1", (f'"{blob}"', blob)).fetchone()  # fmt: skip
        if used is None:
            db.execute("delete from media where blob = ?", (blob,))


def _lists_touched(patch: Patch) -> dict[str, set[Any]]:
    """The parts of the lists (lists.write_lists) that the patch's items were or are in."""
    touched: dict[str, set[Any]] = {"power_categories": set(), "catalogue_areas": set(), "notice_counts": set()}
    for item in patch.removed + patch.added:
        data = item["data"]
        if item["kind"] == "power":
            touched["power_categories"].add(CATEGORY_ORDER.index(data["category"]))
        elif item["kind"] == "catalogue":
            touched["catalogue_areas"].add(data["area_order"])
        else:
            touched["notice_counts"].add(data["domain"])
    return {**touched, "power_places": touched["power_categories"]}


def _remove(db: sqlite3.Connection, item: dict[str, Any]) -> None:
    kind, data = item["kind"], item["data"]
    db.execute(f"delete from {TABLES[kind]} where id = ?", (item["id"],))  # noqa: S608 - the names above
    rowid = search_rowid(kind, placed(item))
    # Contentless full-text rows are forgotten only with the text they hold: only rows this item wrote.
    if db.execute("select 1 from search_items where rowid = ? and item_id = ?", (rowid, item["id"])).fetchone():
        delete_document(db, rowid, document(kind, data))


def add_items(
    db: sqlite3.Connection, items: Iterable[dict[str, Any]], village: Mapping[str, str], contacts: list[Contact],
    names: Mapping[str, str], categories: Mapping[str, int],
) -> None:  # fmt: skip
    """Write the rows and search rows of power items, notices and catalogue items (others are skipped).

    The rows of each BATCH of items are made (read from their shard, converted, their search text spaced) in a
    thread of its own while SQLite writes the batch before: SQLite lets go of Python's lock as it writes, so
    a whole install's two halves of work share the CPUs.

    :param village: code and township; *contacts*: those the village shows (its power items' supervisors).
    :param names: each photo's blob name (snapshot.media_names); *categories*: each category's place in the list.
    """
    for rows, search in _made_ahead(_batches(items, village, contacts, names, categories)):
        for insert, values in rows.items():
            db.executemany(insert, values)
        write_search_rows(db, search)


Batch = tuple[dict[str, list[tuple[Any, ...]]], SearchRows]  # rows by insert statement, and the search rows
Made = TypeVar("Made")


def _batches(
    items: Iterable[dict[str, Any]], village: Mapping[str, str], contacts: list[Contact], names: Mapping[str, str],
    categories: Mapping[str, int],
) -> Iterator[Batch]:  # fmt: skip
    """Yield the rows and search rows of add_items' items, BATCH items at a time (search.BATCH)."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    documents: list[tuple[int, dict[str, Any]]] = []
    for item in items:
        kind, data, place = item["kind"], item["data"], placed(item)
        if kind not in TABLES or not in_scope(data.get("scope", "county"), village):
            continue
        if kind == "power":
            row = power_row(village_power(data, contacts, village), place, categories[data["category"]])
        elif kind == "notice":
            row = notice_row(village_notice(data, names))
        else:
            row = catalogue_row(data, place)
        insert = f"insert into {TABLES[kind]} ({', '.join(row)}) values ({', '.join('?' * len(row))})"  # noqa: S608
        rows.setdefault(insert, []).append(tuple(row.values()))
        documents.append((search_rowid(kind, place), document(kind, data)))
        if len(documents) >= BATCH:
            yield rows, search_rows(documents)
            rows, documents = {}, []
    if documents:
        yield rows, search_rows(documents)


def _made_ahead(made: Iterable[Made]) -> Iterator[Made]:
    """Yield what *made* yields, each made in a thread of its own while the caller uses the one before: two
    batches in memory at once, no more.

    An exception in the thread is raised here, with its traceback; when the caller stops early (an exception
    of its own), the thread stops at its next batch.
    """
    handoff: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
    taken, stopped = threading.Event(), threading.Event()

    def hand(value: tuple[bool, Any]) -> bool:
        """Give *value* to the caller and wait until it takes it; False if it stopped instead."""
        handoff.put(value)  # the queue is empty: the one before was taken
        while not stopped.is_set():
            if taken.wait(0.1):
                taken.clear()
                return True
        return False

    def make() -> None:
        try:
            for batch in made:
                if not hand((True, batch)):
                    return
            hand((False, None))
        except BaseException as error:  # raised again in the caller's thread
            hand((False, error))

    thread = threading.Thread(target=make, name="install-batches", daemon=True)
    thread.start()
    try:
        while True:
            more, value = handoff.get()
            taken.set()  # the thread makes the next batch while this one is used
            if not more:
                if value is not None:
                    raise value
                return
            yield value
            del value  # not held while the next one is made
    finally:
        stopped.set()
        thread.join()


def _contacts(db: sqlite3.Connection) -> list[Contact]:
    """The village's contacts as its snapshot gave them (whom a power item's supervisors are filled from)."""
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute("select * from contacts order by position").fetchall()
    finally:
        db.row_factory = None
    return [{key: row[key] for key in row.keys() if row[key] is not None} for row in rows]  # type: ignore[misc]  # noqa: SIM118 - a Row iterates its values


def _check(db: sqlite3.Connection, patch: Patch) -> None:
    """Check the tables the patch wrote (the rest is the installed version's, checked when it was installed)."""
    for table in sorted({TABLES[item["kind"]] for item in patch.added + patch.removed}):
        result = db.execute(f"pragma quick_check({table})").fetchone()[0]
        if result != "ok":
            raise DatabaseCheckFailed(f"the patched content database failed its check: {result}")


@dataclass
class Survey:
    """What a whole install reads of the shards before it writes: the items of every kind but the three it writes
    one at a time (TABLES), each power item's place and category, and the photos items show."""

    small: list[dict[str, Any]] = field(default_factory=list)
    categories: list[tuple[int, str]] = field(default_factory=list)
    photos: dict[str, str] = field(default_factory=dict)  # 'media/x.jpg' -> the scope of an item showing it
    written: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, id, scope) of the items of TABLES

    def read(self, shard: bytes, scope: str) -> None:
        """Take in the items of one shard of *scope*."""
        for item in read_shard(shard):
            self.photos.update(dict.fromkeys(photo_refs(item), scope))
            if item["kind"] not in TABLES:
                self.small.append(item)
                continue
            if item["kind"] == "power":
                self.categories.append((placed(item), item["data"]["category"]))
            self.written.append((item["kind"], item["id"], item["data"].get("scope", "county")))

    def codes(self, village: Mapping[str, str], base_url: str) -> list[tuple[str, str, str]]:
        """Each item the village shows with a phone page: its kind, id and the address its QR code holds."""
        return [(kind, item_id, mobile_url(base_url, village["code"], kind, item_id))
                for kind, item_id, scope in self.written if in_scope(scope, village)]  # fmt: skip

    def category_places(self) -> dict[str, int]:
        """Each category's place: the standard ones first, the others in the order of the list (database._rows)."""
        order = list(CATEGORY_ORDER)
        order += dict.fromkeys(c for _place, c in sorted(self.categories) if c not in CATEGORY_ORDER)
        return {category: n for n, category in enumerate(order)}


def shard_items(files: Iterable[Path]) -> Iterable[dict[str, Any]]:
    """Yield the items of *files* (verified shards), one shard in memory at a time."""
    for file in files:
        yield from read_shard(file.read_bytes())
