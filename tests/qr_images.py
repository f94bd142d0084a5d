"""Read the kiosk's QR codes back as a phone would: the PNG a page names, decoded by zxing-cpp."""

from __future__ import annotations

import io
import re

import zxingcpp
from flask.testing import FlaskClient
from PIL import Image, ImageOps


def decode_qr(png: bytes, scale: int = 1) -> str:
    """Read the one QR code in a picture (with a wide white margin, as printed codes have), *scale* times larger."""
    image = Image.open(io.BytesIO(png)).convert("L")
    image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    found = zxingcpp.read_barcodes(ImageOps.expand(image, border=40, fill=255))
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode, "one QR code in the picture"
    return str(found[0].text)


def qr_sources(page: str) -> list[str]:
    """Return the addresses of the QR code images in a page, in order."""
    return [src.replace("&amp;", "&") for src in re.findall(r'<img class="qr-code" src="([^"]+)"', page)]


def qr_image(client: FlaskClient, src: str) -> bytes:
    """Fetch a QR code's image as the browser does; check it is a PNG the browser may keep."""
    response = client.get(src)
    assert response.status_code == 200 and response.mimetype == "image/png", src
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n")
    return bytes(response.data)
