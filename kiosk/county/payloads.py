"""What a kiosk may upload, kind by kind. Anything else is set aside (``rejected_uploads``), never shown.

The dashboard and the phone pages read uploads whose shape these checks guarantee, so one odd
upload (a kiosk's bug, or a kiosk in the wrong hands) cannot break a page for everyone. A rejected
item is still acknowledged: it would never become valid by being sent again, and it must not
hold up the items queued behind it on the kiosk.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Any

from kiosk.county import village_photos
from kiosk.data import usage

ITEM_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")  # content ids and "local-<hex>": fit for a URL path segment
RATED_KINDS = ("power", "notice", "catalogue")
LEVELS = range(1, 6)  # the five 好差评 levels
MAX_REASONS = 10
MAX_TEXT = 500  # characters of a reason code; longer titles are cut to this where they are kept
MAX_TITLE = 10_000  # characters of a title a display log may carry (the content schema sets no limit)
MAX_NOTICES = 20_000  # notices in one display log
MAX_POSTING = 2_000  # notices with a 公示期 in one display log
MAX_SHOWN = 1_000_000  # notices on show that a display log may count (it lists only those with a 公示期)
MAX_POSTING_DAYS = 365  # the content schema's limit for a 公示期 (min_posting_days)
YEARS = range(2000, 2101)  # dates outside these are a broken clock or a forgery
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?")


def problem(kind: str, payload: dict[str, Any]) -> str | None:
    """Return what is wrong with an upload of *kind*, or None when the county can use it."""
    check = {"feedback": _feedback, "display_log": _display_log, "village_notice": _village_notice,
             "notice_photo": village_photos.problem, "usage": _usage}[kind]  # fmt: skip
    return check(payload)


def day(value: Any) -> date | None:
    """Return *value* as a date if it is one written YYYY-MM-DD in a plausible year."""
    try:
        parsed = date.fromisoformat(value) if isinstance(value, str) and _DAY.fullmatch(value) else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.year in YEARS else None


def moment(value: Any) -> datetime | None:
    """Return *value* as a local time if it is one written YYYY-MM-DD HH:MM[:SS] (or with a T) in a plausible year."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) and _MOMENT.fullmatch(value) else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.year in YEARS else None


def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _feedback(payload: dict[str, Any]) -> str | None:
    reasons = payload.get("reasons") or []
    item_id = payload.get("item_id")
    if payload.get("kind") not in RATED_KINDS or not (isinstance(item_id, str) and ITEM_ID.match(item_id)):
        return "a rating names a kind (power, notice, catalogue) and an item id"
    level = payload.get("level")
    if type(level) is not int or level not in LEVELS:
        return "a rating's level is a whole number from 1 to 5"
    if not isinstance(reasons, list) or len(reasons) > MAX_REASONS or not all(_text(r) for r in reasons):
        return f"a rating's reasons are at most {MAX_REASONS} codes"
    if day(payload.get("day")) is None:
        return "a rating has its day, YYYY-MM-DD"
    return None


def _display_log(payload: dict[str, Any]) -> str | None:
    if day(payload.get("day")) is None or ("at" in payload and moment(payload["at"]) is None):
        return "a display log has its day (YYYY-MM-DD) and the time it was taken"
    notices, posting = payload.get("notices"), payload.get("posting") or {}
    shown = payload.get("shown", 0)
    if type(shown) is not int or not 0 <= shown <= MAX_SHOWN:
        return f"a display log counts the notices on show as a whole number up to {MAX_SHOWN}"
    if (
        not isinstance(notices, list)
        or len(notices) > MAX_NOTICES
        or not all(isinstance(n, str) and ITEM_ID.match(n) for n in notices)
    ):
        return f"a display log lists at most {MAX_NOTICES} notice ids"
    if not isinstance(posting, dict) or len(posting) > MAX_POSTING:
        return f"a display log's posting facts are an object of at most {MAX_POSTING} notice ids"
    for notice_id, facts in posting.items():
        if not ITEM_ID.match(notice_id) or not isinstance(facts, dict) or not _posting_facts(facts):
            return f"the posting facts of notice {notice_id[:100]!r} are not title, published_at, days, expires_at"
    return None


def _posting_facts(facts: dict[str, Any]) -> bool:
    days, expires = facts.get("days"), facts.get("expires_at")
    return (
        isinstance(facts.get("title"), str) and len(facts["title"]) <= MAX_TITLE
        and moment(facts.get("published_at")) is not None
        and type(days) is int and 1 <= days <= MAX_POSTING_DAYS
        and (expires is None or moment(expires) is not None)
    )  # fmt: skip


def _usage(payload: dict[str, Any]) -> str | None:
    counts = payload.get("counts")
    if day(payload.get("day")) is None:
        return "a day's counts have their day, YYYY-MM-DD"
    if not isinstance(counts, list) or len(counts) > len(usage.KINDS) * usage.MAX_KEYS_PER_DAY:
        return f"a day's counts are a list of at most {usage.MAX_KEYS_PER_DAY} keys per kind"
    for entry in counts:
        if not (isinstance(entry, list) and len(entry) == 3 and entry[0] in usage.KINDS and isinstance(entry[1], str)
                and len(entry[1]) <= 201 and type(entry[2]) is int and 1 <= entry[2] <= usage.MAX_COUNT):  # fmt: skip
            return f"each count is [kind, key, a whole number from 1 to {usage.MAX_COUNT}], kind one of {usage.KINDS}"
    return None


def usage_counts(payload: dict[str, Any]) -> dict[tuple[str, str], int]:
    """Return a day's counts that the county keeps, by (kind, key): only keys a kiosk counts, and never a search
    that looks like a phone or ID number or a name (kiosk/data/usage.py), whatever a kiosk sent."""
    kept: dict[tuple[str, str], int] = {}
    for kind, key, number in payload["counts"]:
        if usage.valid_key(kind, key):
            kept[(kind, key)] = min(usage.MAX_COUNT, kept.get((kind, key), 0) + number)
    return kept


def _village_notice(payload: dict[str, Any]) -> str | None:
    notice = payload.get("notice")
    if payload.get("action") not in ("publish", "update", "withdraw") or moment(payload.get("at")) is None:
        return "a notice change has an action (publish, update, withdraw) and its time"
    if not isinstance(payload.get("reason", ""), str):
        return "a notice change's reason is text"
    if not isinstance(notice, dict) or not (isinstance(notice.get("id"), str) and ITEM_ID.match(notice["id"])):
        return "a notice change carries the notice and its id"
    return None


def refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(body: bytes) -> Any:
    """Parse what a kiosk sent, strictly: NaN and Infinity are not JSON (SQLite's JSON functions refuse
    them), nor is text with a lone surrogate (it cannot be stored as UTF-8), nor nesting past Python's limit.

    :raises ValueError: when *body* is not such JSON text.
    """
    try:
        value = json.loads(body, parse_constant=refuse_constant)
        json.dumps(value, ensure_ascii=False).encode()
    except (RecursionError, UnicodeError) as error:
        raise ValueError(f"not JSON the county can keep: {type(error).__name__}") from None
    return value


# What a kiosk reports about itself (store.record_report): kept as plain values, whatever was sent.
MAX_REPORTED_TEXT = 2000
REPORT_KEY = re.compile(r"[0-9a-f]{16,64}")
SQLITE_INTEGERS = range(-(2**63), 2**63)


def storable(value: Any) -> str | int | float | None:
    """Return a reported value as SQLite can keep it: numbers in range, texts cut short, anything else as JSON text."""
    if isinstance(value, bool) or value is None:
        return None if value is None else int(value)
    if isinstance(value, int):
        return value if value in SQLITE_INTEGERS else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text[:MAX_REPORTED_TEXT]


def report_key(value: Any) -> str | None:
    """Return a report's key (the kiosk's random hex, the same in each retry of one report), or None: a kiosk
    older than report keys sends none, and anything else is not one."""
    return value if isinstance(value, str) and REPORT_KEY.fullmatch(value) else None


def overdue(value: Any) -> list[dict[str, str]]:
    """Return the reported overdue disclosures as plain texts; anything else in the list is left out."""
    duties = value if isinstance(value, list) else []
    return [{key: str(duty.get(key) or "")[:MAX_TEXT] for key in ("duty", "title", "what", "period", "due")}
            for duty in duties[:200] if isinstance(duty, dict)]  # fmt: skip


# A kiosk's last software update, as it reports it (kiosk/device/reporting.py last_update).
UPDATE_OUTCOMES = ("unchanged", "installed", "failed", "rolled_back")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+!_-]{0,99}")  # a version number, as PEP 440 writes them
_STEP = re.compile(r"[a-z_]{1,20}")
MAX_UPDATE_ERROR = 500


def software_update(value: Any) -> dict[str, str | None] | None:
    """Return a reported software update as plain, short texts (None for a value that is not what the kiosk
    sends); None when it names no release offered."""
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("offered"), str)
        or not _VERSION.fullmatch(value["offered"])
    ):
        return None
    outcome, step, error = (value.get(name) for name in ("outcome", "step", "error"))
    return {
        "offered": value["offered"],
        "outcome": outcome if outcome in UPDATE_OUTCOMES else None,
        "step": step if isinstance(step, str) and _STEP.fullmatch(step) else None,
        "error": error[:MAX_UPDATE_ERROR] if isinstance(error, str) else None,
        "at": _time(value.get("at")),
    }


def _time(value: Any) -> str | None:
    """Return *value* as an ISO time if it is one (with or without its zone) in a plausible year."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 40 else None
    except ValueError:
        return None
    return parsed.isoformat() if parsed is not None and parsed.year in YEARS else None
