"""The content folder's history: a git repository in the folder itself, one commit per change.

Every change the studio makes to the folder is a commit whose author is the clerk who wrote it, whose
committer is who let it in (a reviewer), and whose message is the reason given. A change made by
hand, outside the studio, is recorded too, before the studio's next commit, under HAND_EDIT: nothing
in the folder goes unrecorded, and `kiosk county validate`/`publish` go on reading plain files.
Reverting a change is a new commit (git revert), so the history only grows.

Uses the `git` command (Debian's git), run with a fixed environment: no user or system config, no
hooks, no signing, no pager, paths in UTF-8 as they are.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sync.contract.i18n import tr

HAND_EDIT = "(edited outside the studio)"
FIRST = "(the folder as the studio found it)"
EMAIL = "studio@county.invalid"  # git wants an address; accounts have none (.invalid: never a real one)
MAX_DIFF_BYTES = 1024 * 1024  # a diff shown on a page is cut here
GIT_TIMEOUT_S = 120
_FORMAT = "%H%x1f%an%x1f%aI%x1f%cn%x1f%cI%x1f%B%x1e"  # fields split by \x1f, commits by \x1e
IGNORED = ("*~", ".*.swp", ".~lock.*#", "~$*", ".DS_Store", "Thumbs.db")  # editors' and file managers' leftovers
_threads = threading.Lock()


class HistoryError(RuntimeError):
    """git failed, or is missing; the message says what to do."""


class RevertConflict(HistoryError):
    """A later change touched the same lines: the change cannot be taken back by itself."""


@dataclass(frozen=True)
class Entry:
    commit: str
    author: str
    at: str  # ISO 8601 with the offset, as git keeps it
    committer: str
    committed_at: str
    reason: str


class History:
    """The git history of the content folder *folder*."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _git(self, *args: str, stdin: bytes | None = None, ok: tuple[int, ...] = (0,)) -> bytes:
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.folder), "LANG": "C.UTF-8",
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
        }  # fmt: skip
        command = ["git", "-c", "core.quotepath=off", "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false",
                   "-c", "core.autocrlf=false", "-c", f"safe.directory={self.folder}", *args]  # fmt: skip
        try:
            done = subprocess.run(command, cwd=self.folder, input=stdin, capture_output=True, env=environment,  # noqa: S603 - git, with arguments checked here
                                  timeout=GIT_TIMEOUT_S, check=False)  # fmt: skip
        except FileNotFoundError:
            raise HistoryError(tr("the git command is missing: install Debian's git package")) from None
        except subprocess.TimeoutExpired:
            raise HistoryError(tr("git %(command)s took longer than %(seconds)s s", command=_name_of(args),
                                  seconds=GIT_TIMEOUT_S)) from None  # fmt: skip
        if done.returncode not in ok:
            message = done.stderr.decode("utf-8", "replace").strip() or done.stdout.decode("utf-8", "replace").strip()
            raise HistoryError(tr("git %(command)s failed in %(folder)s: %(error)s", command=_name_of(args),
                                  folder=self.folder, error=message))  # fmt: skip
        return done.stdout

    def _commit(self, author: str, reason: str, committer: str | None = None) -> str | None:
        """Commit what is staged; return the commit, or None when nothing changed."""
        if not self._git("diff", "--cached", "--name-only", "-z"):
            return None
        committer = committer or author
        self._git("-c", f"user.name={committer}", "-c", f"user.email={EMAIL}", "commit", "--quiet", "--no-verify",
                  f"--author={_safe_name(author)} <{EMAIL}>", "--file=-", stdin=reason.encode())  # fmt: skip
        return self.head()

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for one change at a time (write, then record), across threads and processes."""
        with _threads, (self.folder / ".git" / "studio.lock").open("a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            yield

    def start(self) -> None:
        """Make the folder a repository if it is not one, with what it holds as the first commit."""
        if not (self.folder / ".git").exists():
            self._git("init", "--quiet", "--initial-branch=main")
            (self.folder / ".git" / "info").mkdir(exist_ok=True)
            (self.folder / ".git" / "info" / "exclude").write_text("\n".join(IGNORED) + "\n", encoding="utf-8")
        if self.head() is None:
            self._git("add", "--all")
            self._commit(FIRST, FIRST)

    def head(self) -> str | None:
        """The latest commit, or None before the first."""
        out = self._git("rev-parse", "--verify", "--quiet", "HEAD", ok=(0, 1)).decode().strip()
        return out or None

    def status(self, ignored: bool = False) -> str:
        """The files changed in the folder and not recorded yet, as git lists them ("" when none); with
        *ignored*, also those a .gitignore (or an editor's leftovers) keeps out of the history ("!! path")."""
        args = ["status", "--porcelain", "-z", "--untracked-files=all", *(["--ignored=matching"] if ignored else [])]
        return self._git(*args).decode("utf-8", "replace")

    def changed_since(self, commit: str) -> list[str]:
        """The files that differ between *commit* and the latest commit."""
        out = self._git("diff", "--name-only", "-z", "--no-renames", _checked_commit(commit), "HEAD")
        return [path for path in out.decode("utf-8", "replace").split("\0") if path]

    @staticmethod
    def paths_in(status: str) -> set[str]:
        """The files a status() names (both names of a rename)."""
        paths, entries = set(), iter(status.split("\0"))
        for entry in entries:
            if len(entry) > 3:
                paths.add(entry[3:])
                if entry[0] in "RC":
                    paths.add(next(entries, ""))
        return paths - {""}

    def record_hand_edits(self) -> str | None:
        """Commit whatever changed in the folder outside the studio (HAND_EDIT); return the commit, if any."""
        self._git("add", "--all")
        return self._commit(HAND_EDIT, tr("files changed in the content folder outside the studio"))

    def record(self, paths: list[str], author: str, reason: str, committer: str | None = None) -> str | None:
        """Commit the files *paths* (relative to the folder; written or removed already) as *author*'s change."""
        self._git("add", "--all", "--", *paths)
        return self._commit(author, reason, committer)

    def tag(self, name: str) -> None:
        """Name the latest commit *name* (e.g. published-12: what a published version held); an old tag moves."""
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{0,62}", name):
            raise HistoryError(tr("%(name)r is not a tag", name=name))
        self._git("tag", "--force", name, "HEAD")

    def blob(self, path: str) -> str:
        """The git object id of the file *path* as it is in the folder now; "" when there is no such file."""
        file = self.folder / path
        return self.blob_of(file.read_bytes()) if file.is_file() else ""

    @staticmethod
    def blob_of(content: bytes | None) -> str:
        """The git object id a file holding *content* has ("" for no file), as `git hash-object` says it.

        Computed here, without a git process: the folder has no filters that change a file on its way in.
        """
        if content is None:
            return ""
        return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()

    def log(self, path: str | None = None, limit: int = 50) -> list[Entry]:
        """The latest *limit* commits, newest first; only those touching *path* when given."""
        args = ["log", f"--max-count={limit}", f"--format={_FORMAT}"]
        out = self._git(*args, *(["--follow", "--", path] if path else [])).decode("utf-8", "replace")
        entries = []
        for record in out.split("\x1e"):
            fields = record.strip("\n").split("\x1f")
            if len(fields) == 6:
                entries.append(Entry(fields[0], fields[1], fields[2], fields[3], fields[4], fields[5].strip()))
        return entries

    def diff(self, commit: str) -> str:
        """The change *commit* made, as a unified diff (cut at MAX_DIFF_BYTES)."""
        out = self._git("show", "--format=", "--no-color", "--no-ext-diff", _checked_commit(commit))
        text = out[:MAX_DIFF_BYTES].decode("utf-8", "replace")
        return text if len(out) <= MAX_DIFF_BYTES else text + "\n" + tr("(the rest of the change is not shown)")

    def parent(self, commit: str) -> str | None:
        """The commit *commit* was made on; None for the first."""
        out = self._git("rev-parse", "--verify", "--quiet", f"{_checked_commit(commit)}^", ok=(0, 1, 128))
        return out.decode().strip() or None

    def paths(self, commit: str) -> list[str]:
        """The files *commit* changed, added or removed (relative to the folder)."""
        out = self._git("show", "--name-only", "--format=", "--no-renames", "-z", _checked_commit(commit))
        return [path for path in out.decode("utf-8", "replace").split("\0") if path]

    def file_at(self, commit: str, path: str) -> bytes | None:
        """The file *path* as it was at *commit*; None when it did not exist then."""
        commit = _checked_commit(commit)
        if not self._git("ls-tree", "--name-only", "-z", commit, "--", path):
            return None
        return self._git("cat-file", "blob", f"{commit}:{path}")

    def revert(self, commit: str, author: str, reason: str) -> str:
        """Take back the change *commit* made, as a new commit by *author*; return it.

        :raises RevertConflict: when a later change touched the same lines (the folder is left as it was).
        """
        commit = _checked_commit(commit)
        self.record_hand_edits()
        try:
            self._git("revert", "--no-commit", "--no-edit", commit)
        except HistoryError:
            self._git("revert", "--abort", ok=(0, 128))
            self._git("reset", "--hard", "--quiet", "HEAD")
            message = tr("this change cannot be taken back by itself: a later change touched the same lines or the"
                         " lines beside them; change the item again instead")  # fmt: skip
            raise RevertConflict(message) from None
        made = self._commit(author, reason)
        if made is None:  # nothing to take back: the change had been taken back already
            raise HistoryError(tr("this change has already been taken back"))
        return made


def _name_of(args: tuple[str, ...]) -> str:
    """The git command *args* run (commit in ``-c user.name=… commit …``), for a message."""
    rest = list(args)
    while len(rest) > 2 and rest[0] == "-c":
        rest = rest[2:]
    return rest[0] if rest else "?"


def _checked_commit(commit: str) -> str:
    """*commit* if it is a full commit id (40 hex digits): nothing that git would read as an option."""
    if len(commit) != 40 or any(ch not in "0123456789abcdef" for ch in commit):
        raise HistoryError(tr("%(commit)r is not a commit", commit=commit))
    return commit


def _safe_name(name: str) -> str:
    """An account's name as git's author line can hold it (no angle brackets or line breaks)."""
    return "".join(ch for ch in name if ch not in "<>\n\r") or "?"
