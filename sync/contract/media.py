"""Photos in county content: where they may live, what they must be, and their content address."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sync.contract.i18n import tr

MEDIA_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
MAX_MEDIA_BYTES = 5 * 1024 * 1024
_SIGNATURES = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",), "image/webp": (b"RIFF",)}


def media_type(name: str) -> str:
    """Return the MIME type of a photo by its extension (any case)."""
    return MEDIA_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def media_problem(root: Path, ref: str) -> str | None:
    """Return why the photo *ref* ('media/x.jpg') of the county folder *root* cannot be used, or None."""
    file = root / ref
    if not file.is_file():
        return tr("%(ref)s does not exist in the county folder", ref=ref)
    if not file.resolve().is_relative_to((root / "media").resolve()):
        return tr("%(ref)s points outside the county's media folder; copy the photo in instead of linking it", ref=ref)
    size = file.stat().st_size
    if size > MAX_MEDIA_BYTES:
        return tr(
            "%(ref)s is %(size).1f MB; photos may be at most %(limit)s MB",
            ref=ref,
            size=size / 1024 / 1024,
            limit=MAX_MEDIA_BYTES // 1024 // 1024,
        )
    with open(file, "rb") as stream:
        head = stream.read(12)
    kind = media_type(ref)
    if not head.startswith(_SIGNATURES[kind]) or (kind == "image/webp" and head[8:12] != b"WEBP"):
        return tr("%(ref)s is not a %(kind)s image, whatever its name says", ref=ref, kind=kind.split("/")[1].upper())
    return None


def media_digest(file: Path) -> str:
    """Return the SHA-256 of a media file, hex: its content address."""
    digest = hashlib.sha256()
    with open(file, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()
