"""A village's kiosk and phone pages as they would be with a draft: the real pages, before review and publishing.

The content folder is loaded once and kept up to date as its history moves (an approval, a hand
edit: only the files that changed are read again, sync.authoring.folder_county). The draft's file is
read in its place (sync.authoring.drafts, with the photos uploaded with it) by the same code that
checks and publishes the folder (sync.contract.content.with_file): an item, a notice, an area of the
catalogue, a guide (its screens, from its first question), the contacts, the ten ones, the duties, a
year of the calendar or county.yaml itself. Then the village's view is
cut and installed into a data folder of its own under the server's data folder, exactly as a kiosk
installs it, and the kiosk's own app serves its pages under /studio/preview/<change>/<village>/; the
phone pages behind the QR codes are the county server's own (kiosk/county/mobile.py), served from
the drafted county under /studio/preview/phone/<change>/. Links stay inside. A few previews are
kept; the oldest go first.
"""

from __future__ import annotations

import shutil
import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, cast

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue

from kiosk.county.content import Published
from kiosk.county.studio import changes
from kiosk.county.studio.access import content_dir, staged_dir, studio_page
from kiosk.county.studio.review import change_or_404
from kiosk.staff.notice_views import FRAMED_POLICY, PREVIEW_SCREEN
from kiosk.web import base_app
from sync.authoring import items
from sync.authoring.drafts import DraftReader
from sync.authoring.folder_county import FolderCounty
from sync.contract.content import ContentInvalid, County, path_id, with_file
from sync.contract.kinds import CatalogueEntry, Notice, Power, TenOnes
from sync.contract.search import INITIALS, with_initials
from sync.contract.snapshot import village_snapshot
from sync.receive.install import install_snapshot

bp = Blueprint("studio_preview", __name__, url_prefix="/studio/preview")
FOLDER = "studio-previews"  # in the county server's data folder
KEPT = 4  # previews kept ready (each a village's content database)
_lock = threading.Lock()


class _Kept:
    """What one county app keeps for its previews: the county as last loaded, and the kiosk apps ready."""

    def __init__(self) -> None:
        self.folder: FolderCounty | None = None  # the county in the folder, as it is now
        self.initialled = ""  # the folder's state whose county has every item's search initials
        self.apps: OrderedDict[str, Flask] = OrderedDict()  # preview key -> the kiosk app serving it
        self.drafted: dict[str, County] = {}  # the folder's state and draft -> the county so (one kept)
        self.phones: OrderedDict[str, Flask] = OrderedDict()  # the folder's state and draft -> its phone pages


def _kept() -> _Kept:
    kept: _Kept = current_app.extensions.setdefault("studio_preview", _Kept())
    return kept


def _loaded(folder: Path) -> tuple[str, County]:
    """The folder's state, and the county it holds with every item's search initials worked out once (as a
    publish does); after an approval or a hand edit only the files that changed are read again."""
    kept = _kept()
    if kept.folder is None or kept.folder.folder != folder:
        kept.folder, kept.initialled = FolderCounty(folder), ""
    state, county = kept.folder.current()
    if state != kept.initialled:  # once per state, not once per page: only the items read again lack them
        kept.folder.county = county = _with_initials(county)
        kept.initialled = state
    return state, county


def _with_draft(county: County, change: changes.Change | None, folder: Path) -> County:
    """*county* with the draft's file read in place of the folder's (409 when the draft has problems to fix)."""
    if change is None:
        return county
    if change.content is None:  # the draft takes an item away
        gone = path_id(change.path)
        gone_guide = items.parse(items.text_of(folder, change.path)).get("id") if change.kind == "guide" else None
        guides = [g for g in county.guides if g["id"] != gone_guide]  # a guide's file is not named by its id
        return replace(county, powers=[p for p in county.powers if p["id"] != gone],
                       notices=[n for n in county.notices if n["id"] != gone], guides=guides)  # fmt: skip
    try:
        drafted = with_file(county, DraftReader(folder, {change.path: change.content}, staged_dir()), change.path)
    except ContentInvalid:
        abort(409)  # a draft with problems has no pages yet: its form says what to fix
    return _with_initials(drafted)


def _with_initials(county: County) -> County:
    """*county* with the search initials of every item that lacks them (those the draft brought) worked out."""
    return replace(
        county,
        powers=[p if INITIALS in p else cast(Power, with_initials("power", p)) for p in county.powers],
        notices=[n if INITIALS in n else cast(Notice, with_initials("notice", n)) for n in county.notices],
        catalogue=[c if INITIALS in c else cast(CatalogueEntry, with_initials("catalogue", c))
                   for c in county.catalogue],
        ten_ones=cast(TenOnes, with_initials("ten_ones", county.ten_ones)),
    )  # fmt: skip


def _drafted(change: changes.Change | None, folder: Path) -> tuple[str, County]:
    """The key of the folder's state with *change*'s draft, and the county so; call it holding _lock."""
    try:
        state, county = _loaded(folder)  # two git commands: once per page of the preview
    except ContentInvalid:
        abort(409)
    key = f"{state}-{change.id}-{change.revision}" if change else f"{state}-folder"
    drafted = _kept().drafted
    if key not in drafted:
        drafted.clear()  # one kept: the pages of one preview follow each other
        drafted[key] = _with_draft(county, change, folder)
    return key, drafted[key]


def _app(change: changes.Change | None, village: str) -> Flask:
    """The kiosk app showing *village* with *change*'s draft (None: the folder as it is)."""
    from kiosk.screens import create_app  # the villager screens, as a kiosk runs them

    folder = content_dir() or abort(503)
    with _lock:
        drafted, county = _drafted(change, folder)
        if village not in {v["code"] for v in county.villages()}:
            abort(404)
        key, apps = f"{drafted}-{village}", _kept().apps
        if key in apps:
            apps.move_to_end(key)
            return apps[key]
        data_dir = Path(current_app.config["DATA_DIR"]) / FOLDER / key
        shutil.rmtree(data_dir, ignore_errors=True)
        snapshot, media = village_snapshot(county, village, 1, date.today().isoformat())
        install_snapshot(data_dir, snapshot, media)
        apps[key] = create_app({"DATA_DIR": str(data_dir), "SECRET_KEY": current_app.secret_key, "COUNT_LOOKS": False,
                                 "DEFAULT_LOCALE": current_app.config.get("DEFAULT_LOCALE", "zh")})  # fmt: skip
        while len(apps) > KEPT:
            old, _gone = apps.popitem(last=False)
            shutil.rmtree(Path(current_app.config["DATA_DIR"]) / FOLDER / old, ignore_errors=True)
        return apps[key]


class _Fixed:
    """Stands in for the phone pages' PublishedCounty: the drafted county, as if it were published."""

    def __init__(self, published: Published) -> None:
        self.published = published

    def current(self) -> Published:
        return self.published


def _phone_app(change: changes.Change | None) -> Flask:
    """The county server's phone pages showing the county with *change*'s draft."""
    from kiosk.county import mobile
    from kiosk.screens import filters

    folder = content_dir() or abort(503)
    with _lock:
        key, county = _drafted(change, folder)
        phones = _kept().phones
        if key not in phones:
            config = {name: current_app.config[name] for name in ("DATA_DIR", "REPO", "SECRET_KEY", "DEFAULT_LOCALE")}
            app = base_app(config, "county_secret_key")
            filters.init_app(app, error_pages=False)
            app.register_blueprint(mobile.bp)
            app.extensions["mobile_published"] = _Fixed(Published(0, county, {"county": date.today().isoformat()}))
            phones[key] = app
            while len(phones) > KEPT:
                phones.popitem(last=False)
        phones.move_to_end(key)
        return phones[key]


def _change(change_id: int) -> changes.Change | None:
    return None if change_id == 0 else change_or_404(change_id)  # 0: the folder as it is


START = {"power": "/powers/{id}", "notice": "/notice/{id}", "catalogue": "/catalogue", "contacts": "/contacts",
         "ten_ones": "/ten-ones", "guide": "/guides/{id}/"}  # fmt: skip  # the kiosk page showing a draft of each kind
PHONE_START = {"power": "power/{id}", "notice": "notice/{id}", "ten_ones": "ten-ones",
               "guide": "guides/{id}/"}  # fmt: skip  # under /m/<village>/
PHONE_SCREEN = {"width": 390, "height": 844}  # a phone's screen, in CSS pixels


@bp.route("/<int:change_id>")
@studio_page
def choose(change_id: int) -> ResponseReturnValue:
    """The preview page: a village and a screen (the kiosk or a phone) to choose, and the page in a frame."""
    change = _change(change_id)
    places = items.places_named(content_dir() or abort(503))
    villages = [(code, f"{township} · {name}") for _t, township, vs in places for code, name in vs]
    chosen = request.args.get("village") or _village_of(change, places) or (villages[0][0] if villages else "")
    phone = request.args.get("screen") == "phone"
    kind, item_id = (change.kind, change.item_id) if change is not None and change.content is not None else ("", "")
    if phone:
        frame = url_for("studio_preview.phone", change_id=change_id,
                        rest=f"m/{chosen}/" + PHONE_START.get(kind, "").format(id=item_id))  # fmt: skip
    else:
        frame = url_for("studio_preview.screen", change_id=change_id, village=chosen,
                        rest=START.get(kind, "/").format(id=item_id).lstrip("/"))  # fmt: skip
    return render_template("studio/preview.html", change=change, villages=villages, chosen=chosen, frame=frame,
                           phone=phone, screen=PHONE_SCREEN if phone else PREVIEW_SCREEN)  # fmt: skip


def _village_of(change: changes.Change | None, places: list[tuple[str, str, list[tuple[str, str]]]]) -> str:
    """A village that shows the change's item: its own, the first of its township, or none in particular."""
    data = items.parse(change.content or "") if change else {}
    if data.get("village"):
        return str(data["village"])
    for code, _name, villages in places:
        if data.get("township") == code and villages:
            return villages[0][0]
    return ""


@bp.route("/<int:change_id>/<village>/", defaults={"rest": ""})
@bp.route("/<int:change_id>/<village>/<path:rest>")
@studio_page
def screen(change_id: int, village: str, rest: str) -> ResponseReturnValue:
    """A page of the previewed kiosk: the kiosk's own app answers, under this page's address."""
    return _forward(_app(_change(change_id), village), f"{bp.url_prefix}/{change_id}/{village}", rest)


@bp.route("/phone/<int:change_id>/<path:rest>")
@studio_page
def phone(change_id: int, rest: str) -> ResponseReturnValue:
    """A phone page (/m/<village>/…, and its stylesheet) of the previewed county: the county's own phone pages."""
    return _forward(_phone_app(_change(change_id)), f"{bp.url_prefix}/phone/{change_id}", rest)


def _forward(app: Flask, prefix: str, rest: str) -> ResponseReturnValue:
    """Answer with *app*'s page *rest*, the app mounted at *prefix* under this page's address."""
    environ = dict(request.environ, SCRIPT_NAME=request.environ.get("SCRIPT_NAME", "") + prefix,
                   PATH_INFO=f"/{rest}")  # fmt: skip
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], _info: Any = None) -> Any:
        captured.update(status=status, headers=headers)
        return lambda _data: None

    body = app.wsgi_app(environ, start_response)
    try:
        content = b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()
    dropped = ("content-security-policy", "content-length", "set-cookie")  # the studio's own policy; no kiosk session
    headers = [(name, value) for name, value in captured["headers"] if name.lower() not in dropped]
    response = Response(content, status=captured["status"], headers=headers)
    response.headers["Content-Security-Policy"] = FRAMED_POLICY
    return response
