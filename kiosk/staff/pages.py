"""The staff console's home: what needs doing. Notices and duties come in their own modules."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, render_template, request, session
from flask.typing import ResponseReturnValue

from ..content_db import NoContent, get_db
from ..screens import local_path
from ..settings import LOCALES
from .auth import local_db, login_required

bp = Blueprint("pages", __name__)


@bp.route("/")
@login_required
def home() -> ResponseReturnValue:
    """What needs doing: overdue disclosures first, then how the kiosk's content stands."""
    from ..cli_kiosk import kiosk_status
    from .duties import overdue
    from .notice_views import _now

    data_dir = Path(current_app.config["DATA_DIR"])
    try:
        late = overdue(get_db(), local_db(), _now().date())
    except NoContent:  # nothing installed yet: no county duties to be late with
        late = []
    return render_template("staff/home.html", overdue=late, status=kiosk_status(data_dir))


@bp.route("/lang/<code>")
def switch_language(code: str) -> ResponseReturnValue:
    """Switch the console's language (it keeps its own session, apart from the villager screens')."""
    if code not in LOCALES:
        abort(404)
    session["lang"] = code
    return redirect(local_path(request.args.get("next", "/")))
