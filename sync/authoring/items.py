"""The content folder's items as the studio lists, opens and writes them, one file each.

An item's file is read and written with ruamel.yaml's round trip: a clerk's save changes the fields
that changed and keeps the file's comments, key order and quoting, so hand edits and the studio
live side by side (sync.authoring.checking judges a file's new text before anything is saved). The
list of a folder's items is cached by each file's size and time, so a county of 10,000 items is
listed without reading 10,000 files each time.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sync.authoring.forms import inlined
from sync.authoring.plan import round_trip_yaml
from sync.contract.checks import FolderReader
from sync.contract.content import county_places
from sync.contract.schemas import load_schema
from sync.contract.source import SourceError, parse_markdown, parse_yaml, read_markdown, read_yaml


@dataclass(frozen=True)
class Kind:
    name: str  # power
    folder: str  # powers ("" for a kind that is one file of the county)
    schema: str  # power
    title: str  # the field that names an item: name ("" for a kind that is one file)
    file: str = ""  # the one file of such a kind: contacts.yaml
    suffix: str = ".yaml"  # its files' ending: a notice is Markdown with its fields at the top (.md)


KINDS = {
    "power": Kind("power", "powers", "power", "name"),
    "catalogue": Kind("catalogue", "catalogue", "catalogue", "area"),
    "notice": Kind("notice", "notices", "notice", "title", suffix=".md"),
    "contacts": Kind("contacts", "", "contacts", "", "contacts.yaml"),
    "ten_ones": Kind("ten_ones", "", "ten_ones", "", "ten_ones.yaml"),
    "duties": Kind("duties", "", "duties", "", "duties.yaml"),
    "county": Kind("county", "", "county", "", "county.yaml"),
    "guide": Kind("guide", "guides", "guide", "title"),  # its file's name need not be its id: 01-<id>.yaml
    "calendar": Kind("calendar", "calendar", "calendar", "year"),  # calendar/<year>.yaml, a year each
}
FILE_KINDS = {kind.file: kind for kind in KINDS.values() if kind.file}  # the county's files, each a kind


def kind_of(path: str) -> Kind:
    """The kind of the file *path* in the content folder (KeyError for a file of no kind)."""
    if path in FILE_KINDS:
        return FILE_KINDS[path]
    folder, _, name = path.partition("/")
    return next(kind for kind in KINDS.values() if kind.folder == folder and name.endswith(kind.suffix))


def text_of(content_dir: Path, path: str) -> str:
    """The text of the file *path* in the folder; "" when there is none."""
    file = Path(content_dir) / path
    return file.read_text(encoding="utf-8-sig") if path and file.is_file() else ""


@dataclass(frozen=True)
class Listed:
    """One item in a folder's list."""

    id: str
    title: str
    path: str
    village: str
    township: str
    category: str


_cache: dict[tuple[str, str], tuple[int, int, Listed | None]] = {}  # (folder, path) -> (size, mtime_ns, item)
_cache_lock = threading.Lock()
MAX_CACHED = 100_000
# folder -> (its time, when it was last read, the list, the unreadable): read again when the folder changes, and at
# least every RESCAN_S seconds for a file edited in place by hand
_sorted: dict[str, tuple[int, float, list[Listed], list[str]]] = {}
RESCAN_S = 2.0


def listed(content_dir: Path, kind: Kind) -> list[Listed]:
    """The items of *kind* in the folder, by title; a file that cannot be read is left out (validate says why)."""
    return scan(content_dir, kind)[0]


def scan(content_dir: Path, kind: Kind) -> tuple[list[Listed], list[str]]:
    """The items of *kind* in the folder by title, and the files that cannot be read as one.

    Each file is read again only when its size or time changed, and then only its top-level lines
    when they are plain (the whole file otherwise); the sorted list is kept while the folder does not
    change, for at most RESCAN_S seconds (a file edited in place shows in the list that much later).
    """
    folder = Path(content_dir) / kind.folder
    try:
        changed_at = folder.stat().st_mtime_ns  # a file added, removed or replaced (as the studio writes) changes it
    except OSError:
        changed_at = 0
    with _cache_lock:
        kept = _sorted.get(str(folder))
    if kept is not None and kept[0] == changed_at and time.monotonic() - kept[1] < RESCAN_S:
        return kept[2], kept[3]
    found: list[Listed] = []
    unreadable: list[str] = []
    with os.scandir(folder) if folder.is_dir() else _nothing() as entries:
        for entry in entries:
            if not entry.name.endswith(kind.suffix) or entry.name.startswith(".") or not entry.is_file():
                continue
            stat = entry.stat()
            key = (str(content_dir), f"{kind.folder}/{entry.name}")
            with _cache_lock:
                cached = _cache.get(key)
            if cached is None or cached[:2] != (stat.st_size, stat.st_mtime_ns):
                cached = (stat.st_size, stat.st_mtime_ns, _summary(Path(entry.path), key[1], kind))
                with _cache_lock:
                    if len(_cache) >= MAX_CACHED:
                        _cache.clear()
                    _cache[key] = cached
            if cached[2] is not None:
                found.append(cached[2])
            else:
                unreadable.append(key[1])
    result = sorted(found, key=lambda item: (item.title, item.id)), sorted(unreadable)
    with _cache_lock:
        _sorted[str(folder)] = (changed_at, time.monotonic(), *result)
    return result


class _nothing:  # an empty os.scandir() for a folder that is not there
    def __enter__(self) -> list[os.DirEntry[str]]:
        return []

    def __exit__(self, *_: object) -> None:
        return None


_TOP = re.compile(r"^(id|name|title|area|village|township|category):[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_PLAIN = re.compile(r"[^\s'\"|>&*!\[\]{}#%@`,?:-][^#]*|'[^']*'|\"[^\"\\]*\"")


def _summary(file: Path, path: str, kind: Kind) -> Listed | None:
    """The fields a list shows, from the file's top-level lines; the whole file is parsed when they are not plain."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    if kind.suffix == ".md":  # only the fields at the top: the notice's text may hold anything
        text = split_markdown(text)[0]
    fields: dict[str, str] = {}
    for key, value in _TOP.findall(text):
        if key in fields or not _PLAIN.fullmatch(value) or value.endswith(":"):
            return _parsed_summary(file, path, kind)
        fields[key] = value[1:-1] if value[:1] in "'\"" else value
    if not fields.get("id") or not fields.get(kind.title) or "\t" in text:
        return _parsed_summary(file, path, kind)
    get = fields.get
    return Listed(
        get("id", ""), get(kind.title, ""), path, get("village", ""), get("township", ""), get("category", "")
    )


def _parsed_summary(file: Path, path: str, kind: Kind) -> Listed | None:
    try:
        data = (read_markdown if kind.suffix == ".md" else read_yaml)(file, path).data
    except SourceError:
        return None
    if not isinstance(data, dict):
        return None
    text = {key: str(data.get(key) or "") for key in ("id", kind.title, "village", "township", "category")}
    return Listed(text["id"], text[kind.title], path, text["village"], text["township"], text["category"])


def read_item(content_dir: Path, path: str) -> tuple[str, dict[str, Any]]:
    """The file *path*'s text and data (raises SourceError with the line when it cannot be read).

    A notice's text (below its fields) is in its data as BODY.
    """
    file = Path(content_dir) / path
    source = (read_markdown if path.endswith(".md") else read_yaml)(file, path)
    data = dict(source.data) if isinstance(source.data, dict) else {}
    if path.endswith(".md"):
        data[BODY] = source.body
    return file.read_text(encoding="utf-8-sig"), data


BODY = "_body"  # a notice's Markdown text, beside its fields in the form's data (never a field of its own)


def split_markdown(text: str) -> tuple[str, str]:
    """A notice's fields (the YAML between its '---' lines) and its text below them; ("", text) without fields."""
    lines = text.splitlines(keepends=True)
    if lines and lines[0].strip() == "---":
        for index in range(1, len(lines)):
            if lines[index].strip() == "---":
                return "".join(lines[1:index]), "".join(lines[index + 1 :])
    return "", text


def dump_notice(old_text: str, data: dict[str, Any]) -> str:
    """A notice's file with *data*'s fields at the top (comments and order kept) and data[BODY] below them."""
    fields = {key: value for key, value in data.items() if key != BODY}
    front = dump_item(split_markdown(old_text)[0] or "{}", fields, "notice", header=False)
    return f"---\n{front}---\n{str(data.get(BODY, '')).strip()}\n"


def dump_item(old_text: str, data: dict[str, Any], schema_name: str, header: bool = True) -> str:
    """The file's text with *data* as its fields: what stayed keeps its comments and place; what is gone goes.

    A new file starts with the line that gives editors its schema (not a notice's fields: *header* False).
    """
    yaml = round_trip_yaml()
    schema_line = f"# yaml-language-server: $schema=../../schema/{schema_name}.schema.json\n"
    document = yaml.load(old_text) if old_text.strip() else None
    if not isinstance(document, dict):
        document = yaml.load("{}")
        old_text = schema_line
    _merge(document, _dated(data))
    out = io.StringIO()
    yaml.dump(document, out)
    text = out.getvalue()
    if not header:
        return text
    kept = old_text.strip() and not old_text.startswith(schema_line)  # a file that never had the line gets none
    return text if kept else schema_line + text.removeprefix(schema_line)


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _dated(value: Any) -> Any:
    """*value* with each text that is a day (2027-10-01) as a date: written plain, as the folder's files write days
    (the contract reads a plain day as text all the same); a day that does not exist stays text, quoted."""
    if isinstance(value, dict):
        return {key: _dated(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dated(item) for item in value]
    if isinstance(value, str) and _DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _same(old: Any, new: Any) -> bool:
    """Whether the file's *old* value is *new* already (a day quoted as text in the file is the same day)."""
    return bool(old == new or (isinstance(new, date) and isinstance(old, str) and old == new.isoformat()))


def _merge(document: Any, data: dict[str, Any]) -> None:
    """Make the round-trip map *document* hold *data*, changing only what differs (so comments stay)."""
    for key in [key for key in document if key not in data]:
        del document[key]
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            _merge(document[key], value)
        elif isinstance(value, list) and isinstance(document.get(key), list) and document[key] != value:
            _merge_list(document[key], value)
        elif not _same(document.get(key), value):
            document[key] = value


def _merge_list(document: Any, values: list[Any]) -> None:
    """Make the round-trip list *document* hold *values*: entries in place one by one, then the rest cut or added."""
    for index, value in enumerate(values[: len(document)]):
        if isinstance(value, dict) and isinstance(document[index], dict):
            _merge(document[index], value)
        elif not _same(document[index], value):
            document[index] = value
    del document[len(values) :]
    document.extend(values[len(document) :])


_county_cache: dict[str, tuple[tuple[int, int], dict[str, Any] | None, dict[str, set[str]] | None]] = {}


def county_and_places(content_dir: Path) -> tuple[dict[str, Any] | None, dict[str, set[str]] | None]:
    """county.yaml's data and its place codes (None, None when it has a problem), read again only when it changes."""
    file = content_dir / "county.yaml"
    try:
        stat = file.stat()
    except OSError:
        return None, None
    key, seen = str(content_dir), (stat.st_size, stat.st_mtime_ns)
    with _cache_lock:
        cached = _county_cache.get(key)
    if cached is None or cached[0] != seen:
        reader = FolderReader(content_dir)
        source = reader.read("county.yaml", "county")
        places = county_places(reader, source)
        data = source.data if source is not None and not reader.problems else None
        cached = (seen, data, places if data is not None else None)
        with _cache_lock:
            _county_cache[key] = cached
    return cached[1], cached[2]


def township_of(content_dir: Path, data: dict[str, Any]) -> str:
    """The township whose reviewers judge an item: its own, its village's, or "" for the whole county."""
    if data.get("township"):
        return str(data["township"])
    village = data.get("village")
    county, _places = county_and_places(Path(content_dir))
    for township in county["townships"] if county is not None and village else []:
        if any(v["code"] == village for v in township["villages"]):
            return str(township["code"])
    return ""


def township_in_folder(content_dir: Path, path: str) -> str | None:
    """The township of the file *path* as it is in the folder (township_of); None when there is no such file."""
    file = Path(content_dir) / path
    if not file.is_file():
        return None
    try:
        data = read_yaml(file, path).data
    except SourceError:
        return ""  # a file that cannot be read is the county's to mend
    return township_of(content_dir, data if isinstance(data, dict) else {})


def schema_of(kind: Kind) -> dict[str, Any]:
    """The kind's schema as its form draws it (its own $refs put in place)."""
    schema: dict[str, Any] = inlined(load_schema(kind.schema))
    return schema


def parse_item(path: str, text: str) -> dict[str, Any]:
    """The fields of the file *path* holding *text* (a notice's text below them as BODY); {} when unreadable."""
    if not path.endswith(".md"):
        return parse(text)
    try:
        source = parse_markdown(text, path)
    except SourceError:
        return {}
    return {**source.data, BODY: source.body} if isinstance(source.data, dict) else {}


def parse(text: str) -> dict[str, Any]:
    """The fields of an item's text ({} when it cannot be read: the form then starts empty, and check() says why)."""
    try:
        data = parse_yaml(text, "draft").data
    except SourceError:
        return {}
    return data if isinstance(data, dict) else {}


def places_named(content_dir: Path) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The county's townships and their villages as (code, name, [(code, name)]), for choosing an item's place."""
    county, _places = county_and_places(Path(content_dir))
    if county is None:
        return []
    return [(t["code"], t["name"], [(v["code"], v["name"]) for v in t["villages"]]) for t in county["townships"]]
