"""The county a content folder holds, loaded once and then kept up to date file by file as the folder's
history moves: after an approval, only the files that changed are read again.

Loading a county of 10,000 items takes some 15 s; the studio's preview needs the folder as it is now
after every approval and every hand edit. Its state is the latest commit and the files changed since
(git status); from one state to the next, the files that differ are read again with
sync.contract.content.with_file, which checks each as `kiosk county validate` does against the rest.
county.yaml, a photo, an area of the catalogue taken away, or more than MAX_CHANGED files, and the
whole folder is loaded again.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from sync.authoring import items
from sync.authoring.history import History
from sync.contract.checks import FolderReader
from sync.contract.content import County, load_county, path_id, with_file

MAX_CHANGED = 200  # files read one by one at most; past it, the whole folder is loaded again


class FolderCounty:
    """The county in *folder* as it is now (kiosk.county.studio.preview keeps one; not thread-safe)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.state = ""  # the folder's state the county was read at
        self.head: str | None = None
        self.pending: set[str] = set()  # the files changed then and not recorded
        self.county: County | None = None

    def current(self) -> tuple[str, County]:
        """The folder's state in a word, and the county it holds.

        :raises ContentInvalid: when the folder (or a changed file of it) has a problem.
        """
        history = History(self.folder)
        head, status = history.head(), history.status()  # two git commands
        state = hashlib.sha256(f"{head}\n{status}".encode()).hexdigest()[:20]
        if state == self.state and self.county is not None:
            return state, self.county
        pending = History.paths_in(status)
        county = None
        if self.county is not None and self.head is not None and head is not None:
            changed = set(history.changed_since(self.head)) | self.pending | pending
            county = _updated(self.county, self.folder, changed)
        self.county = None  # a load that fails leaves nothing half-read behind
        self.county = county or load_county(self.folder)
        self.state, self.head, self.pending = state, head, pending
        return state, self.county


def _updated(county: County, folder: Path, changed: set[str]) -> County | None:
    """*county* with the files *changed* read again, or None when the whole folder must be loaded again."""
    if len(changed) > MAX_CHANGED or any(path == "county.yaml" or path.startswith("media/") for path in changed):
        return None
    for path in sorted(changed):
        if path.rpartition("/")[2].startswith(".") or not _is_content(path):
            continue  # editor files, and anything that is not content (a README), as load_county skips them
        if (folder / path).is_file():
            county = with_file(county, FolderReader(folder), path)
        elif path.startswith(("powers/", "notices/")):
            gone = path_id(path)
            county = replace(county, powers=[p for p in county.powers if p["id"] != gone],
                             notices=[n for n in county.notices if n["id"] != gone])  # fmt: skip
        else:
            return None  # a catalogue area or a county file taken away
    return county


def _is_content(path: str) -> bool:
    if path in items.FILE_KINDS:
        return True
    folder, _, name = path.partition("/")
    return folder in ("powers", "notices", "catalogue") and "/" not in name
