"""The staff console's notice pages: list, write, preview as the kiosk shows it, publish, withdraw."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kiosk.data import duties, notices, photos, queries
from kiosk.data.clock import screen_now
from kiosk.data.content_db import get_db
from kiosk.data.local_db import local_media_dir
from kiosk.screens.labels import DOMAIN_LABELS
from kiosk.staff import full_disk
from kiosk.staff.auth import local_db, login_required
from kiosk.staff.workdays import staff_calendar
from kiosk.web import quiet_session
from sync.contract.i18n import tr, translator

bp = Blueprint("notices", __name__, url_prefix="/notices")
log = logging.getLogger(__name__)
FIELDS = ("domain", "title", "body", "published", "expires", "min_posting_days", "pinned", "duty", "period")


MAX_PHOTOS = 6
# The preview draws the kiosk's page at a kiosk's size: the floor-standing portrait screens most
# 党群服务中心 have (staff.css scales the frame by this width).
PREVIEW_SCREEN = {"width": 1080, "height": 1920}
FRAMED_POLICY = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'self'"
_REJECTED = {
    "too_big": _l("%(name)s is larger than 12 MB: send a smaller photo."),
    "empty": _l("%(name)s is empty."),
    "not_an_image": _l("%(name)s is not a photo, or it is damaged."),
    "unsupported_format": _l("%(name)s is a %(format)s file: only JPEG, PNG and WebP photos are taken."),
    "too_many_pixels": _l(
        "%(name)s has too many pixels: at most %(megapixels)d million are taken. Send a smaller picture, or take"
        " the photo at a lower resolution."
    ),
    "busy": _l("%(name)s was not taken: another photo is being prepared just now. Send it again in a moment."),
    "store_full": _l(
        "%(name)s was not taken: the notices' photos already take all the room the kiosk keeps for them"
        " (%(megabytes)d MB). Take photos off notices that no longer need them, then send it again."
    ),
}


def _typed() -> dict[str, Any]:
    """What the person typed, to save or to show again beside what is wrong with it."""
    typed: dict[str, Any] = {name: request.form.get(name, "") for name in FIELDS}
    folder = local_media_dir(Path(current_app.config["DATA_DIR"]))
    # Photos already stored (kept from the notice, or from a submission that failed) come back by name.
    typed["photos"] = [
        name for name in request.form.getlist("photo") if photos.is_photo_name(name) and (folder / name).exists()
    ]
    return typed


def _store_uploads(values: dict[str, Any]) -> dict[str, Any]:
    """Store the photos sent with the form; return the problems (none when every photo was taken)."""
    folder = local_media_dir(Path(current_app.config["DATA_DIR"]))
    problems = []
    uploads = [upload for upload in request.files.getlist("new_photos") if upload.filename]
    if uploads:
        _prune_photos()  # the room abandoned forms' photos took, before the store's bound is checked
    for upload in uploads:
        try:
            stored = photos.store_photo(upload.stream, folder, max_store_bytes=photos.MAX_STORE_BYTES)  # type: ignore[arg-type]
            values["photos"].append(stored)
        except photos.PhotoRejected as rejected:
            refused = tr("a photo from %(account)s was refused: %(file)r (%(code)s): %(reason)s",
                         account=g.account.name, file=upload.filename, code=rejected.code, reason=rejected)  # fmt: skip
            log.warning("%s", refused)
            message = _REJECTED.get(rejected.code, _REJECTED["not_an_image"])
            problems.append(str(message % {"name": upload.filename, "format": rejected.format_name or "?",
                                           "megapixels": photos.MAX_PIXELS // 1_000_000,
                                           "megabytes": photos.MAX_STORE_BYTES // 1_000_000}))  # fmt: skip
    if len(values["photos"]) > MAX_PHOTOS:
        problems.append(_("A notice has at most %(count)d photos.", count=MAX_PHOTOS))
        values["photos"] = values["photos"][:MAX_PHOTOS]
    return {"photos": " ".join(problems)} if problems else {}


def _prune_photos() -> None:
    """Delete the photos no notice uses any more; a failure here only leaves them for the next time."""
    try:
        notices.prune_photos(local_db(), Path(current_app.config["DATA_DIR"]), screen_now())
    except (OSError, sqlite3.Error) as error:
        log.warning("could not prune the notices' photos: %s", error)


def _form_values(notice: dict[str, Any]) -> dict[str, Any]:
    """A saved notice's fields as the form shows them."""
    domain = {label: key for key, label in queries.DOMAINS.items()}[notice["domain"]]
    return {**{name: notice.get(name) or "" for name in FIELDS}, "domain": domain,
            "published": notice["published_at"][:16], "expires": (notice["expires_at"] or "")[:16],
            "photos": json.loads(notice["photos"])}  # fmt: skip


def _disclosures(notice: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The duties and periods a notice may say it discloses today (and what *notice* names already)."""
    translate = translator(get_locale().language if get_locale() else "zh")  # periods in the reader's language
    return duties.disclosure_choices(get_db(), local_db(), screen_now().date(), translate, keep=notice)


def _notice_or_404(notice_id: str) -> dict[str, Any]:
    notice = notices.get(local_db(), notice_id)
    if notice is None:
        abort(404)
    return notice


def _form(values: dict[str, Any], problems: dict[str, Any] | None = None, notice: dict[str, Any] | None = None,
          status: int = 200, disk_full: bool = False) -> ResponseReturnValue:  # fmt: skip
    asks_reason = notice is not None and notices.in_posting_period(notice, screen_now(), staff_calendar())
    disclosures = _disclosures(notice)
    periods = {key: label for duty in disclosures.values() for key, label in duty["periods"].items()}
    return render_template(
        "staff/notice_form.html", values=values, problems=problems or {}, notice=notice, domains=DOMAIN_LABELS,
        asks_reason=asks_reason, reason=request.form.get("reason", ""), accept=",".join(photos.ACCEPTED_MEDIA_TYPES),
        max_photos=MAX_PHOTOS, disk_full=full_disk.DISK_FULL if disk_full else None, disclosures=disclosures,
        periods=periods,
    ), status  # fmt: skip


def _form_on_full_disk(error: Exception, values: dict[str, Any], notice: dict[str, Any] | None = None
                       ) -> ResponseReturnValue:  # fmt: skip
    """The form again, with what was typed and the photos already stored, when the disk is full."""
    if not full_disk.noted(error):
        raise error
    return _form(values, notice=notice, status=full_disk.INSUFFICIENT_STORAGE, disk_full=True)


@bp.route("/")
@login_required
def listing() -> ResponseReturnValue:
    rows = notices.listing(local_db())
    calendar = staff_calendar()
    for row in rows:
        row["posting_ends"] = notices.posting_ends(row, calendar)
    return render_template("staff/notices.html", notices=rows)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    if request.method == "GET":
        today = f"{screen_now():%Y-%m-%d %H:%M}"
        return _form({"domain": "village", "published": today})
    values = _typed()
    try:
        if photo_problems := _store_uploads(values):
            raise notices.NoticeInvalid(photo_problems)
        notice_id = notices.create(local_db(), g.account.name, values, screen_now(), publish=False,
                                   disclosures=_disclosures())  # fmt: skip
    except notices.NoticeInvalid as invalid:
        return _form(values, invalid.problems, status=422)
    except (sqlite3.OperationalError, OSError) as error:
        return _form_on_full_disk(error, values)
    _prune_photos()
    return redirect(url_for("notices.preview", notice_id=notice_id))


@bp.route("/<notice_id>/edit", methods=["GET", "POST"])
@login_required
def edit(notice_id: str) -> ResponseReturnValue:
    notice = _notice_or_404(notice_id)
    if request.method == "GET":
        return _form(_form_values(notice), notice=notice)
    values = _typed()
    try:
        if photo_problems := _store_uploads(values):
            raise notices.NoticeInvalid(photo_problems)
        now_id = notices.update(local_db(), g.account.name, notice_id, values, screen_now(),
                                reason=request.form.get("reason", ""), disclosures=_disclosures(notice),
                                calendar=staff_calendar())  # fmt: skip
    except notices.NoticeInvalid as invalid:
        return _form(values, invalid.problems, notice=notice, status=422)
    except (sqlite3.OperationalError, OSError) as error:
        return _form_on_full_disk(error, values, notice)
    _prune_photos()
    if now_id != notice_id:
        flash(_("The notice's public notice period was cut short: that posting is withdrawn with your reason, and"
                " the notice is posted again as a new one. The county is told."))  # fmt: skip
    return redirect(url_for("notices.preview", notice_id=now_id))


@bp.route("/<notice_id>/preview")
@login_required
def preview(notice_id: str) -> ResponseReturnValue:
    """What staff can do next, above the notice as the kiosk shows it (in a frame of the kiosk's size)."""
    notice = _notice_or_404(notice_id)
    frame = url_for("notices.preview_screen", notice_id=notice_id)
    return render_template("staff/notice_preview.html", notice=notice, frame=frame, screen=PREVIEW_SCREEN)


@bp.route("/<notice_id>/preview/screen")
@login_required
def preview_screen(notice_id: str) -> ResponseReturnValue:
    """The notice's kiosk page, drafts too: laid out by the kiosk's stylesheet at the size of the frame it is in."""
    from kiosk.screens.views import render_notice

    notice = _notice_or_404(notice_id)
    item = {**notice, "photos": json.loads(notice["photos"])}
    quiet_session()  # it loads beside the preview page, whose publish form may answer first
    return _framed_by_the_console(
        make_response(render_notice(item, kiosk=queries.meta(get_db()), staff_preview=notice))
    )


def _framed_by_the_console(response: Response) -> Response:
    """Let the console's own pages frame a kiosk page (every other page refuses any frame): the preview,
    and the kiosk's pages a tap in it leads to."""
    response.headers["Content-Security-Policy"] = FRAMED_POLICY
    return response


@bp.route("/<notice_id>/publish", methods=["POST"])
@login_required
def publish(notice_id: str) -> ResponseReturnValue:
    notice = _notice_or_404(notice_id)
    try:
        notices.update(local_db(), g.account.name, notice_id, _form_values(notice), screen_now(), publish=True,
                       disclosures=_disclosures(notice), calendar=staff_calendar())  # fmt: skip
    except notices.NoticeInvalid as invalid:
        return _form(_form_values(notice), invalid.problems, notice=notice, status=422)
    flash(_("Published: the notice is on the kiosk now."))
    return redirect(url_for("notices.listing"))


@bp.route("/<notice_id>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw(notice_id: str) -> ResponseReturnValue:
    notice = _notice_or_404(notice_id)
    calendar = staff_calendar()
    asks_reason = notices.in_posting_period(notice, screen_now(), calendar)
    if request.method == "POST":
        reason = request.form.get("reason", "")
        try:
            notices.withdraw(local_db(), g.account.name, notice_id, screen_now(), reason=reason, calendar=calendar)
        except notices.NoticeInvalid as invalid:
            return render_template("staff/notice_withdraw.html", notice=notice, asks_reason=asks_reason,
                                   problems=invalid.problems, reason=reason), 422  # fmt: skip
        except sqlite3.OperationalError as error:
            if not full_disk.noted(error):
                raise
            page = render_template("staff/notice_withdraw.html", notice=notice, asks_reason=asks_reason,
                                   problems={}, reason=reason, disk_full=full_disk.DISK_FULL)  # fmt: skip
            return page, full_disk.INSUFFICIENT_STORAGE
        _prune_photos()
        flash(_("Withdrawn: the notice is no longer on the kiosk."))
        return redirect(url_for("notices.listing"))
    return render_template("staff/notice_withdraw.html", notice=notice, asks_reason=asks_reason, problems={},
                           reason="")  # fmt: skip


def register(app: Any) -> None:
    """Add the notice pages, and the kiosk's own screens under /kiosk for previews and links."""
    from kiosk.data import content_db
    from kiosk.screens import filters, guides
    from kiosk.screens import views as screens

    content_db.init_app(app)
    filters.init_app(app, error_pages=False)
    app.register_blueprint(bp)
    app.register_blueprint(screens.bp, url_prefix="/kiosk")
    app.register_blueprint(guides.bp, url_prefix="/kiosk")  # the home screen's 我要办 leads there
    app.after_request(_frameable_kiosk_pages)


def _frameable_kiosk_pages(response: Response) -> Response:
    return _framed_by_the_console(response) if request.blueprint in ("screens", "guides") else response
