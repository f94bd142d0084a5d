"""Photos that staff attach to notices: checked, cleaned of metadata, and stored by content.

An upload is identified by its bytes, never by its name or declared type, and only JPEG, PNG and
WebP are accepted. Every photo is decoded and encoded again from its pixels alone, so nothing the
phone wrote into the file (GPS position, camera serial, XMP, comments, PNG text) reaches the kiosk.
It is turned upright by its EXIF orientation first and made at most MAX_SIDE pixels on a side.

Framework-free: the staff console's view passes the upload stream and maps `PhotoRejected.code`
to a translated message.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import struct
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from sync.contract.files import atomic_write

if TYPE_CHECKING:  # Pillow is imported when a photo is decoded: the screens, which never do, never load it
    from PIL import Image
    from PIL._imagingcms import CmsProfile

MAX_UPLOAD_BYTES = 12_000_000  # phone photos are 3–8 MB
# The pixels one decode may hold, read from the header before a pixel is decoded: a 40 M pixel
# picture takes about 160 MB as RGBA, and its conversions as much again. Phones save 12–24 M pixel
# photos unless told otherwise. A 97 KB PNG can declare 50 M pixels and took the process to 1.3 GB.
MAX_PIXELS = 40_000_000
# Pillow keeps a pointer per row, so a picture 1 pixel wide costs far more than its pixels: a long
# side is capped too (a long phone screenshot is 1080×20000).
MAX_DECLARED_SIDE = 30_000
# The photo store's bound (the notices' photos, kept by notices.photos_in_use): about 1,000 photos.
MAX_STORE_BYTES = 500_000_000
# One decode at a time in the process (the screens share it): a second upload waits this long,
# then is asked to send the photo again.
DECODE_WAIT_SECONDS = 30.0
DECODING = threading.Lock()
MAX_SIDE = 2000  # enough for the kiosk screen and a phone; larger photos are scaled down
# For the form's `accept` attribute. Safari on an iPhone converts HEIC photos to JPEG on upload
# when the form does not list HEIC.
ACCEPTED_MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp")

RejectionCode = Literal[
    "too_big", "not_an_image", "unsupported_format", "too_many_pixels", "empty", "busy", "store_full"
]

# Only these parsers ever see an upload. The JPEG one also opens MPO, the JPEG that some phones
# write with a second (depth or preview) image inside.
_OPENED_AS = ("JPEG", "PNG", "WEBP")
_EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp"}  # Pillow format → stored file
_PHOTO_NAME = re.compile(r"[0-9a-f]{64}\.(?:jpg|png|webp)")
_TEMPORARY_NAME = re.compile(r"\.[0-9a-f]{64}\.(?:jpg|png|webp)\.[0-9a-f]{12}\.tmp")
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
# What a damaged or hostile file can make Pillow raise while it is decoded.
_DECODING_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error)


class PhotoRejected(ValueError):
    """An upload that is not stored; `code` is stable, for the view to show a translated message."""

    def __init__(self, code: RejectionCode, message: str, *, format_name: str | None = None) -> None:
        super().__init__(message)
        self.code: RejectionCode = code
        self.format_name = format_name  # what the file is, for 'unsupported_format': "HEIC", "GIF", …


def store_photo(
    data: bytes | BinaryIO,
    folder: Path,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
    max_side: int = MAX_SIDE,
    wait: float = DECODE_WAIT_SECONDS,
    max_store_bytes: int = MAX_STORE_BYTES,
) -> str:
    """Check, clean and store a photo in *folder*; return its file name, `<sha256>.<ext>`.

    The same photo stored twice gets the same name and is one file.

    :param data: the upload, as bytes or a binary stream (read no further than max_bytes + 1)
    :param wait: how long to wait, at most, while another photo is being decoded
    :raises PhotoRejected: the upload is empty, too big, not a picture, or not JPEG/PNG/WebP; or
        another photo was still being decoded after *wait* seconds (code ``busy``), or the photos
        in *folder* would then take more than *max_store_bytes* (code ``store_full``)
    :raises OSError: the photo could not be written (a full disk: errno ENOSPC)
    """
    content = _read_upload(data, max_bytes)
    if not DECODING.acquire(timeout=wait):
        raise PhotoRejected("busy", "Another photo is being prepared just now. Send this one again in a moment.")
    try:
        photo, image_format = _decode(content, max_pixels, max_side)
    finally:
        DECODING.release()
    encoded = _encode(photo, image_format)
    name = f"{hashlib.sha256(encoded).hexdigest()}.{_EXTENSIONS[image_format]}"
    target = folder / name
    try:
        os.utime(target)  # stored before: keep the one file, fresh again for remove_unused
        return name
    except FileNotFoundError:
        pass
    if store_bytes(folder) + len(encoded) > max_store_bytes:
        raise PhotoRejected(
            "store_full",
            f"The photos of the notices already take {max_store_bytes / 1_000_000:g} MB, as much as the kiosk keeps."
            " Take photos off notices that no longer need them, then send this one again.",
        )
    folder.mkdir(parents=True, exist_ok=True)
    # Two uploads of the same photo at once both write, and a reader sees a whole file; durable,
    # since the notice saved next must not name a photo lost in a power cut.
    atomic_write(target, encoded)
    return name


def is_photo_name(name: str) -> bool:
    """Tell whether *name* is one store_photo returns: check names that come back from a form."""
    return _PHOTO_NAME.fullmatch(name) is not None


def store_bytes(folder: Path) -> int:
    """Return how many bytes the photos (and half-written ones) in *folder* take."""
    total = 0
    if folder.is_dir():
        for path in folder.iterdir():
            if is_photo_name(path.name) or _TEMPORARY_NAME.fullmatch(path.name):
                try:
                    total += path.stat().st_size
                except FileNotFoundError:
                    continue  # removed meanwhile
    return total


def remove_unused(folder: Path, keep: set[str], *, grace: timedelta = timedelta(days=1)) -> int:
    """Delete the photos in *folder* not named in *keep*; return how many files were deleted.

    Photos stored within *grace* are spared: one may belong to a notice whose form is still being
    filled in. Files store_photo did not make are left alone.
    """
    if not folder.is_dir():
        return 0
    cutoff = time.time() - grace.total_seconds()
    removed = 0
    for path in folder.iterdir():
        ours = is_photo_name(path.name) or _TEMPORARY_NAME.fullmatch(path.name)
        if not ours or path.name in keep:
            continue
        try:
            if path.stat().st_mtime > cutoff:
                continue
            path.unlink()
        except FileNotFoundError:
            continue  # removed meanwhile
        removed += 1
    return removed


def _read_upload(data: bytes | BinaryIO, max_bytes: int) -> bytes:
    if isinstance(data, bytes):
        content = data
    else:
        # One byte past the limit tells an oversized upload apart without reading all of it.
        chunks: list[bytes] = []
        remaining = max_bytes + 1
        while remaining > 0 and (chunk := data.read(min(remaining, 1024 * 1024))):
            chunks.append(chunk)
            remaining -= len(chunk)
        content = b"".join(chunks)
    if not content:
        raise PhotoRejected("empty", "The file is empty (0 bytes). Choose the photo again.")
    if len(content) > max_bytes:
        raise PhotoRejected(
            "too_big",
            f"The file is larger than {max_bytes / 1_000_000:g} MB. "
            "Choose a smaller photo, or take it again at a lower resolution.",
        )
    return content


def _decode(content: bytes, max_pixels: int, max_side: int) -> tuple[Image.Image, str]:
    """Return the first frame, upright and at most *max_side* on a side, and its Pillow format."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    # Pillow's own check, which runs while the file is opened: it warns past this and refuses past
    # twice this; the except clauses below turn both into the same refusal as ours.
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(content), formats=_OPENED_AS) as opened:
            image_format = opened.format or ""
            width, height = opened.size
            # Checked from the header, before a pixel is decoded.
            if width * height > max_pixels or max(width, height) > MAX_DECLARED_SIDE:
                raise _too_many_pixels(f"The picture is {width}×{height} pixels", max_pixels)
            opened.draft(None, (max_side, max_side))  # a JPEG decodes at 1/2, 1/4 or 1/8 size
            opened.load()  # an animated PNG or WebP: its first frame
            photo = ImageOps.exif_transpose(opened)
        photo = _for_encoder(_in_srgb(photo), image_format)
        photo.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    except PhotoRejected:
        raise
    except UnidentifiedImageError as error:
        named = _refused_format(content)
        if named is None:
            raise _not_an_image() from error
        message = f"{named} files are not accepted. Choose a JPEG, PNG or WebP photo."
        if named == "HEIC":
            message += " On an iPhone, set Settings › Camera › Formats to “Most Compatible”."
        raise PhotoRejected("unsupported_format", message, format_name=named) from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own check (MAX_IMAGE_PIXELS): it refuses past twice MAX_PIXELS, and its warning is
        # raised where warnings are errors (in service it is logged, and our check refuses).
        raise _too_many_pixels("The picture has too many pixels", max_pixels) from error
    except _DECODING_ERRORS as error:  # a truncated or corrupt file
        raise _not_an_image() from error
    return photo, image_format


def _too_many_pixels(what: str, max_pixels: int) -> PhotoRejected:
    return PhotoRejected(
        "too_many_pixels",
        f"{what}; at most {max_pixels / 1_000_000:.0f} million pixels, {MAX_DECLARED_SIDE} on the longer side,"
        " are accepted. Choose a smaller picture, or take the photo at a lower resolution.",
    )


def _not_an_image() -> PhotoRejected:
    return PhotoRejected(
        "not_an_image",
        "The file is not a picture, or it is damaged. Choose a JPEG, PNG or WebP photo.",
    )


def _refused_format(content: bytes) -> str | None:
    """Name a known picture or document format that is refused, so the message can say what it is."""
    if content.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if content[4:8] == b"ftyp":
        brand = content[8:12]
        if brand in _HEIF_BRANDS:
            return "HEIC"
        if brand in (b"avif", b"avis"):
            return "AVIF"
    if content.startswith(b"%PDF-"):
        return "PDF"
    if content.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    start = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(b"<") and b"<svg" in start:
        return "SVG"
    return None


def _in_srgb(photo: Image.Image) -> Image.Image:
    """Convert to sRGB by the embedded colour profile, which is then dropped with the rest.

    iPhones tag photos Display P3: without the conversion they would look dull on the kiosk.
    """
    from PIL import ImageCms

    profile = photo.info.get("icc_profile")
    if not profile or photo.mode not in ("RGB", "RGBA", "CMYK"):
        return photo
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        output_mode = "RGBA" if photo.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(photo, source, _srgb(), outputMode=output_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return photo  # a broken or mismatched profile: the pixels as they are
    return converted if converted is not None else photo


@functools.cache
def _srgb() -> CmsProfile:
    """The sRGB profile, made once."""
    from PIL import ImageCms

    return ImageCms.createProfile("sRGB")


def _for_encoder(photo: Image.Image, image_format: str) -> Image.Image:
    """Return *photo* in a mode its format stores and that resizes smoothly (not a palette)."""
    if image_format in ("JPEG", "MPO"):
        mode = photo.mode if photo.mode in ("L", "RGB") else "RGB"
    elif photo.mode in ("RGBA", "LA", "PA") or "transparency" in photo.info:
        mode = "RGBA"
    elif image_format == "PNG" and photo.mode in ("1", "L"):
        mode = "L"
    else:
        mode = "RGB"
    return photo if photo.mode == mode else photo.convert(mode)


def _encode(photo: Image.Image, image_format: str) -> bytes:
    from PIL import Image

    # A new image holding only the pixels: savers copy some metadata from `info` by default
    # (JPEG its comment, PNG its colour profile).
    pixels = Image.new(photo.mode, photo.size)
    pixels.paste(photo)
    buffer = io.BytesIO()
    if image_format == "PNG":
        pixels.save(buffer, "PNG")
    elif image_format == "WEBP":
        pixels.save(buffer, "WEBP", quality=85)
    else:
        pixels.save(buffer, "JPEG", quality=85, optimize=True)
    return buffer.getvalue()
