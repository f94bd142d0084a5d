"""The studio's changes in county.db: a draft of one content file, submitted, approved or sent back.

A change holds the whole file as its author wrote it, and the file's git object id when the draft
began (its base). Approving it writes the file into the content folder and records it in the folder's
history (sync.authoring.history) with its author and reason, the reviewer as committer, unless the
file changed meanwhile: then the approval is refused as a conflict, never an overwrite. A file has at
most one open change (draft, submitted or sent back) at a time: a second editor finds it and works
on it, and every save names the revision it was made from, so two saves of one revision cannot both
win. Each step is in the audit log.

States: draft → submitted → approved (in the folder) → published (signed for the kiosks); a reviewer
may send a submitted change back (returned, with a reason), and its author may submit it again.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.data import audit
from kiosk.data.transactions import transaction
from sync.authoring.drafts import staged_photo, staged_refs
from sync.authoring.history import History, HistoryError
from sync.contract.files import atomic_write
from sync.contract.i18n import tr

OPEN = ("draft", "submitted", "returned")
STATES = (*OPEN, "approved", "published", "withdrawn")
MAX_FILE_BYTES = 2 * 1024 * 1024  # a content file's cap (sync.contract.source.MAX_TEXT_BYTES)
# The files a change may write: one item's file in its kind's folder, or one of the county's own lists;
# nothing above or beside them.
PATH = re.compile(
    r"(powers|catalogue|guides)/[a-z0-9][a-z0-9-]{0,62}\.yaml|notices/[a-z0-9][a-z0-9-]{0,62}\.md|calendar/[0-9]{4}\.yaml"
    r"|contacts\.yaml|ten_ones\.yaml|duties\.yaml|county\.yaml"
)

SCHEMA = [
    """create table studio_changes (
      id integer primary key, kind text not null, path text not null, item_id text not null, title text not null,
      township text not null default '', base text not null, content text, state text not null,
      revision integer not null default 1, author text not null, reason text not null default '',
      created_at text not null, updated_at text not null, reviewer text, reviewed_at text, note text,
      commit_id text, published_version integer)""",
    # One open change per file: a second editor is shown the first one's draft, not a second draft.
    "create unique index studio_one_open_change on studio_changes (path)"
    " where state in ('draft', 'submitted', 'returned')",
    "create index studio_changes_by_state on studio_changes (state, township)",
]


class ChangeError(ValueError):
    """A step the change cannot take; the message says why and what to do. *code* names the rule."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Change:
    id: int
    kind: str
    path: str
    item_id: str
    title: str
    township: str
    base: str
    content: str | None
    state: str
    revision: int
    author: str
    reason: str
    updated_at: str
    reviewer: str | None
    note: str | None
    commit_id: str | None


def create_table(db: sqlite3.Connection) -> None:
    """Make the studio's table (county.db's migration calls it, inside its transaction)."""
    for statement in SCHEMA:
        db.execute(statement)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _change(row: sqlite3.Row) -> Change:
    return Change(**{name: row[name] for name in Change.__dataclass_fields__})


def get(db: sqlite3.Connection, change_id: int) -> Change | None:
    row = db.execute("select * from studio_changes where id = ?", (change_id,)).fetchone()
    return _change(row) if row else None


def open_change_of(db: sqlite3.Connection, path: str) -> Change | None:
    """The file's open change (a draft, submitted or sent back), if it has one."""
    row = db.execute(
        "select * from studio_changes where path = ? and state in ('draft', 'submitted', 'returned')", (path,)
    ).fetchone()
    return _change(row) if row else None


def listed(
    db: sqlite3.Connection, states: tuple[str, ...], township: str | None = None, limit: int = 200
) -> list[Change]:
    """Changes in *states*, latest first; only one township's (and not the county's) when *township* is given."""
    marks = ", ".join("?" * len(states))
    where, values = f"state in ({marks})", list(states)
    if township is not None:
        where, values = where + " and township = ?", [*values, township]
    rows = db.execute(
        f"select * from studio_changes where {where} order by updated_at desc, id desc limit ?",  # noqa: S608 - marks only
        (*values, limit),
    )
    return [_change(row) for row in rows]


def _checked_path(path: str) -> None:
    if not PATH.fullmatch(path):
        message = tr("%(path)s is not an item's file (powers/ID.yaml, notices/ID.md, catalogue/ID.yaml, guides/ID.yaml"
                     " or calendar/YEAR.yaml) nor one of the county's lists: nothing is written there",
                     path=path)  # fmt: skip
        raise ChangeError(message, "bad_path")


def _checked_content(content: str | None) -> None:
    if content is not None and len(content.encode("utf-8")) > MAX_FILE_BYTES:
        raise ChangeError(
            tr("the file would be larger than %(mb)s MB", mb=MAX_FILE_BYTES // (1024 * 1024)), "too_large"
        )


def save_draft(
    db: sqlite3.Connection, *, kind: str, path: str, item_id: str, title: str, township: str, base: str,
    content: str | None, author: str, reason: str, change_id: int | None = None, revision: int = 0,
) -> Change:  # fmt: skip
    """Start a draft of the file *path*, or save the open change *change_id* made from *revision*.

    :raises ChangeError: ``open_elsewhere`` when the file has an open change already (and this is a new
        draft); ``stale`` when the change was saved by someone else since *revision*; ``not_open`` when
        it is approved, published or withdrawn.
    """
    _checked_path(path)
    _checked_content(content)
    now = _now()
    with transaction(db):
        if change_id is None:
            change_id = _new_draft(db, Draft(kind, path, item_id, title, township, base, content), author, reason, now)
        else:
            current = _open(db, change_id)
            if current.revision != revision:
                raise ChangeError(tr("%(author)s saved this change at %(at)s, after you opened it: your edits were not"
                                     " saved. Open it again to see theirs, then make yours.",
                                     author=current.author, at=current.updated_at), "stale")  # fmt: skip
            db.execute(
                "update studio_changes set title = ?, township = ?, content = ?, reason = ?, author = ?,"
                " revision = revision + 1, updated_at = ?, state = case when state = 'submitted' then 'submitted'"
                " else 'draft' end where id = ?",
                (title, township, content, reason, author, now, change_id),
            )
            audit.record(db, author, "studio.save", kind, item_id, after={"change": change_id})
    saved = get(db, change_id)
    assert saved is not None
    return saved


@dataclass(frozen=True)
class Draft:
    """A new draft of one file, as an import makes many at once."""

    kind: str
    path: str
    item_id: str
    title: str
    township: str
    base: str
    content: str | None


def _new_draft(db: sqlite3.Connection, draft: Draft, author: str, reason: str, now: str) -> int:
    """Insert *draft* (inside the caller's transaction); refuse it when its file has an open change."""
    other = open_change_of(db, draft.path)
    if other is not None:
        raise ChangeError(tr("%(author)s is already changing this item (change %(id)s): open that change",
                             author=other.author, id=other.id), "open_elsewhere")  # fmt: skip
    [(change_id,)] = db.execute(
        "insert into studio_changes (kind, path, item_id, title, township, base, content, state, author,"
        " reason, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?, ?, ?) returning id",
        (draft.kind, draft.path, draft.item_id, draft.title, draft.township, draft.base, draft.content, author,
         reason, now, now),
    ).fetchall()  # fmt: skip
    change_id = int(change_id)
    audit.record(db, author, "studio.draft", draft.kind, draft.item_id, after={"change": change_id, "path": draft.path})
    return change_id


def save_drafts(
    db: sqlite3.Connection, drafts: list[Draft], author: str, reason: str
) -> tuple[int, list[tuple[Draft, str]]]:
    """Start a draft of each file in one transaction; return how many, and those refused with why (an open change)."""
    made, refused = 0, []
    now = _now()
    with transaction(db):
        for draft in drafts:
            try:
                _checked_content(draft.content)
                _new_draft(db, draft, author, reason, now)
                made += 1
            except ChangeError as error:
                refused.append((draft, str(error)))
    return made, refused


def _open(db: sqlite3.Connection, change_id: int) -> Change:
    change = get(db, change_id)
    if change is None:
        raise ChangeError(tr("there is no change number %(id)s", id=change_id), "unknown")
    if change.state not in OPEN:
        raise ChangeError(tr("change %(id)s has been approved, published or withdrawn already: nothing more can be"
                             " done to it", id=change_id), "not_open")  # fmt: skip
    return change


def _move(db: sqlite3.Connection, change: Change, state: str, actor: str, action: str, **values: Any) -> None:
    sets = ", ".join(f"{name} = ?" for name in values)
    db.execute(
        f"update studio_changes set state = ?, updated_at = ?{', ' + sets if sets else ''} where id = ?",  # noqa: S608
        (state, _now(), *values.values(), change.id),
    )
    audit.record(db, actor, action, change.kind, change.item_id, before={"state": change.state},
                 after={"state": state, "change": change.id}, reason=values.get("note") or None)  # fmt: skip


def submit(db: sqlite3.Connection, change_id: int, actor: str) -> None:
    """Send the draft (or a change sent back) for review."""
    with transaction(db):
        change = _open(db, change_id)
        if change.state == "submitted":
            return
        _move(db, change, "submitted", actor, "studio.submit")


def send_back(db: sqlite3.Connection, change_id: int, reviewer: str, note: str) -> None:
    """Return a submitted change to its author with the reason *note* (required)."""
    if not note.strip():
        raise ChangeError(tr("say why the change goes back, so that its author can fix it"), "no_note")
    with transaction(db):
        change = _open(db, change_id)
        if change.state != "submitted":
            raise ChangeError(tr("only a submitted change can be sent back"), "not_submitted")
        _move(db, change, "returned", reviewer, "studio.return", reviewer=reviewer, reviewed_at=_now(), note=note)


def withdraw(db: sqlite3.Connection, change_id: int, actor: str) -> None:
    """Drop an open change: the file stays as it is in the folder."""
    with transaction(db):
        _move(db, _open(db, change_id), "withdrawn", actor, "studio.withdraw")


def approve(
    db: sqlite3.Connection, change_id: int, reviewer: str, folder: Path, note: str = "", revision: int | None = None,
    staged: Path | None = None,
) -> str | None:  # fmt: skip
    """Write the submitted change into the content folder and record it; return the commit (None: no difference).

    *revision* is the one the reviewer saw (None: whichever the change is at). The photos uploaded with the
    draft (kept in *staged*, sync.authoring.drafts) are copied into the folder's media/ and recorded with it.
    When git fails, the file is put back as it was: the folder never holds an approved-looking file that its
    history does not.

    :raises ChangeError: ``own_change`` for the change's own author (another person reviews);
        ``changed_since`` when the change was saved again after the reviewer saw *revision*;
        ``conflict`` when the file in the folder is no longer the one the draft began from;
        ``photo_missing`` when a photo uploaded with it is gone (nothing is written: the folder stays valid).
    :raises HistoryError: when git fails (its message says why).
    """
    history = History(folder)
    with history.lock():  # the change is read in the lock: what is written is what is checked here
        change = _approvable(db, change_id, reviewer, revision)
        history.start()
        history.record_hand_edits()
        written = change.content.encode("utf-8") if change.content is not None else None
        if history.blob(change.path) == history.blob_of(written) != change.base:
            pass  # written and recorded already, by an approval that stopped before it could say so below
        elif history.blob(change.path) != change.base:
            message = tr("%(path)s changed in the content folder after this draft began: open the item, take the"
                         " other change into account and submit again", path=change.path)  # fmt: skip
            raise ChangeError(message, "conflict")
        if missing := _missing_photos(folder, staged, change.content or ""):
            message = tr("the photo %(ref)s sent with this draft is no longer on the server: its author sends it"
                         " again in the notice's form, then submits the notice again", ref=missing[0])  # fmt: skip
            raise ChangeError(message, "photo_missing")
        target = folder / change.path
        before = target.read_bytes() if target.is_file() else None
        photos = _copy_photos(folder, staged, change.content or "")
        _put(target, written)
        reason = change.reason or tr("changed in the studio")
        try:
            commit = history.record([change.path, *photos], change.author, f"{reason}\n\nStudio-change: {change.id}",
                                    reviewer)  # fmt: skip
        except HistoryError:
            _put(target, before)  # else the next publish would take it as a hand edit, never approved
            for photo in photos:
                (folder / photo).unlink(missing_ok=True)
            raise
        with transaction(db):
            _move(db, _open(db, change_id), "approved", reviewer, "studio.approve", reviewer=reviewer,
                  reviewed_at=_now(), note=note or None, commit_id=commit)  # fmt: skip
    return commit


def _approvable(db: sqlite3.Connection, change_id: int, reviewer: str, revision: int | None) -> Change:
    change = _open(db, change_id)
    if change.state != "submitted":
        raise ChangeError(tr("only a submitted change can be approved"), "not_submitted")
    if change.author == reviewer:
        raise ChangeError(tr("you wrote this change: another reviewer approves it"), "own_change")
    if revision is not None and change.revision != revision:
        raise ChangeError(tr("%(author)s saved this change again at %(at)s, after you opened it: look at it again"
                             " before you approve it", author=change.author, at=change.updated_at),
                          "changed_since")  # fmt: skip
    _checked_path(change.path)  # a change saved before paths were checked writes nothing outside its folder
    return change


def _missing_photos(folder: Path, staged: Path | None, text: str) -> list[str]:
    """The uploaded photos *text* names that neither the folder nor *staged* has (deleted meanwhile)."""
    return [ref for ref in staged_refs(text) if not (folder / ref).exists() and staged_photo(staged, ref) is None]


def _copy_photos(folder: Path, staged: Path | None, text: str) -> list[str]:
    """Copy the uploaded photos *text* names that the folder lacks from *staged* into it; return their paths."""
    copied = []
    for ref in staged_refs(text):
        source = staged_photo(staged, ref)
        if source is not None and not (folder / ref).exists():
            _put(folder / ref, source.read_bytes())
            copied.append(ref)
    return copied


def _put(target: Path, content: bytes | None) -> None:
    if content is None:
        target.unlink(missing_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, content)


def mark_published(db: sqlite3.Connection, version: int, actor: str) -> int:
    """Mark every approved change as published in *version*; return how many."""
    with transaction(db):
        count = db.execute(
            "update studio_changes set state = 'published', published_version = ?, updated_at = ?"
            " where state = 'approved'",
            (version, _now()),
        ).rowcount
        audit.record(db, actor, "studio.publish", "version", str(version), after={"changes": count})
    return int(count)
