"""Photos a clerk adds to a notice in the studio: a photo of the paper notice, of the meeting, of the site.

Each upload is checked and cleaned exactly as the kiosk's staff photos are (kiosk.data.photos: JPEG,
PNG or WebP by its bytes, re-encoded from its pixels, so no GPS position or camera data goes on), and
named by its content. Until the notice's draft is approved it stays in the server's data folder
(studio-media/media/), not in the content folder: a draft never puts a file there. Approving the draft
copies the photos it names into the content folder's media/ and records them with it (changes.approve).
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, g, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

from kiosk.county.studio.access import content_dir, staged_dir, studio_page
from kiosk.county.studio.changes import OPEN
from kiosk.data import photos
from kiosk.staff.notice_views import MAX_PHOTOS
from sync.authoring.drafts import staged_photo, staged_refs
from sync.contract.media import media_type
from sync.contract.schemas import Problem

log = logging.getLogger(__name__)
bp = Blueprint("studio_photos", __name__, url_prefix="/studio/photos")
# The pages that may send photos (up to MAX_PHOTOS phone photos): endpoint and section.
FORMS = frozenset({("studio.item_save", "notices")})
KEPT_DAYS = 60  # a photo no open draft names is deleted after this long
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.(?:jpe?g|png|webp)", re.IGNORECASE)  # a media/ file's name
_REFUSED = {
    "too_big": _l("%(name)s is larger than %(mb)d MB."),
    "too_many_pixels": _l("%(name)s has too many pixels: send a photo of at most %(megapixels)d million pixels."),
    "unsupported_format": _l("%(name)s is a %(format)s picture: send a JPEG, PNG or WebP photo."),
    "busy": _l("Another photo was being prepared just then: send %(name)s again."),
    "store_full": _l("The photos waiting in drafts take all the room there is: approve or withdraw some drafts."),
}
_NOT_A_PHOTO = _l("%(name)s is not a photo: send a JPEG, PNG or WebP photo.")


def kept_photos(form: Any) -> list[str]:
    """The photos the form keeps (`media/<name>`), each one the folder or a draft has; at most MAX_PHOTOS."""
    folder, kept = content_dir() or abort(503), []
    for ref in dict.fromkeys(form.getlist("photo")):
        name = ref.removeprefix("media/")
        if not ref.startswith("media/") or not _NAME.fullmatch(name):
            continue
        if (folder / "media" / name).is_file() or staged_photo(staged_dir(), ref):
            kept.append(ref)
    return kept[:MAX_PHOTOS]


def add_uploads(refs: list[str], uploads: list[FileStorage], path: str) -> list[Problem]:
    """Store the photos sent with the form and add them to *refs*; return why any was refused."""
    uploads = [upload for upload in uploads if upload.filename]
    if uploads:
        _forget_old()
    problems, too_many = [], False
    for upload in uploads:
        name = Path(upload.filename or "").name[:80]
        if len(refs) >= MAX_PHOTOS:  # refused before it is decoded or stored: one form may carry hundreds
            upload.close()
            too_many = True
            continue
        try:
            stored = photos.store_photo(upload.stream, staged_dir() / "media")  # type: ignore[arg-type]
        except photos.PhotoRejected as rejected:
            log.warning("a photo from %s was refused: %r (%s): %s", g.account.name, name, rejected.code, rejected)
            message = _REFUSED.get(rejected.code, _NOT_A_PHOTO)
            said = message % {"name": name, "format": rejected.format_name or "?",
                              "mb": photos.MAX_UPLOAD_BYTES // 1_000_000,
                              "megapixels": photos.MAX_PIXELS // 1_000_000}  # fmt: skip
            problems.append(Problem(path, 1, "photos", said))
            continue
        finally:
            upload.close()  # a large one is a temporary file
        if f"media/{stored}" not in refs:
            refs.append(f"media/{stored}")
    if too_many:
        problems.append(Problem(path, 1, "photos", _("A notice has at most %(count)d photos.", count=MAX_PHOTOS)))
    return problems


def _forget_old() -> None:
    """Delete the photos of drafts that no open draft names any more (withdrawn, or approved: then the content
    folder has it), once they are KEPT_DAYS old."""
    from kiosk.county.reports import county_db

    folder = staged_dir() / "media"
    if not folder.is_dir():
        return
    named: set[str] = set()
    marks = ", ".join("?" * len(OPEN))
    query = f"select content from studio_changes where state in ({marks}) and content like '%media/%'"  # noqa: S608 - marks only
    for (content,) in county_db().execute(query, OPEN):
        named.update(ref.removeprefix("media/") for ref in staged_refs(content or ""))
    old = time.time() - KEPT_DAYS * 86400
    for file in folder.iterdir():
        try:
            if file.name not in named and file.stat().st_mtime < old:
                file.unlink()
        except OSError as error:
            log.warning("could not delete the old draft photo %s: %s", file, error)


@bp.route("/<name>")
@studio_page
def photo(name: str) -> ResponseReturnValue:
    """A photo of the content folder's media/, or one uploaded with a draft, for the form to show."""
    if not _NAME.fullmatch(name):
        abort(404)
    file = (content_dir() or abort(503)) / "media" / name
    if not file.is_file() or file.is_symlink():
        file = staged_photo(staged_dir(), f"media/{name}") or abort(404)
    response = send_file(file, mimetype=media_type(name), max_age=3600, conditional=True)
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response
