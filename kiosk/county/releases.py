"""The dashboard's page of kiosk software releases: each release's rollout, and its pause or resumption on a click.

Every release published in the signed repository this server serves, newest first, with its state,
whom it is for, the oldest version it upgrades from, its notes, and how many kiosks have it, wait for
it, could not download it, failed it or switched it back (kiosk/county/rollout.py), with the commonest
reasons; a release's own page lists those kiosks (bounded on the page, all in its CSV file). An account
that may publish pauses or resumes a release, signed with the server's online keys (kiosk county serve
--keys) as the studio publishes with them, and the audit log keeps who did it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kiosk.county import dashboard, rollout
from kiosk.county.content import Published
from kiosk.county.reports import county_db
from kiosk.county.studio.access import can
from kiosk.data import audit
from kiosk.data.transactions import transaction
from kiosk.staff.auth import login_required
from sync.publish.keys import SigningKeyError
from sync.publish.lock import RepositoryBusy
from sync.publish.repository import ClockRefused, RepositoryError

bp = Blueprint("releases", __name__, url_prefix="/dashboard/releases")
RELEASE_STATES = {"active": _l("offered to kiosks"), "paused": _l("paused"), "withdrawn": _l("withdrawn")}
KIOSK_STATES = {
    "rolled_back": _l("Rolled back"), "failed": _l("Failed"), "not_downloaded": _l("Not yet downloaded"),
    "offered": _l("Offered, waiting"), "installed": _l("Installed"),
}  # fmt: skip
STEPS = {
    "offer": _l("offer"), "fetch": _l("download"), "install": _l("install"), "check": _l("self-check"),
    "backup": _l("copy of local.db"), "switch": _l("switch"), "restart": _l("restart"),
    "confirm": _l("screens answering"), "switch_back": _l("switch back"),
}  # fmt: skip
CHANGES = {"paused": "release.paused", "active": "release.resumed"}  # what a click may make of a release


def _may_change() -> bool:
    """Whether the signed-in account may pause and resume releases: a publisher of the whole county."""
    return can(g.get("account"), "publish", "")


def _target(release: dict[str, Any], published: Published | None) -> str:
    if release.get("villages"):
        return ", ".join(dashboard.village_cell(code, published).text for code in release["villages"])
    if release.get("percent") is not None:
        return str(_("%(percent)s%% of villages", percent=release["percent"]))
    return str(_("every village"))


def _step(step: str | None) -> str:
    return str(STEPS.get(step, step)) if step else ""


def _card(release: dict[str, Any], rows: list[dict[str, Any]], watched: dict[str, Any] | None,
          published: Published | None) -> dict[str, Any]:  # fmt: skip
    """What the page says of one release."""
    zone = dashboard.county_zone(published)
    watched = watched or {}
    return {
        "version": str(release["version"]), "state": release["state"],
        "state_name": RELEASE_STATES.get(release["state"], release["state"]), "target": _target(release, published),
        "upgrade_from": release.get("upgrade_from") or "0", "notes": release.get("notes") or "",
        "published": dashboard.local_time(release.get("published"), zone), "counts": rollout.counted(rows),
        "reasons": [(_step(step), error, count) for step, error, count in rollout.reasons(rows)],
        "paused_at": dashboard.local_time(watched.get("paused_at"), zone),
        "paused_kiosks": watched.get("paused_kiosks"), "problem": watched.get("problem"),
        "problem_at": dashboard.local_time(watched.get("problem_at"), zone),
    }  # fmt: skip


def _shown() -> dict[str, Any]:
    """What every page of releases shows: the navigation, the threshold, and whether (and why not) to pause here."""
    may = _may_change()
    return {"page": "releases", "pages": dashboard.PAGES, "threshold": int(current_app.config["RELEASE_PAUSE_AFTER"]),
            "may_change": may, "why_not": rollout.signing_problem(current_app.config.get("KEYS_DIR")) if may else None,
            "kiosk_states": KIOSK_STATES, "max_rows": dashboard.MAX_ROWS, "period": None}  # fmt: skip


@bp.route("")
@login_required
def overview() -> ResponseReturnValue:
    published = dashboard.published_county()
    db = dashboard.dashboard_db()
    every, known, watched = rollout.kiosks(db), rollout.outcomes(db), rollout.watch(db)
    cards = [_card(release, rollout.rollout(release, every, known), watched.get(str(release["version"])), published)
             for release in rollout.published(Path(current_app.config["REPO"]))]  # fmt: skip
    return render_template("county/releases.html", title=_("Software releases"), releases=cards, **_shown())


def _release(version: str) -> dict[str, Any]:
    release = next((r for r in rollout.published(Path(current_app.config["REPO"])) if r["version"] == version), None)
    return release if release is not None else abort(404)


def _kiosks(release: dict[str, Any], published: Published | None) -> tuple[dict[str, Any], dashboard.Table]:
    """The release's card and the table of the kiosks in its rollout (of one state, with ?show=)."""
    db, version = dashboard.dashboard_db(), str(release["version"])
    rows = rollout.rollout(release, rollout.kiosks(db), rollout.outcomes(db, version))
    card = _card(release, rows, rollout.watch(db).get(version), published)
    show = request.args.get("show")
    shown = [row for row in rows if row["state"] == show] if show in KIOSK_STATES else rows
    zone = dashboard.county_zone(published)
    cells = [{
        "id": row["id"], "village": dashboard.village_cell(row["village"], published),
        "state": str(KIOSK_STATES[row["state"]]), "step": _step(row["step"]) if row["state"] != "installed" else "",
        "error": row["error"] or "" if row["state"] != "installed" else "", "at": dashboard.local_time(row["at"], zone),
        "app_version": row["app_version"] or "", "last_seen": dashboard.local_time(row["received_at"], zone),
        "problem": row["state"] in ("failed", "rolled_back"),
    } for row in shown]  # fmt: skip
    columns = [("id", _l("Kiosk")), ("village", _l("Village")), ("state", _l("This release")), ("step", _l("Step")),
               ("error", _l("Reason")), ("at", _l("Updated")), ("app_version", _l("App version")),
               ("last_seen", _l("Last report"))]  # fmt: skip
    csv_href = url_for("releases.kiosks_csv", version=version, show=show if show in KIOSK_STATES else None)
    table = dashboard.Table("release-kiosks", _l("Kiosks"), columns, cells, _l("No kiosk in this release's rollout."),
                            flagged="problem", csv_href=csv_href)  # fmt: skip
    table.at = url_for("releases.release", version=version)
    return card, dashboard.paged(table)


@bp.route("/<version>")
@login_required
def release(version: str, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    card, table = _kiosks(_release(version), dashboard.published_county())
    return render_template("county/release.html", title=_("Release %(version)s", version=version), release=card,
                           tables=[table], show=request.args.get("show"), error=error, **_shown()), status  # fmt: skip


@bp.route("/<version>/kiosks.csv")
@login_required
def kiosks_csv(version: str) -> ResponseReturnValue:
    _card, table = _kiosks(_release(version), dashboard.published_county())
    return table.csv_file(f"release-{version}-kiosks.csv")


@bp.route("/<version>/state", methods=["POST"])
@login_required
def change_state(version: str) -> ResponseReturnValue:
    """Pause or resume the release *version* (form field state: paused or active), signed here."""
    if not _may_change():
        abort(403)
    state = request.form.get("state", "")
    before = _release(version)
    if state not in CHANGES:
        abort(400)
    if before["state"] == "withdrawn":
        return release(version, _("Release %(version)s was withdrawn for good: publish a newer one.",
                                  version=version), 409)  # fmt: skip
    if problem := rollout.signing_problem(current_app.config.get("KEYS_DIR")):
        return release(version, _("Nothing was signed: %(problem)s", problem=problem), 503)
    try:
        changed = rollout.change_state(current_app.config, version, state, wait=rollout.WAIT_SECONDS)
    except ClockRefused as refused:
        return release(version, _("Nothing was signed: %(problem)s", problem=refused), 409)
    except RepositoryBusy as busy:
        return release(version, _("Nothing was signed: %(problem)s. Try again in a moment.", problem=busy), 409)
    except (RepositoryError, SigningKeyError) as failed:
        current_app.logger.error("release %s: %s not signed: %s", version, state, failed)
        return release(version, _("Nothing was signed: %(problem)s", problem=failed), 500)
    db = county_db()
    with transaction(db):
        if before["state"] != changed["state"]:
            audit.record(db, g.account.name, CHANGES[state], "release", version, before={"state": before["state"]},
                         after={"state": changed["state"]})  # fmt: skip
        if state == "active":
            rollout.count_from_now(db, version)  # failures before the resumption do not pause it again
    flash(_("Release %(version)s is paused: no kiosk is offered it now.", version=version) if state == "paused" else
          _("Release %(version)s is offered to its kiosks again.", version=version))  # fmt: skip
    return redirect(url_for("releases.release", version=version))
