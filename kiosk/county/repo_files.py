"""Serve a county repository folder over HTTP: GET and HEAD, single Range requests, ETags.

The repository is plain static files, so for a whole city the same folder can sit behind nginx
or any static host instead (README: Serving the repository). This small WSGI app is for a county
server on one machine and for the tests.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from werkzeug.security import safe_join

from sync.contract.i18n import tr

CHUNK = 64 * 1024
SERVED = ("metadata", "targets")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
StartResponse = Any
log = logging.getLogger(__name__)


def _etag(file: Path) -> str:
    info = file.stat()
    return '"' + hashlib.sha256(f"{file.name}:{info.st_size}:{info.st_mtime_ns}".encode()).hexdigest()[:32] + '"'


def _file_part(file: Path, start: int, length: int) -> Iterator[bytes]:
    with open(file, "rb") as stream:
        stream.seek(start)
        while length > 0:
            chunk = stream.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


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
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return []
        file = self._file(environ.get("PATH_INFO", ""), environ.get("REMOTE_ADDR", ""))
        if file is None:
            start_response("404 Not Found", [("Content-Length", "0")])
            return []
        size, etag = file.stat().st_size, _etag(file)
        headers = [("ETag", etag), ("Accept-Ranges", "bytes"), ("Content-Type", _content_type(file))]
        # Metadata must never be cached by a proxy; targets never change (their name is their hash).
        headers.append(("Cache-Control", "no-cache" if file.suffix == ".json" else "public, max-age=31536000"))
        if environ.get("HTTP_IF_NONE_MATCH") == etag:
            start_response("304 Not Modified", headers)
            return []
        start, length, status = 0, size, "200 OK"
        wanted = environ.get("HTTP_RANGE")
        if wanted and environ.get("HTTP_IF_RANGE", etag) == etag:
            parsed = _parse_range(wanted, size)
            if parsed is None:
                start_response("416 Range Not Satisfiable", [*headers, ("Content-Range", f"bytes */{size}")])
                return []
            start, length = parsed
            status = "206 Partial Content"
            headers.append(("Content-Range", f"bytes {start}-{start + length - 1}/{size}"))
        headers.append(("Content-Length", str(length)))
        start_response(status, headers)
        return [] if method == "HEAD" else _file_part(file, start, length)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Return (start, length) of a single 'bytes=' range, or None when it cannot be served."""
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":
        length = min(int(last), size)
        return (size - length, length) if length else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None
    return start, end - start + 1


def _content_type(file: Path) -> str:
    if file.suffix == ".json":
        return "application/json"
    if file.name.endswith(".gz"):
        return "application/gzip"
    return {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}.get(
        file.suffix.lower(), "application/octet-stream"
    )
