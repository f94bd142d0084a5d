"""Taking back a change from the history: drafts of the files as they were, approved by another person.

A change in the folder's history is not undone by one click of one reviewer: taking it back makes a
draft of each file it touched, holding the file as it was before (or removing a file it added),
which goes through review like any other draft (four eyes: its author never approves it). Files a
later change touched again are refused, and so is the folder's first record, which holds the
whole county as the studio found it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kiosk.county.studio import changes
from kiosk.county.studio.access import scope_of
from kiosk.data.accounts import Account
from sync.authoring import items
from sync.authoring.history import History
from sync.contract.i18n import tr


def take_back(db: sqlite3.Connection, folder: Path, commit: str, account: Account, reason: str) -> int:
    """Make the drafts that take back *commit*; return how many.

    :raises changes.ChangeError: for the first record, a file the studio does not edit, a file changed
        again since, or a file with an open change; nothing is made then.
    """
    history = History(folder)
    parent = history.parent(commit)
    if parent is None:
        raise changes.ChangeError(tr("the folder's first record holds the whole county as the studio found it: it"
                                     " cannot be taken back"), "first_record")  # fmt: skip
    drafts = []
    for path in history.paths(commit):
        if not changes.PATH.fullmatch(path):
            raise changes.ChangeError(tr("this change touched %(path)s, which the studio does not edit: take it back"
                                         " in the folder by hand", path=path), "not_an_item")  # fmt: skip
        then, now = history.file_at(commit, path), _read(folder / path)
        if then != now:
            raise changes.ChangeError(tr("%(path)s changed again after this change: change the item instead",
                                         path=path), "changed_since")  # fmt: skip
        before = history.file_at(parent, path)
        text = before.decode("utf-8") if before is not None else None
        data = items.parse_item(path, text or (then or b"").decode("utf-8", "replace"))
        township = scope_of(items.township_in_folder(folder, path), items.township_of(folder, data))
        title = str(data.get("name") or data.get("title") or data.get("area") or path)
        kind = items.kind_of(path).name
        item_id = Path(path).name.removesuffix(".yaml").removesuffix(".md")
        drafts.append(changes.Draft(kind, path, item_id, title, township, history.blob_of(now), text))
    for draft in drafts:  # all or nothing: a file someone is changing is theirs to finish first
        if (other := changes.open_change_of(db, draft.path)) is not None:
            raise changes.ChangeError(tr("%(author)s is already changing %(path)s (change %(id)s): finish or withdraw"
                                         " that change first", author=other.author, path=draft.path, id=other.id),
                                      "open_elsewhere")  # fmt: skip
    made, _refused = changes.save_drafts(db, drafts, account.name, reason)
    return made


def _read(file: Path) -> bytes | None:
    return file.read_bytes() if file.is_file() else None
