"""The phone pages behind the kiosks' QR codes: /m/<village>/<kind>/<id> and a village index.

Each village's pages show what its kiosk shows: the county's content in its scope, from the
published repository (content.py), and the notices its staff posted, received through the outbox.
Light for a phone: no script, one small stylesheet, nothing from elsewhere.

The language comes from a `lang` query parameter carried in every link (Chinese by default): a
public site needs no session cookie, and a link shared in a chat opens in the language it was read in.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, g, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from werkzeug.exceptions import NotFound

from kiosk.county import village_photos
from kiosk.county.content import NothingPublished, Published, PublishedCounty, VillageView, village_notices
from kiosk.county.reports import county_db
from kiosk.county.store import open_store
from kiosk.data.queries import DOMAINS, is_archived, is_on_show, is_out
from kiosk.settings import LOCALES
from sync.contract.guides import REFERENCES, named, walk
from sync.contract.media import media_type

bp = Blueprint("mobile", __name__, url_prefix="/m")
LIST_SIZE = 50  # entries per list page: a phone scrolls easily, and the page stays far below 50 KB
NEWEST = 5  # current notices per domain on the village index
_BLOB = re.compile(r"^[0-9a-f]{64}\.(jpg|jpeg|png|webp)$")
_DOMAIN_KEYS = {name: key for key, name in DOMAINS.items()}


@bp.record_once
def _open_repository(state: Any) -> None:
    state.app.extensions["mobile_published"] = PublishedCounty(Path(state.app.config["REPO"]))
    config = state.app.config
    open_store(Path(config["DATA_DIR"]), url=config["COUNTY_DATABASE_URL"]).close()  # village notices: its uploads


class _VillageUnknown(NotFound):
    """No such village in the county's published content."""


class _ItemGone(NotFound):
    """The item is not (or no longer, or not yet) published for this village."""


def _language() -> str:
    chosen = request.args.get("lang", "")
    return chosen if chosen in LOCALES else str(current_app.config["DEFAULT_LOCALE"])


def link(endpoint: str, **values: Any) -> str:
    """Return the URL of a mobile page in the reader's language (the default language needs no parameter)."""
    if g.get("mobile_lang", "") != current_app.config["DEFAULT_LOCALE"]:
        values.setdefault("lang", g.mobile_lang)
    return url_for(f"mobile.{endpoint}", **values)


def _language_link(code: str) -> str:
    """Return this page in language *code*."""
    values = {**{k: v for k, v in request.args.items() if k != "lang"}, **(request.view_args or {})}
    if code != current_app.config["DEFAULT_LOCALE"]:
        values["lang"] = code
    return url_for(str(request.endpoint), **values)


def _page(template: str, status: int = 200, **context: Any) -> ResponseReturnValue:
    with force_locale(g.mobile_lang):
        html = render_template(template, lang=g.mobile_lang, link=link, language_link=_language_link, **context)
    return html, status


@bp.before_request
def _choose_language() -> None:
    g.mobile_lang = _language()


def _published() -> Published:
    published: PublishedCounty = current_app.extensions["mobile_published"]
    return published.current()


def _village(code: str) -> VillageView:
    view = _published().village(code)
    if view is None:
        raise _VillageUnknown()
    return view


def _all_notices(view: VillageView) -> dict[str, dict[str, Any]]:
    """The county's notices for the village, and the village's own (never in place of a county one)."""
    own = village_notices(county_db(), view.snapshot["village"]["code"])
    return {**own, **view.notices}


def _shown_or_404(view: VillageView, kind: str, item_id: str) -> dict[str, Any]:
    """Return the item the village's kiosk would let a villager open now (a notice once out), or answer 404."""
    items = _all_notices(view) if kind == "notice" else {"power": view.powers, "catalogue": view.catalogue}[kind]
    item = items.get(item_id)
    if item is None or (kind == "notice" and not is_out(item, view.now())):
        raise _ItemGone()  # not out yet: nobody may read it before its publication time
    return item


def _current(notices: dict[str, dict[str, Any]], now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Return the notices on show now by domain key, pinned first, newest first (as the kiosk lists them)."""
    on_show = sorted((n for n in notices.values() if is_on_show(n, now)), key=lambda n: n["id"])
    on_show.sort(key=lambda n: (bool(n["pinned"]), n["published_at"]), reverse=True)  # stable: ties keep id order
    by_domain: dict[str, list[dict[str, Any]]] = {key: [] for key in DOMAINS}
    for notice in on_show:
        by_domain[_DOMAIN_KEYS[notice["domain"]]].append(notice)
    return by_domain


def _context(view: VillageView) -> dict[str, Any]:
    snapshot = view.snapshot
    return {"village": snapshot["village"], "county": snapshot["county"], "content_date": snapshot["content_date"]}


def _slice(items: list[Any]) -> tuple[list[Any], int, int]:
    """Return one page of *items*, its number and the number of pages (404 past the end)."""
    number = request.args.get("page", "1")
    pages = max(1, -(-len(items) // LIST_SIZE))
    if not number.isdigit() or not 1 <= int(number) <= pages:
        raise _ItemGone()
    start = (int(number) - 1) * LIST_SIZE
    return items[start : start + LIST_SIZE], int(number), pages


@bp.route("/<village>/")
def index(village: str) -> ResponseReturnValue:
    view = _village(village)
    notices = _current(_all_notices(view), view.now())
    return _page(
        "mobile/index.html", notices=notices, newest=NEWEST, categories=view.categories, areas=view.areas,
        ten_ones=bool(view.snapshot["ten_ones"].get("items")), contacts=view.contacts,
        guides=bool(view.snapshot.get("guides")), **_context(view),
    )  # fmt: skip


@bp.route("/<village>/powers/<int:order>")
def power_list(village: str, order: int) -> ResponseReturnValue:
    view = _village(village)
    category = next((c for c in view.categories if c["order"] == order), None)
    if category is None:
        raise _ItemGone()
    items, number, pages = _slice(category["items"])
    return _page("mobile/power_list.html", category=category, items=items, number=number, pages=pages,
                 **_context(view))  # fmt: skip


@bp.route("/<village>/notices/<domain>")
def notice_list(village: str, domain: str) -> ResponseReturnValue:
    view = _village(village)
    if domain not in DOMAINS:
        raise _ItemGone()
    items, number, pages = _slice(_current(_all_notices(view), view.now())[domain])
    return _page("mobile/notice_list.html", domain=domain, items=items, number=number, pages=pages,
                 **_context(view))  # fmt: skip


@bp.route("/<village>/areas/<int:order>")
def catalogue_list(village: str, order: int) -> ResponseReturnValue:
    view = _village(village)
    area = next((a for a in view.areas if a["order"] == order), None)
    if area is None:
        raise _ItemGone()
    return _page("mobile/catalogue_list.html", area=area, **_context(view))


@bp.route("/<village>/ten-ones")
def ten_ones(village: str) -> ResponseReturnValue:
    view = _village(village)
    return _page("mobile/ten_ones.html", ten_ones=view.snapshot["ten_ones"], **_context(view))


@bp.route("/<village>/power/<item_id>")
def power_detail(village: str, item_id: str) -> ResponseReturnValue:
    view = _village(village)
    item = _shown_or_404(view, "power", item_id)
    numbers = {step["id"]: n for n, step in enumerate(item["steps"], start=1)}
    return _page("mobile/power.html", item=item, numbers=numbers, **_context(view))


@bp.route("/<village>/notice/<item_id>")
def notice_detail(village: str, item_id: str) -> ResponseReturnValue:
    view = _village(village)
    item = _shown_or_404(view, "notice", item_id)
    expired = is_archived(item, view.now())
    return _page("mobile/notice.html", item=item, domain=_DOMAIN_KEYS[item["domain"]], expired=expired,
                 **_context(view))  # fmt: skip


@bp.route("/<village>/catalogue/<item_id>")
def catalogue_detail(village: str, item_id: str) -> ResponseReturnValue:
    view = _village(village)
    item = _shown_or_404(view, "catalogue", item_id)
    return _page("mobile/catalogue.html", item=item, **_context(view))


@bp.route("/<village>/guides/")
def guide_list(village: str) -> ResponseReturnValue:
    """我要办 on a phone: the first step, one answer a guide (the kiosk's kiosk/screens/guides.py)."""
    view = _village(village)
    if not view.snapshot.get("guides"):
        raise _ItemGone()
    return _page("mobile/guide_list.html", guides=view.snapshot["guides"], **_context(view))


@bp.route("/<village>/guides/<guide_id>/", defaults={"answers": ""})
@bp.route("/<village>/guides/<guide_id>/<answers>")
def guide_step(village: str, guide_id: str, answers: str) -> ResponseReturnValue:
    """One question of a guide a page, its answers links (the answers taken are in the address), or its ending."""
    view = _village(village)
    guide = next((g for g in view.snapshot.get("guides", []) if g["id"] == guide_id), None)
    step = walk(guide, answers) if guide is not None else None
    if step is None:
        raise _ItemGone()
    shown: dict[str, list[dict[str, Any]]] = {kind: [] for kind in REFERENCES}
    if step.ending is not None:
        notices, now = _all_notices(view), view.now()
        found = {"powers": view.powers, "catalogue": view.catalogue, "notices": notices,
                 "contacts": {c["id"]: c for c in view.snapshot["contacts"]}}  # fmt: skip
        for kind in REFERENCES:
            items = (found[kind].get(item_id) for item_id in named(step.ending, kind))
            shown[kind] = [i for i in items if i is not None and (kind != "notices" or is_on_show(i, now))]
    return _page("mobile/guide.html", guide=guide, step=step, named=shown, **_context(view))


@bp.route("/<village>/photos/<blob>")
def photo(village: str, blob: str) -> ResponseReturnValue:
    """Serve a photo the village's content shows: the county's from the repository's content-addressed
    target file, the village's own notices' from county.db (their kiosk sent them)."""
    view = _village(village)
    if not _BLOB.match(blob):
        abort(404)
    if blob in view.photos:
        response = send_file(view.photos[blob], mimetype=media_type(blob), max_age=31536000, conditional=True)
    else:
        data = village_photos.photo(county_db(), view.snapshot["village"]["code"], blob)
        if data is None:
            abort(404)
        response = send_file(io.BytesIO(data), mimetype=media_type(blob), max_age=31536000, etag=blob.split(".")[0])
        response.make_conditional(request)
    response.cache_control.immutable = True  # its name is its hash
    return response


@bp.route("/<village>/<path:rest>")
def elsewhere(village: str, rest: str) -> ResponseReturnValue:
    """Any other address under a village: a page that is not (or no longer) there."""
    _village(village)
    raise _ItemGone()


@bp.errorhandler(_ItemGone)
def _item_gone(_error: _ItemGone) -> ResponseReturnValue:
    view = _published().village((request.view_args or {}).get("village", ""))
    assert view is not None, "raised only for a known village"
    return _page("mobile/not_found.html", 404, reason="gone", **_context(view))


@bp.errorhandler(_VillageUnknown)
def _village_unknown(_error: _VillageUnknown) -> ResponseReturnValue:
    return _page("mobile/not_found.html", 404, reason="village")


@bp.errorhandler(NothingPublished)
def _nothing_published(_error: NothingPublished) -> ResponseReturnValue:
    return _page("mobile/not_found.html", 503, reason="nothing")
