"""The studio's review pages: what waits for whom, one change with its difference and flowchart, and
the steps a change takes (submit, approve, send back, withdraw); and the content folder's history,
where an approved change can be taken back."""

from __future__ import annotations

import difflib

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext

from kiosk.county.reports import county_db
from kiosk.county.studio import changes
from kiosk.county.studio.access import can, check, content_dir, staged_dir, studio_page
from kiosk.county.studio.take_back import take_back
from kiosk.county.studio.views import chart_of
from sync.authoring import items
from sync.authoring.history import FIRST, HAND_EDIT, History, HistoryError

bp = Blueprint("studio_review", __name__, url_prefix="/studio")
AUTHORS = {FIRST: "first", HAND_EDIT: "hand"}  # the history's own author names, which the page words itself


@bp.route("/")
@studio_page
def home() -> ResponseReturnValue:
    account = g.account
    mine = [c for c in changes.listed(county_db(), changes.OPEN) if c.author == account.name]
    waiting = [c for c in changes.listed(county_db(), ("submitted",)) if can(account, "review", c.township)]
    approved = changes.listed(county_db(), ("approved",)) if can(account, "publish") else []
    return render_template("studio/home.html", mine=mine, waiting=waiting, approved=approved)


@bp.route("/submit-mine", methods=["POST"])
@studio_page
def submit_mine() -> ResponseReturnValue:
    """Submit each of the account's drafts that the folder's checks pass; say how many, and which wait."""
    sent, waiting = 0, 0
    for found in changes.listed(county_db(), ("draft", "returned")):
        if found.author != g.account.name:
            continue
        if check(found.path, found.content or "", items.KINDS[found.kind].schema):
            waiting += 1
            continue
        changes.submit(county_db(), found.id, g.account.name)
        sent += 1
    flash(_("%(sent)d submitted for review; %(waiting)d still have problems to fix.", sent=sent, waiting=waiting))
    return redirect(url_for("studio_review.home"))


def change_or_404(change_id: int) -> changes.Change:
    """The change *change_id*, if the account may see it (it is of the account's township): else 404."""
    change = changes.get(county_db(), change_id)
    if change is None or not can(g.account, "edit", change.township):
        abort(404)
    return change


@bp.route("/changes/<int:change_id>")
@studio_page
def change(change_id: int) -> ResponseReturnValue:
    found = change_or_404(change_id)
    folder = content_dir() or abort(503)
    before = items.text_of(folder, found.path)
    diff = "".join(difflib.unified_diff(before.splitlines(True), (found.content or "").splitlines(True),
                                        fromfile=_("in the folder now"), tofile=_("this change")))  # fmt: skip
    chart = chart_of(items.parse(found.content or "").get("steps", [])) if found.kind == "power" else []
    problems = check(found.path, found.content or "", items.KINDS[found.kind].schema)
    may_review = can(g.account, "review", found.township) and found.author != g.account.name
    return render_template("studio/change.html", change=found, diff=diff, chart=chart, problems=problems,
                           may_review=may_review)  # fmt: skip


@bp.route("/changes/<int:change_id>/<action>", methods=["POST"])
@studio_page
def act(change_id: int, action: str) -> ResponseReturnValue:
    found = change_or_404(change_id)
    folder = content_dir() or abort(503)
    note = request.form.get("note", "").strip()[:500]
    try:
        if action == "submit":
            if check(found.path, found.content or "", items.KINDS[found.kind].schema):
                flash(_("Fix the problems shown first: a change with problems cannot be submitted."))
                return redirect(url_for("studio_review.change", change_id=change_id))
            changes.submit(county_db(), change_id, g.account.name)
            flash(_("Submitted for review."))
        elif action in ("approve", "return"):
            if not can(g.account, "review", found.township):
                abort(403)
            if action == "approve":
                revision = request.form.get("revision", type=int)  # the one the page showed
                changes.approve(county_db(), change_id, g.account.name, folder, note, revision, staged_dir())
                flash(_("Approved: the change is in the content folder and goes out with the next publish."))
            else:
                changes.send_back(county_db(), change_id, g.account.name, note)
                flash(_("Sent back to its author with your reason."))
        elif action == "withdraw":
            if found.author != g.account.name and not can(g.account, "review", found.township):
                abort(403)  # another editor's draft is theirs to withdraw, or a reviewer's
            changes.withdraw(county_db(), change_id, g.account.name)
            flash(_("Withdrawn: the item stays as it is in the content folder."))
        else:
            abort(404)
    except (changes.ChangeError, HistoryError) as error:
        if isinstance(error, HistoryError):
            current_app.logger.error("studio: change %s not approved: %s", change_id, error)
        flash(str(error))
    return redirect(url_for("studio_review.change", change_id=change_id))


@bp.route("/history")
@studio_page
def history() -> ResponseReturnValue:
    """The folder's latest changes, or with ?path= one file's: who changed it, who approved it, when and why."""
    folder = content_dir() or abort(503)
    path = request.args.get("path") or None
    if path is not None and not changes.PATH.fullmatch(path):
        abort(404)
    try:
        entries = History(folder).log(path, limit=100) if (folder / ".git").exists() else []
    except HistoryError as error:  # a broken repository: say so, as the approvals do
        current_app.logger.error("studio: the content folder's history cannot be read: %s", error)
        flash(str(error))
        entries = []
    return render_template("studio/history.html", entries=entries, authors=AUTHORS, path=path)


@bp.route("/history/<commit>")
@studio_page
def commit(commit: str) -> ResponseReturnValue:
    folder = content_dir() or abort(503)
    try:
        entry = next((e for e in History(folder).log(limit=1000) if e.commit == commit), None)
        diff = History(folder).diff(commit) if entry else ""
    except HistoryError:
        abort(404)
    if entry is None:
        abort(404)
    return render_template("studio/commit.html", entry=entry, diff=diff, authors=AUTHORS,
                           may_revert=can(g.account, "edit"))  # fmt: skip


@bp.route("/history/<commit>/revert", methods=["POST"])
@studio_page
def revert(commit: str) -> ResponseReturnValue:
    """Propose taking a change back: drafts of the files as they were, for another reviewer to approve."""
    folder = content_dir() or abort(503)
    reason = request.form.get("reason", "").strip()[:500]
    if not reason:
        flash(_("Say why the change is taken back: it is kept with the history."))
        return redirect(url_for("studio_review.commit", commit=commit))
    try:
        made = take_back(county_db(), folder, commit, g.account, reason)
    except (changes.ChangeError, HistoryError) as error:
        flash(str(error))
        return redirect(url_for("studio_review.commit", commit=commit))
    flash(ngettext("%(num)d draft made to take the change back: it goes out once another reviewer approves it.",
                   "%(num)d drafts made to take the change back: they go out once another reviewer approves them.",
                   made))  # fmt: skip
    return redirect(url_for("studio_review.home"))
