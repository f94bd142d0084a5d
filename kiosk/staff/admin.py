"""The staff console's admin pages: accounts, one-time set-up links, and the audit log with its CSV export.

Only an admin reaches /admin (a staff account gets 403). /setup/<token> is the exception: there the
owner of a new account, not signed in, chooses a password with the link an admin gave them.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

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
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kiosk.data import accounts
from kiosk.staff import times
from kiosk.staff.auth import SIGN_IN_LIMIT, accounts_db, admin_required, login_required
from kiosk.staff.limiter import limiter

bp = Blueprint("admin", __name__, url_prefix="/admin")
setup_bp = Blueprint("setup", __name__)  # outside /admin and without a guard: its visitor has no password yet
own_bp = Blueprint("own_account", __name__)  # every signed-in account, for its own password
AUDIT_PAGE_SIZE = 50
AUDIT_COLUMNS = ("id", "at", "actor", "action", "target_kind", "target_id", "before", "after", "reason")
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MIN_PASSWORD = accounts.MIN_PASSWORD
LINK_HOURS = int(accounts.SETUP_LINK_VALID.total_seconds() // 3600)

ROLE_NAMES = {"staff": _l("staff"), "editor": _l("editor"), "reviewer": _l("reviewer"), "publisher": _l("publisher"),
              "admin": _l("admin")}  # fmt: skip
# AccountError codes: the form field the problem belongs to ("" for the page), and what to tell the person.
_PROBLEMS = {
    "bad_name": ("name", _l("An account name has 1 to 40 characters, and no tabs, line breaks or invisible ones.")),
    "name_taken": ("name", _l("There is already an account named %(name)s: choose another name.")),
    "bad_role": ("role", _l("Choose one of the roles listed.")),
    "township_role": ("township", _l("Only an editor or a reviewer can be kept to one township: leave it empty.")),
    "bad_township": (
        "township",
        _l("%(township)s is not a township's code: lower-case letters, digits and hyphens, as in county.yaml."),
    ),
    "short_password": ("password", _l("A password needs at least %(count)d characters.")),
    "password_is_name": ("password", _l("The password must not be the account name.")),
    "passwords_differ": ("password2", _l("The two passwords are not the same: type the new password twice.")),
    "disable_self": ("", _l("You cannot disable your own account: another admin has to.")),
    "last_admin": ("", _l("%(name)s is the last admin: add or enable another admin first.")),
    "wrong_password": ("current", _l("The current password is wrong.")),
}


bp.add_app_template_filter(times.when, "when")  # every signed-in page shows times this way


@bp.record_once
def _register_setup_pages(state: Any) -> None:
    state.app.register_blueprint(setup_bp)
    state.app.register_blueprint(own_bp)


def _problem(error: accounts.AccountError) -> tuple[str, str]:
    """Return the form field *error* is about and the message for it, in the reader's language."""
    field, message = _PROBLEMS.get(error.code, ("", None))
    return field, str(message % error.values) if message is not None else str(error)


def _typed_password() -> str:
    password = request.form.get("password", "")
    if password != request.form.get("password2", ""):
        raise accounts.AccountError("the two passwords differ", "passwords_differ")
    return password


def _private(body: str, status: int = 200) -> Response:
    """A page that shows or takes a set-up link: kept out of caches and never sent on as a Referer."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/")
@admin_required
def index() -> ResponseReturnValue:
    return redirect(url_for("admin.account_list"))


@bp.route("/accounts")
@admin_required
def account_list() -> ResponseReturnValue:
    return _account_list()


def _account_list(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    zone, now = times.county_zone(), datetime.now(UTC)
    rows = accounts.all_accounts(accounts_db())
    for row in rows:
        locked = row["locked_until"] and datetime.fromisoformat(str(row["locked_until"])) > now
        row.update(created=times.when(str(row["created_at"]), zone),
                   locked=times.when(str(row["locked_until"]), zone) if locked else "")  # fmt: skip
    return render_template("staff/admin_accounts.html", accounts=rows, error=error, role_names=ROLE_NAMES), status


@bp.route("/accounts/new", methods=["GET", "POST"])
@admin_required
def new_account() -> ResponseReturnValue:
    typed = {"name": request.form.get("name", ""), "role": request.form.get("role", "staff"),
             "township": request.form.get("township", "").strip(),
             "by": "link" if request.form.get("by") == "link" else "password"}  # fmt: skip
    roles = tuple(current_app.extensions["console"]["roles"])
    if request.method == "GET":
        return render_template("staff/admin_account_new.html", typed=typed, problems={}, min_password=MIN_PASSWORD)
    try:
        if typed["by"] == "link":
            account, token = accounts.add_with_setup_link(accounts_db(), typed["name"], typed["role"], g.account.name,
                                                          roles=roles, township=typed["township"])  # fmt: skip
            return _show_link(account, token)
        account = accounts.add(accounts_db(), typed["name"], typed["role"], _typed_password(), g.account.name,
                               roles=roles, township=typed["township"])  # fmt: skip
    except accounts.AccountError as error:
        field, message = _problem(error)
        return render_template("staff/admin_account_new.html", typed=typed, problems={field: message},
                               min_password=MIN_PASSWORD), 422  # fmt: skip
    flash(_("Account %(name)s created: they can sign in with the password you gave them.", name=account.name))
    return redirect(url_for("admin.account_list"))


@bp.route("/accounts/<int:account_id>/password", methods=["GET", "POST"])
@admin_required
def reset_password(account_id: int) -> ResponseReturnValue:
    account = next((a for a in accounts.all_accounts(accounts_db()) if a["id"] == account_id), None)
    if account is None:
        abort(404)
    by = "link" if request.form.get("by") == "link" else "password"
    if request.method == "GET":
        return render_template("staff/admin_password.html", account=account, by=by, problems={},
                               min_password=MIN_PASSWORD)  # fmt: skip
    try:
        if by == "link":
            token = accounts.issue_setup_link(accounts_db(), account_id, g.account)
            return _show_link(accounts.Account(account_id, str(account["name"]), str(account["role"])), token)
        accounts.set_password(accounts_db(), account_id, _typed_password(), g.account)
    except accounts.AccountError as error:
        field, message = _problem(error)
        return render_template("staff/admin_password.html", account=account, by=by, problems={field: message},
                               min_password=MIN_PASSWORD), 422  # fmt: skip
    flash(_("The password of %(name)s is changed, and any lockout is lifted.", name=account["name"]))
    return redirect(url_for("admin.account_list"))


def _show_link(account: accounts.Account, token: str) -> ResponseReturnValue:
    # The token is shown this once; the accounts database keeps only its hash.
    link = url_for("setup.choose_password", token=token, _external=True)
    return _private(render_template("staff/admin_link.html", account=account, link=link, hours=LINK_HOURS))


@bp.route("/accounts/<int:account_id>/disable", methods=["POST"])
@admin_required
def disable(account_id: int) -> ResponseReturnValue:
    try:
        account = accounts.disable(accounts_db(), account_id, g.account)
    except accounts.AccountError as error:
        if error.code == "unknown_account":
            abort(404)
        return _account_list(error=_problem(error)[1], status=409)
    flash(_("%(name)s is disabled: the account cannot sign in until it is enabled again.", name=account.name))
    return redirect(url_for("admin.account_list"))


@bp.route("/accounts/<int:account_id>/enable", methods=["POST"])
@admin_required
def enable(account_id: int) -> ResponseReturnValue:
    try:
        account = accounts.enable(accounts_db(), account_id, g.account)
    except accounts.AccountError:
        abort(404)  # the only way enabling fails: there is no such account
    flash(_("%(name)s is enabled: the account can sign in again.", name=account.name))
    return redirect(url_for("admin.account_list"))


@bp.route("/audit")
@admin_required
def audit_log() -> ResponseReturnValue:
    db = accounts_db()
    pages = max(1, math.ceil(db.execute("select count(*) from audit_log").fetchone()[0] / AUDIT_PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    rows = db.execute(
        "select * from audit_log order by id desc limit ? offset ?", (AUDIT_PAGE_SIZE, (page - 1) * AUDIT_PAGE_SIZE)
    )
    zone = times.county_zone()
    entries = [_readable_entry(dict(row), zone) for row in rows]
    return render_template("staff/admin_audit.html", entries=entries, page=page, pages=pages)


def _readable_entry(row: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    before, after = _loaded(row["before"]), _loaded(row["after"])
    # With both a before and an after, what changed stands out; an entry with only one has nothing to compare.
    changed = {key for key in {*before, *after} if before.get(key) != after.get(key)} if before and after else set()
    return {**row, "when": times.when(row["at"], zone),
            "before": [(key, _shown(value, zone), key in changed) for key, value in before.items()],
            "after": [(key, _shown(value, zone), key in changed) for key, value in after.items()]}  # fmt: skip


def _loaded(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {"": value}


def _shown(value: Any, zone: ZoneInfo, limit: int = 200) -> str:
    """One value of an entry's before or after, as a person reads it (the CSV export has it as stored)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, str) and times.STORED_TIME.fullmatch(value):
        return times.when(value, zone)
    text = value if isinstance(value, str) else str(json.dumps(value, ensure_ascii=False))
    return text if len(text) <= limit else text[: limit - 1] + "…"


@bp.route("/audit.csv")
@admin_required
def audit_csv() -> ResponseReturnValue:
    """Every entry of the audit log, oldest first, for a spreadsheet."""
    rows = accounts_db().execute(f"select {', '.join(AUDIT_COLUMNS)} from audit_log order by id")  # noqa: S608
    day = f"{datetime.now(times.county_zone()):%Y-%m-%d}"
    return csv_download(f"audit-log-{day}.csv", [AUDIT_COLUMNS, *rows])


def csv_download(filename: str, rows: Iterable[Iterable[Any]]) -> Response:
    """Return *rows* (the first one the headings) as a CSV file that spreadsheets open as it is."""
    buffer = io.StringIO()
    buffer.write("\ufeff")  # the BOM tells Excel the file is UTF-8, so Chinese shows as Chinese
    csv.writer(buffer).writerows([_inert_cell(value) for value in row] for row in rows)
    return Response(buffer.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


def _inert_cell(value: Any) -> str:
    """Return *value* as CSV text that a spreadsheet shows and never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@setup_bp.route("/setup/<token>", methods=["GET", "POST"])
def choose_password(token: str) -> ResponseReturnValue:
    """Where the owner of a new account chooses its password, with a one-time link."""
    try:
        account = accounts.setup_link_account(accounts_db(), token)
        if request.method == "POST":
            accounts.use_setup_link(accounts_db(), token, _typed_password())
            flash(_("Your password is set. Sign in with your account name and the new password."))
            return redirect(url_for("auth.sign_in"))
    except accounts.SetupLinkInvalid as invalid:
        page = render_template("staff/setup_invalid.html", why=invalid.code, hours=LINK_HOURS)
        return _private(page, 404 if invalid.code == "link_unknown" else 410)
    except accounts.AccountError as error:
        field, message = _problem(error)
        return _private(_setup_form(account, {field: message}), 422)
    return _private(_setup_form(account, {}))


def _setup_form(account: accounts.Account, problems: dict[str, str]) -> str:
    return render_template("staff/setup.html", account=account, problems=problems, min_password=MIN_PASSWORD)


@own_bp.route("/my-password", methods=["GET", "POST"])
@login_required
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"])  # it checks a password: as many guesses as signing in
def my_password() -> ResponseReturnValue:
    """Where a signed-in account changes its own password; its sessions elsewhere end, this one goes on."""
    problems: dict[str, str] = {}
    if request.method == "POST":
        try:
            epoch = accounts.change_own_password(accounts_db(), g.account.id, request.form.get("current", ""),
                                                 _typed_password())  # fmt: skip
        except accounts.AccountError as error:
            field, message = _problem(error)
            problems[field] = message
        else:
            session["epoch"] = epoch
            flash(_("Your password is changed. Wherever else this account was signed in, it is signed out now."))
            return redirect(url_for(current_app.extensions["console"]["home"]))
    page = render_template("staff/my_password.html", problems=problems, min_password=MIN_PASSWORD)
    return _private(page, 422 if problems else 200)
