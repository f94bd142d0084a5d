"""Signing in and out of the staff console (or the county's dashboard), and the guards every other page sits behind.

Each sign-in is logged: at INFO when it succeeds, at WARNING when it fails or meets a locked account,
with the name typed and the remote address, never the password.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from kiosk.data import accounts
from kiosk.data.local_db import open_local
from kiosk.screens.views import local_path
from kiosk.staff.limiter import limiter
from kiosk.web import request_db
from sync.contract.i18n import tr

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)
View = TypeVar("View", bound=Callable[..., ResponseReturnValue])
SIGN_IN_LIMIT = "10 per minute;50 per hour"  # per address, on top of the per-account lockout


class SignInForm(FlaskForm):
    name = StringField(_l("Account name"), validators=[DataRequired(), Length(max=40)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


def accounts_db() -> sqlite3.Connection:
    """The database holding this app's accounts and audit log, for this request (signed_in_pages chose it)."""
    opener: Callable[[], sqlite3.Connection] = current_app.extensions["accounts_db"]
    return opener()


def local_db() -> sqlite3.Connection:
    """The kiosk's local database, for this request."""
    return request_db("local", lambda: open_local(Path(current_app.config["DATA_DIR"]), migrate=False))


@bp.before_app_request
def _load_account() -> ResponseReturnValue | None:
    """Find who is signed in; end a session idle for longer than STAFF_IDLE_MINUTES."""
    g.account = None
    account_id = session.get("account_id")
    if account_id is None:
        return None
    idle_seconds = current_app.config["STAFF_IDLE_MINUTES"] * 60
    if time.time() - float(session.get("last_seen", 0)) > idle_seconds:
        session.clear()
        flash(_("You were signed out after a while without activity. Please sign in again."))
        return None
    g.account = accounts.get(accounts_db(), int(account_id))
    if g.account is None or session.get("epoch") != g.account.epoch:
        # Disabled or removed since, or signed out or given a new password since (maybe on another
        # device): this cookie, or a copy of it, no longer signs anyone in.
        g.account = None
        session.clear()
        return None
    session["last_seen"] = time.time()
    return None


def login_required(view: View) -> View:
    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if g.get("account") is None:
            return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(View, guarded)


def admin_required(view: View) -> View:
    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if g.get("account") is None:
            return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
        if not g.account.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return cast(View, guarded)


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"])
def sign_in() -> ResponseReturnValue:
    form = SignInForm()
    error = None
    if form.validate_on_submit():
        name = form.name.data or ""
        try:
            account = accounts.sign_in(accounts_db(), name, form.password.data or "")
        except accounts.Locked as locked:
            log.warning(tr("sign-in refused: account %(name)r is locked until %(until)s after repeated wrong passwords;"
                           " tried from %(address)s", name=name, until=f"{locked.until:%Y-%m-%d %H:%M} UTC",
                           address=request.remote_addr))  # fmt: skip
            minutes = max(1, round((locked.until.timestamp() - time.time()) / 60))
            error = _("Too many wrong passwords: this account is locked for %(minutes)d more minutes.", minutes=minutes)
        else:
            if account is None:
                log.warning(tr("sign-in refused: wrong account name or password for %(name)r from %(address)s",
                               name=name, address=request.remote_addr))  # fmt: skip
                error = _("The account name or the password is wrong.")
            else:
                log.info(tr("%(name)s (%(role)s) signed in from %(address)s", name=account.name, role=account.role,
                            address=request.remote_addr))  # fmt: skip
                language = session.get("lang")
                session.clear()  # a fresh session for the account; only the language chosen before is kept
                if language:
                    session["lang"] = language
                session.permanent = True
                session.update(account_id=account.id, epoch=account.epoch, last_seen=time.time())
                return redirect(_local_next(request.args.get("next")))
    form.password.data = ""  # what was typed stays, except the password
    return render_template("staff/sign_in.html", form=form, error=error), 200 if error is None else 401


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> ResponseReturnValue:
    if g.get("account") is not None:
        try:
            accounts.sign_out(accounts_db(), g.account.id)  # every copy of the cookie ends too, not only this one
        except sqlite3.OperationalError as error:  # a full disk: this browser is signed out all the same
            log.warning(tr("could not end the other sessions of %(name)s: %(error)s", name=g.account.name, error=error))
    session.clear()
    flash(_("You are signed out."))
    return redirect(url_for("auth.sign_in"))


def _local_next(target: str | None) -> str:
    """Return *target* when it is a path on this console, else the console's home."""
    return local_path(target) if target else url_for(current_app.extensions["console"]["home"])
