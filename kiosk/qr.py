"""QR codes that open a kiosk page on the villager's phone: SVG, error correction M, cached."""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
from pathlib import Path

import qrcode
import qrcode.image.svg
from markupsafe import Markup

KINDS = ("power", "notice", "catalogue")


def mobile_url(base_url: str, village: str, kind: str, item_id: str) -> str:
    """Return the county's public page for an item: <base>/m/<village>/<kind>/<id>."""
    if kind not in KINDS:
        raise ValueError(f"no mobile page for {kind!r}")
    return f"{base_url.rstrip('/')}/m/{village}/{kind}/{item_id}"


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


def qr_svg(cache_dir: Path, url: str) -> Markup:
    """Return the QR code for *url* as inline SVG, generated once and kept in *cache_dir*."""
    cached = Path(cache_dir) / (hashlib.sha256(f"{RENDERING}:{url}".encode()).hexdigest()[:32] + ".svg")
    try:
        return Markup(cached.read_text(encoding="utf-8"))  # noqa: S704 - our own generated SVG
    except FileNotFoundError:
        pass
    svg = _render(url)
    cached.parent.mkdir(parents=True, exist_ok=True)
    # Unique per writer: server threads may render the same new page at once; the last
    # rename wins and every one of them wrote the same bytes.
    temporary = cached.with_name(f".{cached.name}.{secrets.token_hex(6)}.tmp")
    temporary.write_text(svg, encoding="utf-8")
    os.replace(temporary, cached)
    return Markup(svg)  # noqa: S704
