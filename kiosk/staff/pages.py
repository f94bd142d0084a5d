"""The staff console's home: what needs doing. Notices and duties come in their own modules."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from .auth import login_required

bp = Blueprint("pages", __name__)


@bp.route("/")
@login_required
def home() -> ResponseReturnValue:
    return render_template("staff/home.html")
