"""A village's kiosk as it would be with a draft: the real kiosk pages, before review and publishing.

The content folder is loaded once per state of its history (the latest commit, plus any hand edit
not yet recorded) and kept; a draft's item is put in place of the folder's (or added), then the
village's view is cut and installed into a data folder of its own under the server's data folder,
exactly as a kiosk installs it, and the kiosk's own app serves its pages under
/studio/preview/<change>/<village>/ (its links stay inside it). A few previews are kept; the oldest
go first. The frame shows them at a portrait kiosk's size.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, cast

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue

from kiosk.county.studio import changes
from kiosk.county.studio.access import content_dir, studio_page
from kiosk.county.studio.review import change_or_404
from kiosk.staff.notice_views import FRAMED_POLICY, PREVIEW_SCREEN
from sync.authoring import items
from sync.authoring.history import History
from sync.contract.content import ContentInvalid, County, load_county, power_of
from sync.contract.kinds import CatalogueEntry, Notice, Power, TenOnes
from sync.contract.search import with_initials
from sync.contract.snapshot import village_snapshot
from sync.receive.install import install_snapshot

bp = Blueprint("studio_preview", __name__, url_prefix="/studio/preview")
FOLDER = "studio-previews"  # in the county server's data folder
KEPT = 4  # previews kept ready (each a village's content database)
_lock = threading.Lock()


class _Kept:
    """What one county app keeps for its previews: the county as last loaded, and the kiosk apps ready."""

    def __init__(self) -> None:
        self.county: dict[str, County] = {}  # the folder's state -> the county loaded from it (one kept)
        self.apps: OrderedDict[str, Flask] = OrderedDict()  # preview key -> the kiosk app serving it


def _kept() -> _Kept:
    kept: _Kept = current_app.extensions.setdefault("studio_preview", _Kept())
    return kept


def _folder_state(folder: Path) -> str:
    """What the folder holds, in a word: its latest commit and the hand edits not recorded yet."""
    history = History(folder)
    status = history.status()
    return hashlib.sha256(f"{history.head()}\n{status}".encode()).hexdigest()[:20]


def _loaded(folder: Path, state: str) -> County:
    """The county in the folder in *state*, with every item's search initials worked out once (as a publish does)."""
    kept = _kept().county
    if state not in kept:
        kept.clear()
        county = load_county(folder)
        kept[state] = replace(
            county,
            powers=[cast(Power, with_initials("power", power)) for power in county.powers],
            notices=[cast(Notice, with_initials("notice", notice)) for notice in county.notices],
            catalogue=[cast(CatalogueEntry, with_initials("catalogue", entry)) for entry in county.catalogue],
            ten_ones=cast(TenOnes, with_initials("ten_ones", county.ten_ones)),
        )
    return kept[state]


def _with_draft(county: County, change: changes.Change | None, folder: Path) -> County:
    """*county* with the draft's power item in place of the folder's (the folder's other kinds as they are)."""
    if change is None or change.kind != "power" or change.content is None:
        return county
    data = items.parse(change.content)
    if items.check(folder, change.path, change.content, "power"):
        abort(409)  # a draft with problems has no kiosk page yet: its form says what to fix
    scope = f"village:{data['village']}" if data.get("village") else (
        f"township:{data['township']}" if data.get("township") else "county")  # fmt: skip
    draft = cast(Power, with_initials("power", power_of(data, scope)))
    powers = [power for power in county.powers if power["id"] != data["id"]] + [draft]
    return replace(county, powers=powers)


def _app(change: changes.Change | None, village: str) -> Flask:
    """The kiosk app showing *village* with *change*'s draft (None: the folder as it is)."""
    from kiosk.screens import create_app  # the villager screens, as a kiosk runs them

    folder = content_dir() or abort(503)
    with _lock:
        try:
            state = _folder_state(folder)  # two git commands: once per page of the preview
            county = _loaded(folder, state)
        except ContentInvalid:
            abort(409)
        if village not in {v["code"] for v in county.villages()}:
            abort(404)
        draft = f"{change.id}-{change.revision}" if change else "folder"
        key, apps = f"{state}-{draft}-{village}", _kept().apps
        if key in apps:
            apps.move_to_end(key)
            return apps[key]
        data_dir = Path(current_app.config["DATA_DIR"]) / FOLDER / key
        shutil.rmtree(data_dir, ignore_errors=True)
        snapshot, media = village_snapshot(_with_draft(county, change, folder), village, 1, date.today().isoformat())
        install_snapshot(data_dir, snapshot, media)
        apps[key] = create_app({"DATA_DIR": str(data_dir), "SECRET_KEY": current_app.secret_key,
                                 "DEFAULT_LOCALE": current_app.config.get("DEFAULT_LOCALE", "zh")})  # fmt: skip
        while len(apps) > KEPT:
            old, _gone = apps.popitem(last=False)
            shutil.rmtree(Path(current_app.config["DATA_DIR"]) / FOLDER / old, ignore_errors=True)
        return apps[key]


def _change(change_id: int) -> changes.Change | None:
    return None if change_id == 0 else change_or_404(change_id)  # 0: the folder as it is


@bp.route("/<int:change_id>")
@studio_page
def choose(change_id: int) -> ResponseReturnValue:
    """The preview page: a village to choose, and the kiosk's screen in a frame."""
    change = _change(change_id)
    places = items.places_named(content_dir() or abort(503))
    villages = [(code, f"{township} · {name}") for _t, township, vs in places for code, name in vs]
    chosen = request.args.get("village") or _village_of(change, places) or (villages[0][0] if villages else "")
    start = "/"
    if change is not None and change.kind == "power" and change.content is not None:
        start = f"/powers/{change.item_id}"
    return render_template("studio/preview.html", change=change, villages=villages, chosen=chosen, start=start,
                           screen=PREVIEW_SCREEN)  # fmt: skip


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
    app = _app(_change(change_id), village)
    prefix = f"{bp.url_prefix}/{change_id}/{village}"
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
