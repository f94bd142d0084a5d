"""QR codes that open a kiosk page on the villager's phone: SVG, error correction M, cached (bounded)."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import qrcode
import qrcode.image.svg
from markupsafe import Markup

from kiosk.screens.cache_files import keep_in_cache, prune_oldest

KINDS = ("power", "notice", "catalogue")


def mobile_url(base_url: str, village: str, kind: str, item_id: str) -> str:
    """Return the county's public page for an item: <base>/m/<village>/<kind>/<id>."""
    if kind not in KINDS:
        raise ValueError(f"no mobile page for {kind!r}")
    return f"{base_url.rstrip('/')}/m/{village}/{kind}/{item_id}"


CACHE_BYTES = 20 * 1024 * 1024  # about 5,000 codes of 4 KB: every detail page of a large village
RENDERING = 2  # part of each cached file's name: a change to _render must not be hidden by old files


def _render(url: str) -> str:
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        image_factory=qrcode.image.svg.SvgPathImage,
        border=2,
    )
    code.add_data(url)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    svg = buffer.getvalue().decode()
    svg = svg[svg.index("<svg") :]  # drop the XML declaration: the SVG goes inline in the page
    # The picture itself is silent for screen readers: the page names it (see _qr.html).
    return re.sub(r'width="[^"]*" height="[^"]*"', 'class="qr-code" aria-hidden="true"', svg, count=1)


def qr_svg(cache_dir: Path, url: str, budget: int = CACHE_BYTES) -> Markup:
    """Return the QR code for *url* as inline SVG, generated once and kept in *cache_dir* (at most *budget* bytes).

    A cache that cannot be written (a full disk) costs a new drawing per request, never the page.
    """
    cached = Path(cache_dir) / (hashlib.sha256(f"{RENDERING}:{url}".encode()).hexdigest()[:32] + ".svg")
    try:
        return Markup(cached.read_text(encoding="utf-8"))  # noqa: S704 - our own generated SVG
    except (OSError, UnicodeDecodeError):
        pass  # not made yet, pruned, or unreadable: draw it again
    svg = _render(url)
    # Server threads may draw the same new page at once: each writes under its own name and the
    # last rename wins; they all wrote the same bytes.
    if keep_in_cache(cached, svg.encode()):
        prune_oldest(cached.parent, "*.svg", budget, keep=cached)
    return Markup(svg)  # noqa: S704
