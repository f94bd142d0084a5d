"""Serve a county repository folder over HTTP: GET and HEAD, Range requests and ETags, by werkzeug.

The repository is plain static files, so for a whole city the same folder can sit behind nginx
or any static host instead (README: Serving the repository). This small WSGI app is for a county
server on one machine and for the tests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.security import safe_join
from werkzeug.utils import send_file
from werkzeug.wrappers import Response

from sync.contract.i18n import tr

SERVED = ("metadata", "targets")
YEAR = 365 * 24 * 3600
StartResponse = Any
log = logging.getLogger(__name__)


class RepositoryApp:
    """A WSGI app serving the files under *root*'s metadata/ and targets/ folders, and nothing else.

    Keys, a content folder or notes beside them in the repository folder stay private, and so do
    dotfiles (the publisher's half-written `.name.tmp`). A path is refused whole, never cleaned up:
    a `..`, an empty or dot segment, a backslash or NUL, or a file reached through a symlink out of
    its folder.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _file(self, path: str, address: str) -> Path | None:
        segments = path.split("/")[1:] if path.startswith("/") else []
        joined = None
        wellformed = not any(segment in ("", ".", "..") or segment.startswith(".") for segment in segments)
        if len(segments) >= 2 and segments[0] in SERVED and "\x00" not in path and "\\" not in path and wellformed:
            joined = safe_join(str(self.root), *segments)
        if joined is None:
            log.warning(tr("repository server refused %(address)s: GET %(path)r: not a file of metadata/ or targets/",
                           address=address, path=path[:200]))  # fmt: skip
            return None
        file = Path(joined).resolve()
        if not file.is_relative_to((self.root / segments[0]).resolve()) or not file.is_file():
            return None  # missing (a kiosk asking for the next root version) or a symlink out of its folder
        return file

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return Response(status=405, headers={"Allow": "GET, HEAD"})(environ, start_response)
        file = self._file(environ.get("PATH_INFO", ""), environ.get("REMOTE_ADDR", ""))
        if file is None:
            return Response(status=404)(environ, start_response)
        # Metadata must never be cached by a proxy; targets never change (their name is their hash).
        # The type is given, never guessed: a guessed .json.gz would be sent as gzip-encoded JSON,
        # and a client would unpack it before checking its hash.
        try:
            response = send_file(
                file, environ, mimetype=_content_type(file), max_age=None if file.suffix == ".json" else YEAR
            )
        except RequestedRangeNotSatisfiable:
            size = file.stat().st_size
            response = Response(status=416, headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
        except FileNotFoundError:  # removed since it was found (the publisher tidying old versions)
            response = Response(status=404)
        return response(environ, start_response)


def _content_type(file: Path) -> str:
    if file.suffix == ".json":
        return "application/json"
    if file.name.endswith(".gz"):
        return "application/gzip"
    return {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}.get(
        file.suffix.lower(), "application/octet-stream"
    )
