"""The county a content folder holds, loaded once and then kept up to date file by file as the folder's
history moves: after an approval, only the files that changed are read again.

Loading a county of 10,000 items takes some 15 s; the studio's preview needs the folder as it is now
after every approval and every hand edit. Its state is the latest commit and the files changed since
(git status, with the files git ignores but load_county reads, and each one's size and time); from
one state to the next, the files that differ are read again with sync.contract.content.with_file,
which checks each as `kiosk county validate` does against the rest. county.yaml, duties.yaml
(notices name its duties), a year of calendar/ (their 公示期 are counted on it), a photo, a file
load_county would refuse (a subfolder, another suffix), an area of the catalogue taken away, an
item whose id is not its file's name, or more than MAX_CHANGED files, and the whole folder is loaded again.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from sync.authoring import items
from sync.authoring.history import History
from sync.contract.checks import FolderReader
from sync.contract.content import County, load_county, path_id, with_file, with_media_used
from sync.contract.source import SourceFile

MAX_CHANGED = 200  # files read one by one at most; past it, the whole folder is loaded again
# load_county reads each entry of these folders
FOLDERS = {
    "powers": ".yaml",
    "notices": ".md",
    "catalogue": ".yaml",
    "guides": ".yaml",
    "media": "",
    "calendar": ".yaml",
}
WHOLE = ("county.yaml", "duties.yaml")  # files others are checked against: the whole folder is read again


class FolderCounty:
    """The county in *folder* as it is now (kiosk.county.studio.preview keeps one; not thread-safe)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.state = ""  # the folder's state the county was read at
        self.head: str | None = None
        self.pending: set[str] = set()  # the files changed then and not recorded
        self.misnamed: set[str] = set()  # item files whose id is not their name: the county cannot be kept by file
        self.county: County | None = None

    def current(self) -> tuple[str, County]:
        """The folder's state in a word, and the county it holds.

        :raises ContentInvalid: when the folder (or a changed file of it) has a problem.
        """
        history = History(self.folder)
        head, status = history.head(), history.status(ignored=True)  # two git commands
        pending = {path for path in History.paths_in(status) if _read_by_load(path)}
        # git status says a file is changed, not how: edited again, it says the same. Its size and time do not.
        state = hashlib.sha256(f"{head}\n{status}\n{_stats(self.folder, pending)}".encode()).hexdigest()[:20]
        if state == self.state and self.county is not None:
            return state, self.county
        county = None
        if self.county is not None and self.head is not None and head is not None and not self.misnamed:
            changed = set(history.changed_since(self.head)) | self.pending | pending
            county = _updated(self.county, self.folder, changed)
        self.county = None  # a load that fails leaves nothing half-read behind
        if county is None:
            misnamed: set[str] = set()
            county = load_county(self.folder, _Reader(self.folder, misnamed))
            self.misnamed = misnamed
        self.county = county
        self.state, self.head, self.pending = state, head, pending
        return state, self.county


class _Reader(FolderReader):
    """A FolderReader that notes each power item or notice whose id is not its file's name in *misnamed*:
    with_file takes an item's file for the item of that id."""

    def __init__(self, root: Path, misnamed: set[str]) -> None:
        super().__init__(root)
        self.misnamed = misnamed

    def read(self, relative: str, schema: str, markdown: bool = False) -> SourceFile | None:
        source = super().read(relative, schema, markdown)
        if source is not None and schema in ("power", "notice") and source.data.get("id") != path_id(relative):
            self.misnamed.add(relative)
        return source


def _updated(county: County, folder: Path, changed: set[str]) -> County | None:
    """*county* with the files *changed* read again, or None when the whole folder must be loaded again."""
    if len(changed) > MAX_CHANGED or any(path in WHOLE or path.startswith(("media/", "calendar/")) for path in changed):
        return None
    for path in sorted(changed):
        if not _read_by_load(path):
            continue  # editor files, and anything that is not content (a README), as load_county skips them
        if not _is_content(path):
            return None  # a file load_county refuses (powers/x.yaml.bak, a subfolder): it says so
        if (folder / path).is_file():
            misnamed: set[str] = set()
            county = with_file(county, _Reader(folder, misnamed), path)
            if misnamed:
                return None
        elif path.startswith(("powers/", "notices/")):
            gone = path_id(path)
            county = replace(county, powers=[p for p in county.powers if p["id"] != gone],
                             notices=[n for n in county.notices if n["id"] != gone])  # fmt: skip
        else:
            return None  # a catalogue area or a county file taken away
    return with_media_used(county)  # a notice taken away takes its photos


def _read_by_load(path: str) -> bool:
    """Whether load_county looks at the file *path*: a county file, or one under a folder it reads (not hidden)."""
    if path in items.FILE_KINDS or path == "county.yaml":
        return True
    folder, _, name = path.partition("/")
    return folder in FOLDERS and bool(name) and not name.startswith(".")


def _is_content(path: str) -> bool:
    """Whether *path* is a file load_county reads as content, named as it must be."""
    if path in items.FILE_KINDS or path == "county.yaml":
        return True
    folder, _, name = path.partition("/")
    return folder in FOLDERS and "/" not in name and name.endswith(FOLDERS[folder])


def _stats(folder: Path, paths: set[str]) -> str:
    """The size, time and inode of each file *paths* names (an editor that saves by renaming makes a new one)."""
    stats = []
    for path in sorted(paths):
        try:
            found = (folder / path).stat()
        except OSError:
            continue  # taken away: git status says so
        stats.append(f"{path} {found.st_size} {found.st_mtime_ns} {found.st_ino}")
    return "\n".join(stats)
