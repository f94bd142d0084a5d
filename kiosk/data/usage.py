"""What villagers looked for, as counts per day: items opened, guide endings reached, searches that found nothing.

Counts, not people (docs/architecture.md, "What villagers looked for"): a row is a county-local day, a
kind, a key and a number. No time of day, no session, no order of events; a search's text is kept only
when it found nothing, and not at all when it looks like a phone number, an ID-card number, an e-mail
address or a person's name (``search_key``). The county gets a day's counts once the day is over
(``queue_days_over``, called by the kiosk's report), so not even the hour of a search leaves the kiosk.

To count from a villager screen, one call, which never raises and never fails the page::

    from kiosk.data import usage
    usage.count(None, "guide_ending", f"{guide_id}/{ending_id}")   # None: this request's local.db

Kinds (``KINDS``) and their keys: ``power``, ``notice``, ``catalogue`` (an item's id), ``page`` (``ten_ones``,
``contacts``), ``guide_ending`` (``<guide id>/<ending id>``), ``search_none`` (the query, normalised).
Each kind keeps at most ``MAX_KEYS_PER_DAY`` distinct keys a day (more are not counted: a child tapping
letters cannot grow the table or the upload), and local.db keeps at most ``KEEP_DAYS`` days not yet sent.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import unicodedata
from datetime import date, timedelta
from pathlib import Path

from flask import current_app

from kiosk.data.clock import screen_now
from kiosk.data.content_db import NoContent
from kiosk.data.local_db import disk_low, open_local, path_of, transaction

ITEM_KINDS = ("power", "notice", "catalogue")
PAGES = ("ten_ones", "contacts")  # pages counted as a whole (they are not one item each)
KINDS = (*ITEM_KINDS, "page", "guide_ending", "search_none")
MAX_KEYS_PER_DAY = 500  # distinct keys per kind and day
MAX_SEARCH_CHARS = 32  # sync.contract.search.MAX_QUERY: what the kiosk's search reads of a query
MAX_COUNT = 1_000_000  # a day's count of one key that the county accepts
KEEP_DAYS = 92  # days of counts kept when they cannot be sent (a kiosk not enrolled, or long cut off)
BUSY_MS = 100  # how long a count waits for a staff save to finish before it gives up (the page never waits)
ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")  # content ids, and "local-<hex>" for the village's own notices
GUIDE_ENDING = re.compile(r"^[A-Za-z0-9_-]{1,100}/[A-Za-z0-9_-]{1,100}$")
log = logging.getLogger(__name__)

# A search is not kept when it holds: five or more digits in a row once spaces and dashes are gone (a phone,
# ID-card, bank card or 低保证 number), an @ (an e-mail address), or when it is two or three Chinese characters
# starting with one of the commonest surnames (a name: 王芳, 李建国). Pinyin initials (zs) are kept: they
# name no one, and they are what the kiosk's keyboard types.
_SEPARATORS = re.compile(r"[\s\-–—()（）+.·/]")
_DIGITS = re.compile(r"\d{5,}")
_HAN = re.compile(r"^[\u4e00-\u9fff]{2,3}$")
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)


def search_key(query: str) -> str | None:
    """Return a query as it is counted (NFKC, lower case, single spaces, capped), or None when it is not kept."""
    text = "".join(ch for ch in unicodedata.normalize("NFKC", query) if ch.isprintable())
    text = " ".join(text.lower().split())[:MAX_SEARCH_CHARS]
    if not text or looks_personal(text):
        return None
    return text


def looks_personal(text: str) -> bool:
    """Tell whether a query looks like a phone, ID-card or account number, an e-mail address or a person's name."""
    return (
        bool(_DIGITS.search(_SEPARATORS.sub("", text)))
        or "@" in text
        or (bool(_HAN.match(text)) and text[0] in SURNAMES)
    )


def valid_key(kind: str, key: str) -> bool:
    """Tell whether *key* is one a kiosk counts for *kind* (the county checks uploads with it too)."""
    if kind in ITEM_KINDS:
        return bool(ID.match(key))
    if kind == "page":
        return key in PAGES
    if kind == "guide_ending":
        return bool(GUIDE_ENDING.match(key))
    if kind == "search_none":
        return search_key(key) == key
    return False


_COUNT = """
insert into usage_counts (day, kind, key, count)
select :day, :kind, :key, 1
where (select count(*) from usage_counts where day = :day and kind = :kind) < :cap
   or exists (select 1 from usage_counts where day = :day and kind = :kind and key = :key)
on conflict (day, kind, key) do update set count = count + 1"""


def count(db: sqlite3.Connection | None, kind: str, key: str, day: str | None = None) -> bool:
    """Count one look at *key* of *kind* on *day* (today on the kiosk's screens); return whether it was counted
    (not when the day has MAX_KEYS_PER_DAY other keys of *kind* already).

    Never raises: a key that is not one of *kind*'s, a search that looks personal, a full disk, a
    read-only or locked local.db all mean nothing is counted, and the page shows as ever.

    :param db: local.db open for writing; None for this request's own (from a villager screen: the screens' app
        sets COUNT_LOOKS, the previews in the staff console and the studio do not, so they count nothing).
    :param day: the county-local day, YYYY-MM-DD; None for today by the kiosk's clock (``screen_now``).
    """
    if kind == "search_none":
        key = search_key(key) or ""
    if kind not in KINDS or not valid_key(kind, key):
        return False
    if db is None and not current_app.config.get("COUNT_LOOKS"):  # a preview (staff console, studio): not a villager
        return False
    try:
        day = day or screen_now().date().isoformat()
        if db is None:
            counted = _count_in(_counting_db(Path(current_app.config["DATA_DIR"])), day, kind, key)
        else:
            (waited,) = db.execute("pragma busy_timeout").fetchone()
            (synchronous,) = db.execute("pragma synchronous").fetchone()
            _count_settings(db)
            try:
                counted = _count_in(db, day, kind, key)
            finally:
                db.execute(f"pragma busy_timeout = {int(waited)}")
                db.execute(f"pragma synchronous = {int(synchronous)}")
    except (sqlite3.Error, OSError, ValueError, NoContent) as error:  # full, read-only, locked: the page matters more
        _warn_once(error)
        return False
    return counted


def _count_settings(db: sqlite3.Connection) -> None:
    # A count may be lost to a power cut (no fsync of its own), never a page's time to a staff save.
    db.execute(f"pragma busy_timeout = {BUSY_MS}")
    db.execute("pragma synchronous = normal")


def _count_in(db: sqlite3.Connection, day: str, kind: str, key: str) -> bool:
    counted: bool = db.execute(_COUNT, {"day": day, "kind": kind, "key": key, "cap": MAX_KEYS_PER_DAY}).rowcount > 0
    if _days_seen.get("last") != day:  # once a day per process: a kiosk never enrolled stays bounded too
        forget_old_days(db, date.fromisoformat(day))
        _days_seen["last"] = day
    return counted


class _Kept(threading.local):
    connection: sqlite3.Connection | None = None
    opened_on: tuple[str, int, int, bool] | None = None  # the file, its device and inode, whether the disk was full


_kept = _Kept()


def _counting_db(data_dir: Path) -> sqlite3.Connection:
    """Return this thread's connection to local.db for counting, kept from one page to the next.

    Opening local.db for each count (connect, WAL, then a checkpoint as the last connection closed) cost a first
    view half a millisecond, a third of its page; a count on a kept connection costs a hundredth of that. It is
    opened again when local.db is another file (set aside when damaged, or restored) or the disk fills or empties,
    so that a count still meets local_db's choice for a full disk (no WAL there).
    """
    path = path_of(data_dir)
    now = (str(path), *_file_id(path), disk_low(data_dir))
    if _kept.connection is None or _kept.opened_on != now:
        close_counting_db()
        connection = open_local(data_dir, migrate=False)
        _count_settings(connection)
        _kept.connection, _kept.opened_on = connection, now  # the file it found (it must exist: stat above)
    return _kept.connection


def _file_id(path: Path) -> tuple[int, int]:
    found = os.stat(path)
    return found.st_dev, found.st_ino


def close_counting_db() -> None:
    """Close this thread's connection for counting, if it has one (a folder about to be unmounted)."""
    if _kept.connection is not None:
        _kept.connection.close()
        _kept.connection = _kept.opened_on = None


_days_seen: dict[str, str] = {}


_warned: set[str] = set()


def _warn_once(error: BaseException) -> None:
    if str(error) not in _warned and len(_warned) < 20:
        _warned.add(str(error))
        log.warning("a count of what villagers looked for was not kept (the page showed all the same): %s", error)


def counts_of(db: sqlite3.Connection, day: str) -> list[list[str | int]]:
    """Return *day*'s counts as [kind, key, count] rows, in a stable order."""
    rows = db.execute("select kind, key, count from usage_counts where day = ? order by kind, key", (day,))
    return [[kind, key, number] for kind, key, number in rows]


def queue_days_over(db: sqlite3.Connection, kiosk_id: int, today: date) -> int:
    """Move the counts of every day before *today* into the outbox, a day an item; return how many days went.

    A day is sent once it is over: its counts are final then, and a report during the day never tells the
    county the hour anyone looked. Its idempotency key is the kiosk and the day, so a batch sent again
    is stored once. Counts of a day already sent (a clock put back) go as a further part of that day,
    which the county adds to the first. Days older than KEEP_DAYS before today are dropped unsent.
    """
    forget_old_days(db, today)
    days = [d for (d,) in db.execute("select distinct day from usage_counts where day < ?", (today.isoformat(),))]
    for day in days:
        with transaction(db):
            part = 1 + db.execute("select count(*) from usage_days_sent where day = ?", (day,)).fetchone()[0]
            key = f"usage:{kiosk_id}:{day}" + (f":{part}" if part > 1 else "")
            payload = {"day": day, "counts": counts_of(db, day)}
            db.execute(
                "insert into outbox (idempotency_key, kind, payload, created_at) values (?, 'usage', ?, ?)",
                (key, json.dumps(payload, ensure_ascii=False), day),
            )
            db.execute("insert into usage_days_sent (day, part) values (?, ?)", (day, part))
            db.execute("delete from usage_counts where day = ?", (day,))
    return len(days)


def forget_old_days(db: sqlite3.Connection, today: date) -> None:
    """Drop counts, and the record of days sent, older than KEEP_DAYS before *today*: local.db stays bounded."""
    cutoff = (today - timedelta(days=KEEP_DAYS)).isoformat()
    with transaction(db):
        db.execute("delete from usage_counts where day < ?", (cutoff,))
        db.execute("delete from usage_days_sent where day < ?", (cutoff,))
