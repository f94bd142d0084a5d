"""The staff console's home: what needs doing. Notices and duties come in their own modules."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue

from kiosk.data.clock import screen_now
from kiosk.data.content_db import NoContent, get_db
from kiosk.data.duties import overdue
from kiosk.device.status import kiosk_status
from kiosk.staff.auth import local_db, login_required

bp = Blueprint("pages", __name__)


@bp.route("/")
@login_required
def home() -> ResponseReturnValue:
    """What needs doing: overdue disclosures first, then how the kiosk's content stands."""
    data_dir = Path(current_app.config["DATA_DIR"])
    try:
        late = overdue(get_db(), local_db(), screen_now().date())
    except NoContent:  # nothing installed yet: no county duties to be late with
        late = []
    return render_template("staff/home.html", overdue=late, status=kiosk_status(data_dir))
