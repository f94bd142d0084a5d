"""The kiosk's search index, built with each installed version: Chinese text of any length, and pinyin initials.

SQLite's FTS5 trigram tokenizer finds nothing for one- or two-character queries, and most Chinese
queries are that short (低保, 村). So every Chinese character is indexed as a token of its own
(unicode61 tokenizer over text with a space between Chinese characters), and a query is a phrase
of its characters: '低保' must find 低 directly followed by 保. One index serves every length.

Rows are numbered in display order (kind, then the order the county gave), so the first rows a
match yields are the first to show: a query for a common character stops early instead of sorting
thousands of hits.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sync.contract.kinds import SORT
from sync.contract.pinyin import HAN_RANGES, initials

KINDS = ("power", "notice", "catalogue", "ten_ones")  # display order of results
MAX_QUERY = 32  # characters: a kiosk query is a word or two, never a paragraph
BATCH = 1000  # items whose search rows are written at once: FTS5 writes out what it holds about as often anyway
INITIALS = "_initials"  # key of the precomputed initials in an item's data (see with_initials)

TEXT_TABLES = ("search_titles", "search_bodies", "search_initials")
SCHEMA = """
create table search_items (rowid integer primary key, kind text, item_id text, title text, initials text,
  published_at text);
create virtual table search_titles using fts5(text, content='', columnsize=0);
create virtual table search_bodies using fts5(text, content='', columnsize=0);
create virtual table search_initials using fts5(text, content='', columnsize=0);
"""
# search_initials holds each item's initials a letter a token, each name's first letter marked as
# one (NAME_START and the letter: '0d b s q' for 'dbsq'): typed initials are a phrase of letters
# found at a name's start ('"0d b"', through the few names that start so) or further in ('"b s"'), in
# display order, without reading every item (kiosk/data/queries.py).
NAME_START = "0"  # '0d' is one token, never one of the one-character tokens
_OTHER = "xx"  # any other character (initials have none): typed letters never match across it
_LETTERS_AND_DIGITS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_TAGS = re.compile(r"<[^>]+>")
_INITIALS_QUERY = re.compile(r"^[a-z]+$")
_WORD = re.compile(r"[^\W_]+")
_HAN = re.compile("([" + "".join(f"{chr(start)}-{chr(end)}" for start, end in HAN_RANGES) + "])")


@functools.cache
def _spaced() -> dict[int, str]:
    """Every Chinese character (pinyin.HAN_RANGES) with a space either side, for str.translate."""
    return {code: f" {chr(code)} " for start, end in HAN_RANGES for code in range(start, end + 1)}


def index_text(text: str) -> str:
    """Put a space around every Chinese character, so that each is a token of its own."""
    return text.lower().translate(_spaced())  # in one pass in C: installing a village's index spends its time here


def query_text(text: str) -> str:
    """index_text for a query: the same text, without the table of every Chinese character (4.4 MB) that a
    screens process would otherwise keep for the months it runs (issue 17, point 6)."""
    return " ".join(_HAN.split(text.lower()))  # the split keeps each character; the join spaces it


def phrase(query: str) -> str | None:
    """Return the FTS5 phrase that finds *query* as written, or None when it has nothing to find."""
    words = _WORD.findall(query_text(query[:MAX_QUERY]))  # the tokens unicode61 makes of it
    return '"' + " ".join(words) + '"' if words else None


def initials_tokens(initials: str) -> str:
    """Return an item's initials ('dbsq db', a name each) as the text search_initials indexes ('0d b s q 0d b')."""
    names = []
    for name in initials.split(" "):
        tokens = [ch if ch in _LETTERS_AND_DIGITS else _OTHER for ch in name]
        names.append(" ".join([NAME_START + tokens[0], *tokens[1:]] if tokens else [NAME_START]))
    return " ".join(names)


def initials_phrase(query: str, start: bool = False) -> str:
    """Return the FTS5 phrase that finds typed initials (is_initials) at a name's start (*start*), or further in."""
    return '"' + " ".join([NAME_START + query[0], *query[1:]] if start else query) + '"'


def is_initials(query: str) -> bool:
    """Tell whether *query* is typed pinyin initials ('dbsq'), not text."""
    return bool(_INITIALS_QUERY.match(query))


def elements_text(content: str | list[str], between: str = " ") -> str:
    """A catalogue item's 公开内容（要素） as one text: its elements joined by *between* (one text as it is)."""
    return content if isinstance(content, str) else between.join(content)


def _catalogue_title(item: Mapping[str, Any]) -> str:
    return " · ".join(part for part in (item["level1"], item.get("level2")) if part)


def _names(kind: str, data: Mapping[str, Any]) -> list[str]:
    """Return the names an item is found by with initials: its title, and a power item's keywords."""
    if kind == "power":
        return [data["name"], *data.get("keywords", [])]
    if kind == "catalogue":
        return [_catalogue_title(data)]
    return [data["title"]]


def _initials_of(kind: str, data: Mapping[str, Any]) -> str:
    # A space keeps typed initials from running across two names.
    return data.get(INITIALS) or " ".join(initials(name) for name in _names(kind, data))


def with_initials(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Return *data* carrying its search initials, worked out once by the county when it publishes.

    Kiosks then build their index without pypinyin's dictionaries (55 MB) in the install's memory.
    """
    if kind == "ten_ones":
        return {**data, "items": [with_initials("ten_one", one) for one in data.get("items", [])]}
    return {**data, INITIALS: _initials_of(kind, data)}


KIND_ROWS = 1 << 40  # search_items rowids of a kind: (its place in KINDS + 1) * KIND_ROWS + the item's place


def document(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Return what an item is found by: kind, id, title, names, body, publication time (its search rows' text)."""
    if kind == "power":
        steps = [f"{s['title']} {s.get('description', '')}" for s in data["steps"] if "title" in s]
        parts = [data.get("summary") or "", data["responsible"], *data.get("materials", []), *steps]
        names = _names("power", data) + ([data["number"]] if "number" in data else [])  # 编号 found as text
        return {"kind": kind, "item_id": data["id"], "title": data["name"], "body": " ".join(parts),
                "names": names, "initials": _initials_of("power", data)}  # fmt: skip
    if kind == "notice":
        body = data.get("body_text") or _TAGS.sub(" ", data.get("body_html", ""))
        return {"kind": kind, "item_id": data["id"], "title": data["title"], "body": body,
                "published_at": data["published_at"], "initials": _initials_of("notice", data)}  # fmt: skip
    if kind == "catalogue":
        body = f"{elements_text(data['content'])} {data['body']}"
        return {"kind": kind, "item_id": data["id"], "title": _catalogue_title(data), "body": body,
                "initials": _initials_of("catalogue", data)}  # fmt: skip
    return {"kind": kind, "item_id": data["number"], "title": data["title"], "body": data.get("description", ""),
            "initials": _initials_of("ten_one", data)}  # fmt: skip


def search_rowid(kind: str, place: int) -> int:
    """Number an item's search rows in display order: by kind, then by its place among its kind.

    The place is the item's own (channel.SORT) where it has one, so one item's rows can be replaced
    without renumbering the others (sync/receive/patch.py)."""
    return (KINDS.index(kind) + 1) * KIND_ROWS + place


def _documents(snapshot: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield every searchable item with its rowid, in display order."""
    for kind, key in (("power", "powers"), ("notice", "notices"), ("catalogue", "catalogue")):
        for number, data in enumerate(snapshot[key]):
            yield search_rowid(kind, data.get(SORT, number)), document(kind, data)
    for number, one in enumerate(snapshot["ten_ones"]["items"], start=1):
        yield search_rowid("ten_ones", number), document("ten_ones", {**one, "number": str(number)})


def insert_documents(db: Any, documents: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
    """Write many items' search rows (rowid, document): search_rows, then write_search_rows."""
    write_search_rows(db, search_rows(documents))


@dataclass
class SearchRows:
    """Items' search rows as search_rows makes them, in rowid order: search_items' rows, and each full-text table's."""

    items: list[tuple[Any, ...]] = field(default_factory=list)
    texts: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # by table (TEXT_TABLES): (rowid, text)


def search_rows(documents: Iterable[tuple[int, Mapping[str, Any]]]) -> SearchRows:
    """Make the search rows of many items (rowid, document), sorted by rowid.

    FTS5 writes out what it holds each time a row's rowid is lower than the last one's, so rows in
    rising order are indexed about twice as fast: a whole install writes its items a batch at a time,
    each batch sorted (sync/receive/patch.py).
    """
    ordered = sorted(documents, key=itemgetter(0))
    made = SearchRows([(rowid, doc["kind"], doc["item_id"], doc["title"], doc["initials"], doc.get("published_at"))
                       for rowid, doc in ordered])  # fmt: skip
    texts = [_indexed(doc) for _rowid, doc in ordered]
    for n, table in enumerate(TEXT_TABLES):
        made.texts[table] = [(rowid, indexed[n]) for (rowid, _doc), indexed in zip(ordered, texts, strict=True)]
    return made


def write_search_rows(db: Any, rows: SearchRows) -> None:
    """Write what search_rows made (*db*: a sqlite3 connection)."""
    db.executemany("insert into search_items values (?, ?, ?, ?, ?, ?)", rows.items)
    for table, texts in rows.texts.items():
        db.executemany(f"insert into {table} (rowid, text) values (?, ?)", texts)  # noqa: S608 - TEXT_TABLES


def delete_document(db: Any, rowid: int, doc: Mapping[str, Any]) -> None:
    """Remove one item's search rows; *doc* must be the document they were written from (contentless
    FTS5 tables forget a row only when told the text it was indexed with)."""
    db.execute("delete from search_items where rowid = ?", (rowid,))
    for table, text in zip(TEXT_TABLES, _indexed(doc), strict=True):
        db.execute(f"insert into {table} ({table}, rowid, text) values ('delete', ?, ?)", (rowid, text))  # noqa: S608


def _indexed(doc: Mapping[str, Any]) -> tuple[str, str, str]:
    """Return the text an item's row holds in each full-text table (TEXT_TABLES)."""
    names = doc.get("names", [doc["title"]])  # a title's other names count as the title
    return " ".join(map(index_text, names)), index_text(doc["body"]), initials_tokens(doc["initials"])


def write_search_index(db: Any, snapshot: dict[str, Any]) -> None:
    """Fill the search tables of a new content database (*db*: a sqlite3 connection)."""
    documents = _documents(snapshot)  # in rowid order, a batch at a time: install's peak memory
    while batch := list(itertools.islice(documents, BATCH)):
        insert_documents(db, batch)
