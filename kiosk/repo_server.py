"""Serve a county repository folder over HTTP: GET and HEAD, single Range requests, ETags.

The repository is plain static files, so for a whole city the same folder can sit behind nginx
or any static host instead (README: Serving the repository). This small WSGI app is for a county
server on one machine and for the tests.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

CHUNK = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
StartResponse = Any


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
    """A WSGI app serving the files under *root* and nothing else."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _file(self, path: str) -> Path | None:
        if "\x00" in path or "\\" in path:
            return None
        file = (self.root / path.lstrip("/")).resolve()
        if not file.is_relative_to(self.root) or not file.is_file():
            return None
        return file

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return []
        file = self._file(environ.get("PATH_INFO", ""))
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
