"""The publish cache: what a publish made of each power item and notice file, and the shards it published.

A county's content only grows (notices accumulate every month), so a publish that read, checked and cut every
file again would grow with the county, not with the change (issue 17). This cache, one SQLite file in the
county server's data folder (never in the content folder, which is the source of truth, nor in the repository,
which is served), lets a publish read only the files that changed (sync/publish/changed_files.py):

    files   (folder, path): the file's sha256; the canonical JSON of the item it made (zlib), that item's
            digest and size; the fields and lines the rest of the county judges it by (check_notice), and a
            check over all of them
    shards  (repository, scope, name): the fingerprint of the shard last published (bundle.Shard) and the
            sha256 and length of its file
    meta    the version of the code the rows were made by (code_version): any other empties the cache

Nothing in it is taken on trust. A file's row serves only the file with the same sha256 as it is read now, and
only when its check holds; an item's data only when its digest holds (else CacheDamaged: the publish reads
every file again); a shard only when the repository's signed role names a file of the same hash and length, and
the file is there. A cache file that cannot be read is removed and made afresh: the publish is the same, slower.
Two publishes may share it (WAL: one reads while the other writes); one that waits longer than BUSY_SECONDS to
write, or fails to, writes nothing more to it and publishes all the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import sys
import zlib
from collections.abc import Callable
from contextlib import suppress
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from sync.contract.i18n import tr

log = logging.getLogger(__name__)

FILE = "publish-cache.sqlite"
FORMAT = 1  # the layout of the tables below
KEPT_PLACES = 4  # content folders and repositories whose rows are kept (most recently used first)
BUSY_SECONDS = 30.0  # another publish writing the cache: wait this long, then publish without it
_LIBRARIES = ("PyYAML", "jsonschema", "markdown-it-py", "nh3", "pypinyin")  # what makes an item from its file
_SCHEMA = """
create table if not exists meta (key text primary key, value text not null);
create table if not exists files (folder text not null, path text not null, sha256 text not null,
  summary text not null, data blob not null, "check" text not null, primary key (folder, path));
create table if not exists shards (repository text not null, scope text not null, name text not null,
  fingerprint text not null, sha256 text not null, length integer not null, "check" text not null,
  primary key (repository, scope, name));
create table if not exists places (place text primary key, used integer not null);
"""


class CacheDamaged(Exception):
    """The cache gave something its check refuses: the publish must not use it."""


@cache
def code_version() -> str:
    """A digest of everything that decides what a file's row holds: the content contract's code and schemas,
    this side's code that cuts items, the libraries that read and render files, zlib and Python."""
    digest = hashlib.sha256(f"{FORMAT} {sys.version} {zlib.ZLIB_RUNTIME_VERSION}".encode())
    for name in _LIBRARIES:
        digest.update(f"{name} {metadata.version(name)}\n".encode())
    here = Path(__file__).resolve().parent
    sources = sorted((here.parent / "contract").glob("*.py"))
    sources += [here / name for name in ("bundle.py", "changed_files.py", "publish_cache.py")]
    for file in sources:
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    schemas = resources.files("sync.contract") / "schema"
    for schema in sorted(schemas.iterdir(), key=lambda entry: entry.name):
        if schema.name.endswith(".json"):
            digest.update(schema.name.encode() + b"\0" + schema.read_bytes())
    return digest.hexdigest()


def _check(*parts: str | int) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()


class FileRow:
    """What the cache holds of one file: the sha256 of its bytes, and the summary a publish made of them (JSON)."""

    __slots__ = ("check", "folder", "path", "sha256", "text")

    def __init__(self, folder: str, path: str, sha256: str, text: str, check: str) -> None:
        self.folder, self.path, self.sha256, self.text, self.check = folder, path, sha256, text, check

    def summary(self, sha256: str) -> dict[str, Any] | None:
        """The summary, for a file whose bytes have *sha256* now: None for other bytes, or when its check fails."""
        if sha256 != self.sha256 or self.check != _check(self.folder, self.path, self.sha256, self.text):
            return None
        try:
            found: dict[str, Any] = json.loads(self.text)
        except ValueError:
            return None
        return found


class PublishCache:
    """The publish cache in *file*; every failure to read or write it falls back to not using it."""

    def __init__(self, file: Path) -> None:
        self.file = Path(file)
        self.db = self._open()
        self.writable = self.db is not None  # until a write fails: another publish holds it, or the disk is full

    def _open(self) -> sqlite3.Connection | None:
        for attempt in (1, 2):
            try:
                self.file.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.file, timeout=BUSY_SECONDS)
                db.execute("pragma journal_mode = wal")  # a publish reads while another writes
                db.executescript(_SCHEMA)
                row = db.execute("select value from meta where key = 'code'").fetchone()
                if row is None or row[0] != code_version():  # made by other code: none of it holds
                    db.execute("delete from files")
                    db.execute("delete from shards")
                    db.execute("insert or replace into meta values ('code', ?)", (code_version(),))
                    db.commit()
                return db
            except sqlite3.OperationalError as error:  # busy, read-only, no room: publish without it
                log.warning(tr("the publish cache %(file)s is not used: %(error)s", file=self.file, error=error))
                return None
            except (sqlite3.DatabaseError, OSError) as error:
                log.warning(
                    tr(
                        "the publish cache %(file)s is damaged (%(error)s): it is made afresh",
                        file=self.file,
                        error=error,
                    )
                )
                if attempt == 1 and not self._remove():
                    return None
        return None

    def _remove(self) -> bool:
        try:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{self.file}{suffix}").unlink(missing_ok=True)
        except OSError:
            return False
        return True

    def discard(self) -> None:
        """Remove the cache file: it gave something its checks refused."""
        self.close()
        self._remove()

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def _use(self, place: str, used: int) -> None:
        """Note *place* (a folder or repository) as used at *used*; forget all but the KEPT_PLACES latest."""
        assert self.db is not None
        self.db.execute("insert or replace into places values (?, ?)", (place, used))
        self.db.execute("delete from places where place not in (select place from places order by used desc limit ?)",
                        (KEPT_PLACES,))  # fmt: skip
        self.db.execute("delete from files where folder not in (select place from places)")
        self.db.execute("delete from shards where repository not in (select place from places)")

    # --- files ---------------------------------------------------------------------------------------
    def use(self, place: str, used: int) -> None:
        """Note the content folder or repository *place* (a resolved path) as used now (*used*, ns)."""
        if self._write(lambda db: self._use(place, used)):
            self.commit()

    def rows(self, folder: str, under: str) -> dict[str, FileRow]:
        """The rows of the files of *folder* (a resolved path) whose path starts with *under* ('powers/'), by path."""
        if self.db is None:
            return {}
        try:
            query = 'select path, sha256, summary, "check" from files where folder = ? and substr(path, 1, ?) = ?'
            rows = self.db.execute(query, (folder, len(under), under)).fetchall()
        except sqlite3.Error as error:
            log.warning(tr("the publish cache %(file)s could not be read: %(error)s", file=self.file, error=error))
            return {}
        return {path: FileRow(folder, path, sha256, summary, check) for path, sha256, summary, check in rows}

    def put(self, folder: str, path: str, sha256: str, summary: dict[str, Any], data: bytes) -> bool:
        """Keep what a publish made of the file *path* (until `commit`); False when the cache cannot take it."""
        text = json.dumps(summary, ensure_ascii=False, sort_keys=True)
        row = (folder, path, sha256, text, zlib.compress(data, 1), _check(folder, path, sha256, text))
        return self._write(lambda db: db.execute("insert or replace into files values (?, ?, ?, ?, ?, ?)", row))

    def _write(self, action: Callable[[sqlite3.Connection], object]) -> bool:
        """Run *action* on the database; on its first failure, write nothing more in this publish."""
        if self.db is None or not self.writable:
            return False
        try:
            action(self.db)
        except sqlite3.Error as error:
            log.warning(tr("the publish cache %(file)s could not be written: %(error)s", file=self.file, error=error))
            self.writable = False
            with suppress(sqlite3.Error):
                self.db.rollback()
            return False
        return True

    def forget(self, folder: str, paths: set[str]) -> None:
        """Forget the files of *folder* not in *paths* (removed from it)."""

        def tidy(db: sqlite3.Connection) -> None:
            listed = db.execute("select path from files where folder = ?", (folder,)).fetchall()
            db.executemany("delete from files where folder = ? and path = ?",
                           [(folder, path) for (path,) in listed if path not in paths])  # fmt: skip

        self._write(tidy)

    def data(self, folder: str, path: str) -> bytes:
        """The data of the item made of the file *path*. :raises CacheDamaged: when it cannot be read back."""
        try:
            row = None if self.db is None else self.db.execute(
                "select data from files where folder = ? and path = ?", (folder, path)).fetchone()  # fmt: skip
            if row is None:
                raise CacheDamaged(tr("%(path)s is no longer in it", path=path))
            return zlib.decompress(row[0])
        except (sqlite3.Error, zlib.error) as error:
            raise CacheDamaged(f"{path}: {error}") from error  # names the file, and what the database said

    def commit(self) -> bool:
        """Save what was kept since the last commit; False when it is lost (the items keep their data then)."""
        return self._write(lambda db: db.commit())

    # --- shards --------------------------------------------------------------------------------------
    def shards(self, repository: str, used: int) -> dict[tuple[str, str], tuple[str, str, int]]:
        """(scope, name) -> (fingerprint, sha256, length) of each shard last published in *repository*."""
        if self.db is None:
            return {}
        self.use(repository, used)
        found = {}
        try:
            query = 'select scope, name, fingerprint, sha256, length, "check" from shards where repository = ?'
            for scope, name, fingerprint, sha256, length, check in self.db.execute(query, (repository,)):
                if check == _check(repository, scope, name, fingerprint, sha256, length):
                    found[(scope, name)] = (fingerprint, sha256, length)
        except sqlite3.Error as error:
            log.warning(tr("the publish cache %(file)s could not be read: %(error)s", file=self.file, error=error))
            return {}
        return found

    def keep_shards(self, repository: str, shards: list[tuple[str, str, str, str, int]], used: int) -> None:
        """Keep (scope, name, fingerprint, sha256, length) of every shard *repository* now publishes (at *used*)."""

        def keep(db: sqlite3.Connection) -> None:
            self._use(repository, used)  # a repository's first publish too: else its rows go at the next use
            db.execute("delete from shards where repository = ?", (repository,))
            db.executemany("insert into shards values (?, ?, ?, ?, ?, ?, ?)",
                           [(repository, *shard, _check(repository, *shard)) for shard in shards])  # fmt: skip

        if self._write(keep):
            self.commit()
