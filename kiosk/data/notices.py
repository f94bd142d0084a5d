"""Village notices posted by staff: validated, rendered safe, recorded in the audit log and the outbox.

They live in local.db, never in the content database, so no sync ever touches them; the villager
screens show them mixed with the county's (kiosk/queries.py). A notice with a 公示期 (minimum
posting period, in working days) may be withdrawn or shortened inside it only with a reason, and
that is recorded. A change that takes a running posting off the screen, or makes its
公示期 end sooner (a publication date moved ahead or back, fewer days), ends that posting as a
withdrawal with the reason, and the notice is posted again as a new one: the county judges
early takedowns by each notice's latest change, so the cut-short posting must stay withdrawn.
A notice may name the disclosure duty and period it fulfils; published, it marks them done (duties.py).
A 公示期 is counted on the official calendar of the installed content (workdays.py), which callers pass.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

from kiosk.data import audit, duties, photos
from kiosk.data.local_db import local_media_dir, open_local, transaction
from kiosk.data.queries import DOMAINS, content_time, is_out
from sync.contract.dates import WorkCalendar, end_of_posting, parse_moment

MAX_TITLE = 120
MAX_BODY = 20_000
STATES = ("draft", "published", "withdrawn")
# The photos of a withdrawn notice are kept this long after, for the console's record of it; the
# notice's text stays in local.db and the audit log for good.
WITHDRAWN_PHOTOS_KEPT = timedelta(days=365)
_FIELDS = ("domain", "title", "body", "photos", "published", "expires", "min_posting_days", "pinned", "duty", "period")


@dataclass
class NoticeInvalid(Exception):
    """What is wrong with a notice, field by field, to show beside the fields."""

    problems: dict[str, Any] = field(default_factory=dict)


def _moment(text: str) -> str:
    return content_time(parse_moment(text))


def _end_moment(text: str) -> str:
    return content_time(parse_moment(text, end_of_day=True))


def posting_ends(notice: dict[str, Any], calendar: WorkCalendar) -> date | None:
    """Return the last day of the notice's 公示期 (working days of *calendar*), or None when it has none."""
    if not notice.get("min_posting_days"):
        return None
    published = datetime.fromisoformat(notice["published_at"]).date()
    return end_of_posting(published, int(notice["min_posting_days"]), calendar)


def in_posting_period(notice: dict[str, Any], now: datetime, calendar: WorkCalendar) -> bool:
    ends = posting_ends(notice, calendar)
    return notice["state"] == "published" and ends is not None and now.date() <= ends


def clean(values: dict[str, Any], disclosures: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Check what staff typed; return the notice's fields, or raise NoticeInvalid naming each problem.

    The duty and period it says it discloses must be among *disclosures* (duties.disclosure_choices).
    """
    from sync.contract.render import render_markdown  # when a notice is saved: the screens show the stored HTML

    problems: dict[str, Any] = {}
    title = (values.get("title") or "").strip()
    body = (values.get("body") or "").strip()
    if not title:
        problems["title"] = _l("Give the notice a title.")
    elif len(title) > MAX_TITLE:
        problems["title"] = _l("A title has at most %(count)d characters.", count=MAX_TITLE)
    if values.get("domain") not in DOMAINS:  # a key: party, village, finance or government
        problems["domain"] = _l("Choose what kind of affairs the notice is about.")
    if not body:
        problems["body"] = _l("Write the text of the notice.")
    elif len(body) > MAX_BODY:
        problems["body"] = _l("The text has at most %(count)d characters.", count=MAX_BODY)
    published, expires = (values.get("published") or "").strip(), (values.get("expires") or "").strip()
    try:
        published_at = _moment(published)
    except ValueError:
        problems["published"] = _l("Give the publication date as YYYY-MM-DD (and a time HH:MM if you like).")
        published_at = ""
    expires_at = None
    if expires:
        try:
            expires_at = _end_moment(expires)
        except ValueError:
            problems["expires"] = _l("Give the end date as YYYY-MM-DD (and a time HH:MM if you like).")
        else:
            if published_at and expires_at <= published_at:
                problems["expires"] = _l("The notice must come down after it goes up.")
    days_text = str(values.get("min_posting_days") or "").strip()
    days = None
    if days_text:
        if not days_text.isdigit() or not 1 <= int(days_text) <= 90:
            problems["min_posting_days"] = _l("A public notice period is 1 to 90 working days.")
        else:
            days = int(days_text)
    duty, period = (values.get("duty") or "").strip(), (values.get("period") or "").strip()
    if disclosure := duties.disclosure_problem(disclosures or {}, duty, period):
        problems["disclosure"] = disclosure
    if problems:
        raise NoticeInvalid(problems)
    return {
        "domain": DOMAINS[values["domain"]], "title": title, "body": body, "body_html": render_markdown(body),
        "photos": json.dumps(list(values.get("photos") or [])), "published": published[:10],
        "expires": expires[:10] if expires else None, "published_at": published_at, "expires_at": expires_at,
        "min_posting_days": days, "pinned": int(bool(values.get("pinned"))), "duty": duty or None,
        "period": period or None,
    }  # fmt: skip


def get(db: sqlite3.Connection, notice_id: str) -> dict[str, Any] | None:
    row = db.execute("select * from village_notices where id = ?", (notice_id,)).fetchone()
    return dict(row) if row else None


def listing(db: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = db.execute("select * from village_notices order by state = 'withdrawn', published_at desc, id")
    return [dict(row) for row in rows]


def _public(notice: dict[str, Any]) -> dict[str, Any]:
    """The fields of a notice as the audit log and the county see them."""
    keys = ("id", "state", *_FIELDS, "published_at", "expires_at", "withdraw_reason")
    return {key: notice.get(key) for key in keys}


def _to_outbox(db: sqlite3.Connection, action: str, notice: dict[str, Any], now: datetime, reason: str = "") -> None:
    """Queue the change for the county, with the reason staff gave for cutting a 公示期 short, if any.

    The key makes a repeated upload harmless; the county lists early takedowns with the reason.
    """
    payload = {"action": action, "notice": _public(notice), "at": now.isoformat(timespec="seconds")}
    if reason.strip():
        payload["reason"] = reason.strip()
    db.execute(
        "insert into outbox (idempotency_key, kind, payload, created_at) values (?, 'village_notice', ?, ?)",
        (str(uuid.uuid4()), json.dumps(payload, ensure_ascii=False), now.isoformat(timespec="seconds")),
    )
    if action != "withdraw":
        _photos_to_outbox(db, notice, now)


def _photos_to_outbox(db: sqlite3.Connection, notice: dict[str, Any], now: datetime) -> None:
    """Queue the notice's photos for the county's phone pages: by name only, the uplink reads the file
    when it sends (the outbox holds no copy). A photo already waiting is not queued twice."""
    names = notice.get("photos") or "[]"
    for name in json.loads(names) if isinstance(names, str) else names:
        waiting = db.execute(
            "select 1 from outbox where kind = 'notice_photo' and json_extract(payload, '$.name') = ?", (name,)
        ).fetchone()
        if waiting is None:
            db.execute(
                "insert into outbox (idempotency_key, kind, payload, created_at) values (?, 'notice_photo', ?, ?)",
                (
                    str(uuid.uuid4()),
                    json.dumps({"notice": notice["id"], "name": name}),
                    now.isoformat(timespec="seconds"),
                ),
            )


def create(db: sqlite3.Connection, actor: str, values: dict[str, Any], now: datetime, publish: bool,
           disclosures: dict[str, dict[str, Any]] | None = None) -> str:  # fmt: skip
    """Save a new notice (published at once, or as a draft); return its id. See `clean` for *disclosures*."""
    state = "published" if publish else "draft"
    notice = {**clean(values, disclosures), "id": "local-" + secrets.token_hex(6), "state": state}
    stamp = now.isoformat(timespec="seconds")
    with transaction(db):
        db.execute(
            f"insert into village_notices ({', '.join(notice)}, created_by, created_at, updated_by, updated_at)"  # noqa: S608
            f" values ({', '.join('?' * len(notice))}, ?, ?, ?, ?)",
            (*notice.values(), actor, stamp, actor, stamp),
        )
        audit.record(db, actor, "notice.create", "notice", notice["id"], after=_public(notice))
        if publish:
            _to_outbox(db, "publish", notice, now)
    return str(notice["id"])


def cuts_posting_short(before: dict[str, Any], changed: dict[str, Any], now: datetime, calendar: WorkCalendar) -> bool:
    """Tell whether *changed* ends the running 公示期 of the notice *before* early.

    So it does when the notice is up and inside its 公示期, and the change takes it off the screen
    (a publication date moved past now) or makes the period end sooner (a publication date moved
    back, fewer days, or none). An expiry brought forward is judged by `update` itself.
    """
    ends = posting_ends(before, calendar)
    if before["state"] != "published" or ends is None or now.date() > ends or not is_out(before, now):
        return False
    new_ends = posting_ends({**before, **changed}, calendar)
    return not is_out(changed, now) or new_ends is None or new_ends < ends


def update(
    db: sqlite3.Connection, actor: str, notice_id: str, values: dict[str, Any], now: datetime,
    publish: bool = False, reason: str = "", disclosures: dict[str, dict[str, Any]] | None = None, *,
    calendar: WorkCalendar,
) -> str:  # fmt: skip
    """Change a notice; shortening one inside its 公示期 (in working days of *calendar*) needs a recorded *reason*.

    Return the id of the notice as it now stands: a new one when the change cut the running
    posting short (see `cuts_posting_short`), which is then withdrawn and posted again.
    """
    before = get(db, notice_id)
    if before is None or before["state"] == "withdrawn":
        raise NoticeInvalid({"": _l("This notice cannot be changed any more.")})
    changed = clean(values, disclosures)
    if cuts_posting_short(before, changed, now, calendar):
        if not reason.strip():
            raise NoticeInvalid({"reason": _l(
                "This notice is on the kiosk inside its public notice period, and this change takes it down early"
                " or ends the period sooner: say why, as for a withdrawal."
            )})  # fmt: skip
        return _post_again(db, actor, before, changed, now, reason.strip())
    ends = posting_ends(before, calendar)
    shortened = (
        ends is not None
        and before["state"] == "published"
        and now.date() <= ends
        and (
            (changed["expires_at"] or "9999") < (before["expires_at"] or "9999")
            or (changed["min_posting_days"] or 0) < before["min_posting_days"]
        )
    )
    if shortened and not reason.strip():
        raise NoticeInvalid({"reason": _l("This notice is inside its public notice period: say why it is shortened.")})
    state = "published" if publish or before["state"] == "published" else "draft"
    after = {**before, **changed, "state": state}
    with transaction(db):
        db.execute(
            f"update village_notices set {', '.join(f'{k} = ?' for k in changed)}, state = ?, updated_by = ?,"  # noqa: S608
            " updated_at = ? where id = ?",
            (*changed.values(), state, actor, now.isoformat(timespec="seconds"), notice_id),
        )
        audit.record(db, actor, "notice.shorten" if shortened else "notice.update", "notice", notice_id,
                     before=_public(before), after=_public(after), reason=reason.strip() or None)  # fmt: skip
        if state == "published":
            _to_outbox(db, "publish" if before["state"] == "draft" else "update", after, now, reason)
    return notice_id


def _post_again(
    db: sqlite3.Connection, actor: str, before: dict[str, Any], changed: dict[str, Any], now: datetime, reason: str
) -> str:
    """Withdraw the posting *before* with *reason*, and post the notice with *changed* as a new one; return its id.

    The withdrawal is audited and queued for the county as any withdrawal with a reason is, so the
    county lists the cut-short posting among the early takedowns.
    """
    stamp = now.isoformat(timespec="seconds")
    again = {**changed, "id": "local-" + secrets.token_hex(6), "state": "published"}
    withdrawn = {**before, "state": "withdrawn", "withdraw_reason": reason}
    with transaction(db):
        db.execute(
            "update village_notices set state = 'withdrawn', withdrawn_at = ?, withdraw_reason = ?,"
            " updated_by = ?, updated_at = ? where id = ?",
            (stamp, reason, actor, stamp, before["id"]),
        )
        audit.record(db, actor, "notice.withdraw", "notice", before["id"], before=_public(before),
                     after={**_public(withdrawn), "posted_again_as": again["id"]}, reason=reason)  # fmt: skip
        _to_outbox(db, "withdraw", withdrawn, now, reason)
        db.execute(
            f"insert into village_notices ({', '.join(again)}, created_by, created_at, updated_by, updated_at)"  # noqa: S608
            f" values ({', '.join('?' * len(again))}, ?, ?, ?, ?)",
            (*again.values(), actor, stamp, actor, stamp),
        )
        audit.record(db, actor, "notice.create", "notice", again["id"],
                     after={**_public(again), "posted_again_from": before["id"]}, reason=reason)  # fmt: skip
        _to_outbox(db, "publish", again, now)
    return str(again["id"])


def withdraw(
    db: sqlite3.Connection, actor: str, notice_id: str, now: datetime, reason: str = "", *, calendar: WorkCalendar
) -> None:
    """Take a notice down; inside its 公示期 (working days of *calendar*) only with a *reason*, which is recorded."""
    before = get(db, notice_id)
    if before is None or before["state"] == "withdrawn":
        raise NoticeInvalid({"": _l("This notice is already withdrawn.")})
    if in_posting_period(before, now, calendar) and not reason.strip():
        raise NoticeInvalid({"reason": _l("This notice is inside its public notice period: say why it is withdrawn.")})
    stamp = now.isoformat(timespec="seconds")
    after = {**before, "state": "withdrawn", "withdraw_reason": reason.strip() or None}
    with transaction(db):
        db.execute(
            "update village_notices set state = 'withdrawn', withdrawn_at = ?, withdraw_reason = ?,"
            " updated_by = ?, updated_at = ? where id = ?",
            (stamp, reason.strip() or None, actor, stamp, notice_id),
        )
        audit.record(db, actor, "notice.withdraw", "notice", notice_id, before=_public(before),
                     after=_public(after), reason=reason.strip() or None)  # fmt: skip
        if before["state"] == "published":
            _to_outbox(db, "withdraw", after, now, reason)


def photos_in_use(db: sqlite3.Connection, now: datetime) -> set[str]:
    """Return the names of the photos that notices show: drafts, published ones, and those withdrawn lately."""
    cutoff = (now - WITHDRAWN_PHOTOS_KEPT).isoformat(timespec="seconds")
    rows = db.execute(
        "select photos from village_notices where state != 'withdrawn' or withdrawn_at is null or withdrawn_at > ?",
        (cutoff,),
    )
    return {name for (names,) in rows for name in json.loads(names)}


def prune_photos(db: sqlite3.Connection, data_dir: Path, now: datetime) -> int:
    """Delete the photos no notice uses any more (a rejected or abandoned form's, a notice's old ones).

    A photo stored within the last day is spared: its form may still be being filled in.
    Return how many files were deleted.
    """
    return photos.remove_unused(local_media_dir(data_dir), photos_in_use(db, now))


def prune_photos_in(data_dir: Path, now: datetime | None = None) -> int:
    """Prune the kiosk's notice photos, for a job outside the console (the nightly one)."""
    db = open_local(data_dir)
    try:
        return prune_photos(db, data_dir, now or datetime.now())
    finally:
        db.close()
