"""Notices in a county folder: each file read into a Notice, and checked against the rest of the county.

``check_notice`` holds the checks that depend on other files (a notice's place on county.yaml, its photos in
media/, its duty in duties.yaml, its 公示期 on the official calendar); a publish runs them again on a notice
whose file has not changed, with the fields NOTICE_CONTEXT names alone (sync/publish/changed_files.py).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sync.contract.checks import FolderReader, without_place
from sync.contract.dates import WorkCalendar, end_of_posting, parse_moment, working_days
from sync.contract.duties import notice_duty_problem, period_problem
from sync.contract.i18n import tr
from sync.contract.kinds import Duty, Notice
from sync.contract.render import render_markdown
from sync.contract.source import SourceFile


def _posting_period_problem(data: dict[str, Any], published: Any, expires: Any, calendar: WorkCalendar) -> str | None:
    """Return why a notice comes down before its 公示期 (working days of *calendar*) ends, or None."""
    needed = data.get("min_posting_days")
    if not needed or expires is None:
        return None
    posted = working_days(published.date(), expires.date(), calendar)
    if posted >= needed:
        return None
    earliest = end_of_posting(published.date(), needed, calendar)
    return tr(
        "posted for %(posted)s working days, but its 公示期 (min_posting_days) is %(needed)s; "
        "set expires to %(earliest)s or later",
        posted=posted,
        needed=needed,
        earliest=earliest.isoformat(),
    )


def notices_of(
    reader: FolderReader, places: dict[str, set[str]] | None, media: dict[str, Path], duties: dict[str, Duty],
    calendar: WorkCalendar,
) -> list[Notice]:  # fmt: skip
    """Read and check every notice of notices/, their problems told to *reader*; return the sound ones."""
    notices: list[Notice] = []
    seen: dict[str, str] = {}
    for source in reader.read_folder("notices", ".md", "notice"):
        reader.check_unique(seen, source.data["id"], source, ("id",), tr("notice id"))
        if (notice := notice_of(reader, source, places, media, duties, calendar)) is not None:
            notices.append(notice)
    return notices


def notice_of(
    reader: FolderReader, source: SourceFile, places: dict[str, set[str]] | None, media: dict[str, Path],
    duties: dict[str, Duty], calendar: WorkCalendar,
) -> Notice | None:  # fmt: skip
    """The notice a file holds (its schema checked already), its problems told to *reader*; None when its dates fail."""
    data = source.data
    scope, moments = check_notice(reader, source, places, media, duties, calendar)
    if not source.body:
        reader.problem(source, (), tr("the notice has no text below its fields"))
    if moments is None:
        return None
    published, expires = moments
    return cast(
        Notice,
        {
            **without_place(data),
            "scope": scope,
            "pinned": bool(data.get("pinned")),
            "published_at": published.isoformat(sep=" "),
            "expires_at": expires.isoformat(sep=" ") if expires else None,
            "body_html": render_markdown(source.body),
            "body_text": source.body,
        },
    )


NOTICE_CONTEXT = ("id", "village", "township", "photos", "duty", "period", "published", "expires", "min_posting_days")


def check_notice(
    reader: FolderReader, source: SourceFile, places: dict[str, set[str]] | None, media: dict[str, Path],
    duties: dict[str, Duty], calendar: WorkCalendar,
) -> tuple[str, tuple[datetime, datetime | None] | None]:  # fmt: skip
    """Check a notice's fields that the rest of the county judges: its place, photos, duty and 公示期 (on the calendar).

    Only the fields of NOTICE_CONTEXT are read: a publish checks an unchanged notice again with those alone
    (sync/publish/changed_files.py). Return its scope, and when it was published and expires (None when a date
    does not exist).
    """
    data = source.data
    scope = reader.check_scope(source, places)
    for n, photo in enumerate(data.get("photos", [])):
        reader.check_media(source, ("photos", n), photo, media)
    if named := notice_duty_problem(data):
        reader.problem(source, (named[0],), named[1])
    elif "duty" in data and data["duty"] not in duties:
        reader.problem(source, ("duty",), tr("no duty %(id)r in duties.yaml", id=data["duty"]))
    elif "duty" in data and (wrong := period_problem(duties[data["duty"]], data["period"])):
        reader.problem(source, ("period",), wrong)
    try:
        published = parse_moment(data["published"])
        expires = parse_moment(data["expires"], end_of_day=True) if "expires" in data else None
    except ValueError:
        bad = "published" if not _is_moment(data["published"]) else "expires"
        reader.problem(source, (bad,), tr("%(date)s is not a date that exists", date=data[bad]))
        return scope, None
    if expires and expires <= published:
        reader.problem(
            source,
            ("expires",),
            tr("%(expires)s is not after published %(published)s", expires=data["expires"],
               published=data["published"]),
        )  # fmt: skip
    elif problem := _posting_period_problem(data, published, expires, calendar):
        reader.problem(source, ("expires",), problem)
    return scope, (published, expires)


def _is_moment(text: str) -> bool:
    try:
        parse_moment(text)
    except ValueError:
        return False
    return True
