"""The villager screens: home, small-power list, ten ones, notices, catalogue, contacts."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from kiosk.data import guides, queries
from kiosk.data.clock import screen_now
from kiosk.data.content_db import NoContent, content_meta, get_db, one_or_404
from kiosk.data.local_db import local_media_dir
from kiosk.screens import counting, qr
from kiosk.screens.flowchart import layout
from kiosk.screens.labels import QUICK_SEARCHES
from kiosk.settings import LOCALES, app_version
from sync.contract.media import media_type
from sync.contract.search import MAX_QUERY, is_initials
from sync.receive.install import media_dir

bp = Blueprint("screens", __name__)
LETTERS = "abcdefghijklmnopqrstuvwxyz"  # alphabetical: easier to find than QWERTY for people who never typed
_BLOB = re.compile(r"^[0-9a-f]{64}\.(jpg|jpeg|png|webp)$")
# kiosk.js asks with this header for only what a tap on the search screen changes (search_update.html).
UPDATE_HEADER = "X-Kiosk-Update"


def shown_or_404(kind: str, item_id: str) -> dict[str, Any]:
    """Return the item a villager may open now, or answer 404: its page, slip, reading and rating alike."""
    return one_or_404(queries.shown_item(get_db(), kind, item_id, screen_now()))


def _page_number() -> int:
    number = request.args.get("page", "1")
    if not number.isdigit() or not 0 < int(number) < 100_000:
        abort(404)
    return int(number)


def _existing(page: queries.Page) -> queries.Page:
    """Answer 404 for a page past the end of its list (the first page always exists)."""
    if page.number > page.pages:
        abort(404)
    return page


def _qr(kind: str, item_id: str) -> dict[str, Any]:
    return {**qr.code_of(kind, item_id), "detail_kind": kind, "detail_id": item_id}


@bp.route("/qr/<kind>/<item_id>.png")
def qr_code(kind: str, item_id: str) -> ResponseReturnValue:
    """An item's QR code: drawn at install, or (a village's own notice) once, into a bounded cache."""
    if kind not in qr.KINDS:
        abort(404)
    db = get_db()
    png = qr.installed_code(db, kind, item_id)
    if png is None:
        if not queries.item_exists(db, kind, item_id):  # only codes of real items are drawn and kept
            abort(404)
        budget = int(current_app.config.get("QR_CACHE_BYTES", qr.CACHE_BYTES))
        url = qr.code_of(kind, item_id)["qr_url"]
        png = qr.qr_png_cached(Path(current_app.config["DATA_DIR"]) / "qr", url, budget)
    response = send_file(io.BytesIO(png), mimetype="image/png", max_age=31536000, etag=False)
    response.headers["Cache-Control"] += ", immutable"  # its address names the content's version
    return response


_WITHOUT_CONTENT = (
    "screens.switch_language",
    "screens.media",
    "screens.toggle_elder_mode",
    "screens.reset",
    "screens.health",
)


@bp.before_request
def _require_content() -> None:
    """Open the current content first: with nothing installed, every screen says so (503)."""
    if request.endpoint not in _WITHOUT_CONTENT:
        get_db()


# Pages that show the search again (language, elder mode) or are no page at all: a search waiting there goes on.
_SEARCH_GOES_ON = ("screens.search", "screens.switch_language", "screens.toggle_elder_mode", "screens.media",
                   "screens.health", "screens.qr_code")  # fmt: skip


@bp.before_request
def _search_left() -> None:
    """Count the search that found nothing once the villager opens another page (kiosk/screens/counting.py)."""
    if request.endpoint not in _SEARCH_GOES_ON:
        counting.left_search()


@bp.context_processor
def _kiosk_context() -> dict[str, Any]:
    try:
        return {"kiosk": content_meta()}
    except NoContent:
        return {"kiosk": None}


HOME_NOTICES = 6  # the newest notices on the home screen: what fills a portrait screen below the matters


@bp.route("/")
def home() -> ResponseReturnValue:
    db = get_db()
    notices = queries.notices_on_show(db, screen_now(), limit=HOME_NOTICES)
    areas = queries.catalogue_area_count(db)  # what the county published, not the standard's 26
    return render_template(
        "screens/home.html", matters=queries.matters(db), notices=notices, guides=guides.guides(db), areas=areas
    )


@bp.route("/healthz")
def health() -> ResponseReturnValue:
    """For the software update's check (kiosk.device.update): the version running, and that content can be read."""
    try:
        db = get_db()
        queries.matters(db)  # a real query of the home screen
        content: str | None = str(queries.meta(db).get("version"))
    except NoContent:
        content = None  # nothing installed yet: the software itself is sound
    return jsonify(version=app_version(), content=content)


@bp.route("/powers")
def power_categories() -> ResponseReturnValue:
    return render_template("screens/power_categories.html", categories=queries.power_categories(get_db()))


@bp.route("/powers/category/<int:order>")
def power_list(order: int) -> ResponseReturnValue:
    category = one_or_404(queries.power_category(get_db(), order))
    size = current_app.config["PAGE_SIZE"]
    page = _existing(queries.powers_in_category(get_db(), order, _page_number(), size))
    return render_template("screens/power_list.html", category=category, page=page)


@bp.route("/powers/<item_id>")
def power_detail(item_id: str) -> ResponseReturnValue:
    item = shown_or_404("power", item_id)
    counting.seen("power", item_id)
    return render_template("screens/power_detail.html", item=item, chart=layout(item["steps"]), **_qr("power", item_id))


@bp.route("/ten-ones")
def ten_ones() -> ResponseReturnValue:
    counting.seen("page", "ten_ones")
    return render_template("screens/ten_ones.html", items=queries.ten_ones(get_db()))


@bp.route("/notices")
@bp.route("/notices/archive", endpoint="notices_archive", defaults={"archive": True})
@bp.route("/notices/<domain>", endpoint="notice_list")
@bp.route("/notices/<domain>/archive", endpoint="notice_archive", defaults={"archive": True})
def notices(domain: str | None = None, archive: bool = False) -> ResponseReturnValue:
    """The notices of all four domains, newest first, or of one (its chip); on show, or the archive."""
    if domain is not None and domain not in queries.DOMAINS:
        abort(404)
    db, now, size = get_db(), screen_now(), current_app.config["PAGE_SIZE"]
    name = queries.DOMAINS[domain] if domain else None
    page = _existing(queries.notices(db, name, now, _page_number(), size, archive=archive))
    counts = queries.notice_counts(db, now, archive=archive)
    return render_template(
        "screens/notice_list.html", domain=domain, page=page, archive=archive, counts=counts, domains=queries.DOMAINS
    )


@bp.route("/notice/<item_id>")
def notice_detail(item_id: str) -> ResponseReturnValue:
    item = shown_or_404("notice", item_id)
    counting.seen("notice", item_id)
    return render_notice(item)


def render_notice(item: dict[str, Any], **context: Any) -> str:
    """Render a notice's page exactly as the kiosk shows it (also the staff console's preview)."""
    domain = {v: k for k, v in queries.DOMAINS.items()}[item["domain"]]
    expired = queries.is_archived(item, screen_now())
    return render_template(
        "screens/notice_detail.html", item=item, domain=domain, expired=expired, **_qr("notice", item["id"]), **context
    )


@bp.route("/catalogue")
def catalogue_areas() -> ResponseReturnValue:
    return render_template("screens/catalogue_areas.html", areas=queries.catalogue_areas(get_db()))


@bp.route("/catalogue/area/<int:order>")
def catalogue_list(order: int) -> ResponseReturnValue:
    items = queries.catalogue_items(get_db(), order)
    if not items:
        abort(404)
    return render_template("screens/catalogue_list.html", items=items, area=items[0]["area"])


@bp.route("/catalogue/<item_id>")
def catalogue_detail(item_id: str) -> ResponseReturnValue:
    item = shown_or_404("catalogue", item_id)
    counting.seen("catalogue", item_id)
    return render_template("screens/catalogue_detail.html", item=item, **_qr("catalogue", item_id))


@bp.route("/contacts")
def contacts() -> ResponseReturnValue:
    counting.seen("page", "contacts")
    return render_template("screens/contacts.html", groups=queries.contacts(get_db()))


@bp.route("/about")
def about() -> ResponseReturnValue:
    """What this kiosk is, what it counts of what villagers look for, and what it never collects."""
    return render_template("screens/about.html")


SEARCH_PAGE = 10  # results drawn at a time: what a portrait screen shows under the keyboard, and quick to draw


@bp.route("/search")
def search() -> ResponseReturnValue:
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    results = queries.search(get_db(), query, screen_now()) if query else []
    counting.searched(query, bool(results))  # what found nothing is counted when the villager moves on
    number = _page_number()
    shown = results[(number - 1) * SEARCH_PAGE : number * SEARCH_PAGE]
    page = _existing(queries.Page(shown, number, len(results), SEARCH_PAGE))
    for result in page.items:
        result["href"] = _result_url(result["kind"], result["item_id"])
    typed = query.lower() if is_initials(query.lower()) else ""  # the letters the keyboard adds to
    update = request.headers.get(UPDATE_HEADER) == "search"
    html = render_template(
        "screens/search_update.html" if update else "screens/search.html",
        query=query, typed=typed, page=page, quick=QUICK_SEARCHES, letters=LETTERS,
    )  # fmt: skip
    return html, {"Vary": UPDATE_HEADER}


def _result_url(kind: str, item_id: str) -> str:
    if kind == "ten_ones":
        return url_for("screens.ten_ones", _anchor=f"one-{item_id}")
    endpoint = {"power": "power_detail", "notice": "notice_detail", "catalogue": "catalogue_detail"}[kind]
    return url_for(f"screens.{endpoint}", item_id=item_id)


@bp.route("/elder")
def toggle_elder_mode() -> ResponseReturnValue:
    session["elder"] = not session.get("elder", False)
    return redirect(local_path(request.args.get("next", "/")))


@bp.route("/reset")
def reset() -> ResponseReturnValue:
    """Forget this person's choices (language, elder mode) and show the attract screen to the next."""
    session.clear()  # a search that found nothing was counted first (_search_left)
    return redirect(url_for("screens.attract"))


@bp.route("/attract")
def attract() -> ResponseReturnValue:
    return render_template("screens/attract.html", notices=queries.notices_on_show(get_db(), screen_now()))


@bp.route("/lang/<code>")
def switch_language(code: str) -> ResponseReturnValue:
    if code not in LOCALES:
        abort(404)
    session["lang"] = code
    return redirect(local_path(request.args.get("next", "/")))


def local_path(target: str) -> str:
    """Return *target* if it is a path on this kiosk, else '/': never a redirect elsewhere."""
    # Browsers drop tabs and newlines and read '\\' as '/', so '/\t/evil' would mean '//evil'.
    cleaned = "".join(ch for ch in target if ch.isprintable() and ch != "\\")
    parts = urlsplit(cleaned)
    if cleaned != target or parts.scheme or parts.netloc or not cleaned.startswith("/") or cleaned.startswith("//"):
        return "/"
    return cleaned


@bp.route("/media/<blob>")
def media(blob: str) -> ResponseReturnValue:
    if not _BLOB.match(blob):
        abort(404)
    data_dir = Path(current_app.config["DATA_DIR"])
    folder = media_dir(data_dir)
    if not (folder / blob).exists():
        folder = local_media_dir(data_dir)  # photos of the village's own notices
    return send_from_directory(folder, blob, mimetype=media_type(blob), max_age=31536000)
