"""QR codes that open a kiosk page on the villager's phone: small PNGs, error correction M.

Every item's code is drawn when its content is installed and kept in that version's database
(sync/receive/qr_codes.py): a detail page only names its image, and no request draws one. The
village's own notices, posted at the kiosk after the install, and content installed before the codes
were kept, have theirs drawn once, on the first request for it, into a bounded cache on disk.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from flask import url_for

from kiosk.data.content_db import content_meta
from kiosk.screens.cache_files import keep_in_cache, prune_oldest
from sync.receive.qr_codes import DRAWING, KINDS, mobile_url

__all__ = ["CACHE_BYTES", "KINDS", "code_of", "forget_svg_codes", "installed_code", "mobile_url", "qr_png_cached"]

CACHE_BYTES = 2 * 1024 * 1024  # about 7,000 codes of 300 bytes: the village's own notices, with room to spare


def code_of(kind: str, item_id: str) -> dict[str, str]:
    """Return the address of an item's phone page (qr_url) and of the image of its QR code (qr_src)."""
    info = content_meta()
    url = mobile_url(info["public_base_url"], info["village_code"], kind, item_id)
    # The content's version in the image's address: the browser keeps a code until the next sync.
    src = url_for("screens.qr_code", kind=kind, item_id=item_id, v=info["version"])
    return {"qr_url": url, "qr_src": src}


def installed_code(db: sqlite3.Connection, kind: str, item_id: str) -> bytes | None:
    """Return the item's code drawn at install, or None (a village notice, or content installed before codes were)."""
    try:
        row = db.execute("select png from main.qr_codes where kind = ? and item_id = ?", (kind, item_id)).fetchone()
    except sqlite3.OperationalError as error:  # written before the codes were kept: none until the next sync
        if "no such table" not in str(error):
            raise
        return None
    return bytes(row[0]) if row else None


def qr_png_cached(cache_dir: Path, url: str, budget: int = CACHE_BYTES) -> bytes:
    """Return the code of *url*, drawn once and kept in *cache_dir* (at most *budget* bytes, oldest out first).

    A cache that cannot be written (a full disk) costs a drawing per request, never the code.
    """
    cached = Path(cache_dir) / (hashlib.sha256(f"{DRAWING}:{url}".encode()).hexdigest()[:32] + ".png")
    try:
        return cached.read_bytes()
    except OSError:
        pass  # not made yet, pruned, or unreadable: draw it again
    from sync.receive import qr_drawing  # the qrcode package (and Pillow): loaded by the screens only if they draw

    png = qr_drawing.qr_png(url)
    # Server threads may draw the same code at once: each writes under its own name and the last
    # rename wins; they all wrote the same bytes.
    if keep_in_cache(cached, png):
        prune_oldest(cached.parent, "*.png", budget, keep=cached)
    return png


def forget_svg_codes(cache_dir: Path) -> None:
    """Delete the SVG codes kiosks drew on request before the codes were drawn at install (any number of them)."""
    for old in Path(cache_dir).glob("*.svg"):
        old.unlink(missing_ok=True)
