"""Publish a county folder reading, checking and cutting again only what changed since the last publish (issue 17).

`load_county` reads every file whole. A publish from a folder (`FolderPublish`) reads the power items and
notices, the county's many files, through `ChangedFiles`: each file's bytes are hashed, and a file whose sha256
the publish cache (publish_cache.py) holds is not parsed, checked against its schema, rendered or given its
initials again: only the checks that depend on other files run again, the same functions on the fields they
read (its id against the others', its place on county.yaml, a notice's photos, duty and 公示期), so a problem
is told word for word as a whole load tells it, at the same file and line. Every other file (county.yaml, the
calendar, duties, catalogue, contacts, ten ones, guides: few, and what the checks above depend on) is read
whole every time, and the guides' endings are checked against every item's id and scope.

The items then travel as the cache holds them (bundle.Item, data read only for the shards made again); a shard
that would come out as the repository holds it is taken as it is (release.publish_items). A cache that fails
its checks midway is removed and the publish made again from the files alone.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from tuf.api.metadata import TargetFile

from sync.contract.channel import scope_of
from sync.contract.checks import FolderReader
from sync.contract.content import County, WholeFiles, checked_power, load_county
from sync.contract.dates import WorkCalendar
from sync.contract.i18n import tr
from sync.contract.kinds import Duty, Notice, Power
from sync.contract.notices import NOTICE_CONTEXT, check_notice, notice_of
from sync.contract.search import with_initials
from sync.contract.source import MAX_TEXT_BYTES, SourceFile, decode_text, parse_markdown, parse_yaml
from sync.publish.bundle import Item, Shard, county_items, data_digest, item_of, notice_orders
from sync.publish.publish_cache import FILE, CacheDamaged, PublishCache
from sync.publish.release import PublishResult, publish_items
from sync.publish.repository import Repository

log = logging.getLogger(__name__)
POWER_CONTEXT = ("id", "village", "township", "supervision")  # what checks a power item against the others
KEPT_BATCH = 500  # items put in the cache between commits: a first publish writes a few MB at a time


class _ReadOnce(FolderReader):
    """A FolderReader that parses the bytes a publish hashed, not the file read a second time (it may have changed
    in between: a row must describe the bytes its sha256 names)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.hashed: dict[str, bytes] = {}

    def source(self, relative: str, markdown: bool = False) -> SourceFile:
        data = self.hashed.pop(relative, None)
        if data is None:
            return super().source(relative, markdown)
        text = decode_text(data, relative)
        return parse_markdown(text, relative) if markdown else parse_yaml(text, relative)


class ChangedFiles(WholeFiles):
    """Reads the power items and notices through the publish cache: only the files that changed are read whole.

    The County gets none of them (its powers and notices stay empty): they are in `powers` and `notices` as Items.
    """

    def __init__(self, cache: PublishCache, folder: Path) -> None:
        self.cache, self.folder = cache, str(Path(folder).resolve())
        cache.use(self.folder, time.time_ns())
        self.powers_read: list[Item] = []
        self.notices_read: list[Item] = []
        self.refs: dict[str, list[dict[str, str]]] = {"powers": [], "notices": []}  # id and scope, for the guides
        self.listed: set[str] = set()
        self.read_whole = 0  # files read whole: changed, new, or not in the cache
        self.kept: list[Item] = []  # put in the cache, not committed yet: they keep their data meanwhile

    def _sources(self, reader: FolderReader, folder: str, suffix: str, schema: str,
                 required: bool = False) -> Iterator[tuple[SourceFile, str | None, dict[str, Any] | None]]:  # fmt: skip
        """Each file of *folder* that passed its schema: its source (a stand-in made of its row's fields when
        the cache holds it), its sha256 (None when too big to hash: reading it says why) and its row if any."""
        assert isinstance(reader, _ReadOnce)
        root = str(reader.root)
        rows = self.cache.rows(self.folder, f"{folder}/")  # one query: a query a file costs more
        for name in reader.folder_files(folder, suffix, required):
            self.listed.add(name)
            data = _head(f"{root}/{name}", MAX_TEXT_BYTES + 1)
            sha256 = None
            if len(data) <= MAX_TEXT_BYTES:
                sha256 = hashlib.sha256(data).hexdigest()
                row = rows.pop(name, None)
                if row is not None and (summary := row.summary(sha256)) is not None:
                    yield _stand_in(name, summary), sha256, summary
                    continue
                reader.hashed[name] = data
            self.read_whole += 1
            source = reader.read(name, schema, markdown=suffix == ".md")
            reader.hashed.pop(name, None)
            if source is not None:
                yield source, sha256, None

    def powers(
        self, reader: FolderReader, places: dict[str, set[str]] | None
    ) -> tuple[list[Power], list[tuple[str, str, int]]]:
        asking: list[tuple[str, str, int]] = []
        seen: dict[str, str] = {}
        what = tr("power item id")
        for source, sha256, summary in self._sources(reader, "powers", ".yaml", "power", required=True):
            reader.check_unique(seen, source.data["id"], source, ("id",), what)
            if summary is not None:  # unchanged: only its place is judged again
                scope = reader.check_scope(source, places)
                item = _item_of(summary, "power", source, scope, len(self.powers_read))
            else:
                found = len(reader.problems)
                if (power := checked_power(reader, source, places)) is None:
                    continue
                scope = power["scope"]
                item = self._read_anew(reader, found, source, sha256, "power", power, len(self.powers_read))
            self.powers_read.append(item)
            self.refs["powers"].append({"id": item.id, "scope": scope})
            if source.data["supervision"].get("village"):
                asking.append((scope, source.path, source.line_of(("supervision", "village"))))
        return [], asking

    def notices(
        self, reader: FolderReader, places: dict[str, set[str]] | None, media: dict[str, Path],
        duties: dict[str, Duty], calendar: WorkCalendar,
    ) -> list[Notice]:  # fmt: skip
        seen: dict[str, str] = {}
        what = tr("notice id")
        dated: list[dict[str, str]] = []  # each notice's id and day: its place is among all of them (notice_orders)
        for source, sha256, summary in self._sources(reader, "notices", ".md", "notice"):
            reader.check_unique(seen, source.data["id"], source, ("id",), what)
            if summary is not None:  # unchanged: its place, photos, duty and 公示期 are judged again
                scope, moments = check_notice(reader, source, places, media, duties, calendar)
                if moments is None:
                    continue
                item = _item_of(summary, "notice", source, scope, len(self.notices_read))
            else:
                found = len(reader.problems)
                if (notice := notice_of(reader, source, places, media, duties, calendar)) is None:
                    continue
                scope = notice["scope"]
                item = self._read_anew(reader, found, source, sha256, "notice", notice, len(self.notices_read))
            self.notices_read.append(item)
            self.refs["notices"].append({"id": item.id, "scope": scope})
            dated.append({"id": item.id, "published": source.data["published"]})
        for item, order in zip(self.notices_read, notice_orders(dated), strict=True):
            item.order = order
        return []

    def named(self, powers: list[Power], notices: list[Notice]) -> dict[str, list[Any]]:
        return dict(self.refs)

    def _read_anew(self, reader: FolderReader, found: int, source: SourceFile, sha256: str | None, kind: str,
                   checked: Any, order: int) -> Item:  # fmt: skip
        """Make the item of a file read and checked again (*checked*: its power item or notice, *found*: the problems
        counted before its checks), and keep its summary for the next publish if its checks found nothing."""
        item = item_of(kind, checked["id"], scope_of(checked["scope"]), order, with_initials(kind, checked))
        context = POWER_CONTEXT if kind == "power" else NOTICE_CONTEXT
        self._keep(source, sha256, item, context, sound=len(reader.problems) == found)
        return item

    def _keep(self, source: SourceFile, sha256: str | None, item: Item, fields: tuple[str, ...], sound: bool) -> None:
        """Keep the item of a file read whole (if nothing in it was wrong); its data is then read back when needed."""
        if not sound or sha256 is None or item.data is None:
            return
        data = {name: source.data[name] for name in fields if name in source.data}
        if "supervision" in data:  # of a power item's supervision, only whether it asks for the village's own
            data["supervision"] = {k: v for k, v in data["supervision"].items() if k == "village"}
        lines = [[list(where), line] for where, line in source.lines.items() if not where or where[0] in fields]
        summary = {"data": data, "lines": lines, "digest": item.digest, "size": item.size, "photos": item.photos}
        if self.cache.put(self.folder, source.path, sha256, summary, item.data):
            item.source = source.path
            self.kept.append(item)
            if len(self.kept) >= KEPT_BATCH:
                self.saved()

    def saved(self) -> None:
        """Commit the items kept since the last commit; once saved, their data is read back from the cache."""
        if self.cache.commit():
            for item in self.kept:
                item.data = None
        self.kept.clear()

    def data_of(self, item: Item) -> bytes:
        """The data of an item the cache holds. :raises CacheDamaged: when it is not the data the item was."""
        assert item.source is not None
        data = self.cache.data(self.folder, item.source)
        if data_digest(item.kind, item.id, data) != item.digest:
            raise CacheDamaged(tr("it holds other data for %(path)s than that file made", path=item.source))
        return data


def _head(path: str, size: int) -> bytes:
    """The first *size* bytes of the file *path* (all of a file shorter), read with no more calls than needed."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        parts = [os.read(descriptor, size)]
        while parts[-1] and (left := size - sum(map(len, parts))) > 0:
            parts.append(os.read(descriptor, left))
    finally:
        os.close(descriptor)
    return b"".join(parts)


def _stand_in(path: str, summary: dict[str, Any]) -> SourceFile:
    """A file the cache holds, as the checks against other files read it: the fields they read, and their lines."""
    lines = {tuple(where): line for where, line in summary["lines"]}
    return SourceFile(path, summary["data"], lines)


def _item_of(summary: dict[str, Any], kind: str, source: SourceFile, scope: str, order: int) -> Item:
    """The Item of a file the cache holds, in its place *order* among its kind."""
    return Item(kind, source.data["id"], scope_of(scope), order, summary["digest"], summary["size"],
                tuple(summary["photos"]), source=source.path)  # fmt: skip


class _Memory:
    """The publish cache as release.publish_items asks it: items' data and the shards last published."""

    def __init__(self, files: ChangedFiles, repository: Repository) -> None:
        self.files, self.repository = files, str(repository.path.resolve())
        self.published: dict[tuple[str, str], tuple[str, str, int]] | None = None

    def data_of(self, item: Item) -> bytes:
        return self.files.data_of(item)

    def kept(self, scope: str, name: str) -> tuple[str, str, int] | None:
        if self.published is None:  # read in the signing lock: what the repository holds now
            self.published = self.files.cache.shards(self.repository, time.time_ns())
        return self.published.get((scope, name))

    def keep(self, shards: list[tuple[str, Shard, TargetFile]]) -> None:
        rows = [(scope, shard.name, shard.fingerprint, info.hashes["sha256"], info.length)
                for scope, shard, info in shards]  # fmt: skip
        self.files.cache.keep_shards(self.repository, rows, time.time_ns())


class FolderPublish:
    """Publish the county folder *folder* through the publish cache in the county server's data folder *data*.

    `load` checks the folder (raising ContentInvalid as load_county does) and `publish` signs it: a command shows
    the warnings in between. Without *data*, or with a cache that cannot be opened, the cache is a temporary one.
    """

    def __init__(self, folder: Path, data: Path | None) -> None:
        self.folder, self.data = Path(folder), data
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self.cache: PublishCache | None = None
        self.county: County | None = None
        self.files: ChangedFiles | None = None

    def _open(self, shared: bool) -> PublishCache:
        if shared and self.data is not None and Path(self.data).resolve().is_relative_to(self.folder.resolve()):
            log.warning(tr("the data folder %(data)s is inside the content folder: the publish cache is not kept there",
                           data=self.data))  # fmt: skip
            shared = False
        if shared and self.data is not None:
            cache = PublishCache(self.data / FILE)
            if cache.db is not None:
                return cache
        self._temporary = self._temporary or tempfile.TemporaryDirectory(prefix="kiosk-publish-")
        return PublishCache(Path(self._temporary.name) / f"{os.getpid()}-{time.time_ns()}-{FILE}")

    def load(self, shared: bool = True) -> County:
        """Load and check the folder; raise ContentInvalid on any problem (every file's, as load_county tells them)."""
        self.close()
        self.cache = self._open(shared)
        self.files = ChangedFiles(self.cache, self.folder)
        try:
            self.county = load_county(self.folder, _ReadOnce(self.folder), self.files)
        finally:
            self.cache.forget(self.files.folder, self.files.listed)
            self.files.saved()
        log.info("publish: %s of %s power item and notice files read whole", self.files.read_whole,
                 len(self.files.listed))  # fmt: skip
        return self.county

    def publish(self, repository: Repository, now: datetime | None = None, accept_clock: bool = False) -> PublishResult:
        """Publish what `load` loaded, as publish_county does; a cache that fails its checks is removed, and the
        folder loaded and published again with a cache made afresh."""
        for shared in (True, False):  # a cache in its place, then (should that fail too) one of this publish's own
            try:
                return self._publish(repository, now, accept_clock)
            except CacheDamaged as damage:
                assert self.cache is not None
                log.warning(
                    tr(
                        "the publish cache %(file)s is refused (%(reason)s): every file is read again",
                        file=self.cache.file,
                        reason=damage,
                    )
                )
                self.cache.discard()
            self.load(shared)
        return self._publish(repository, now, accept_clock)

    def _publish(self, repository: Repository, now: datetime | None, accept_clock: bool) -> PublishResult:
        assert self.county is not None and self.files is not None
        items = county_items(self.county, self.files.powers_read, self.files.notices_read)
        memory = _Memory(self.files, repository)
        return publish_items(repository, items, self.county.media, now, accept_clock, memory)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None
