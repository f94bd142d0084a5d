"""Who may do what in the studio: each role's abilities, kept to the account's township when it has one.

An editor edits and submits; a reviewer also approves or sends back; a publisher also publishes; an
admin may do all of it. An account kept to a township (kiosk.data.accounts) works only on items of
that township or its villages; county-wide items are for accounts of the whole county, and so is
moving an item from one township (or the county) to another.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from flask import abort, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from kiosk.data.accounts import Account
from sync.authoring import checking
from sync.contract.schemas import Problem

ABILITIES = {
    "staff": frozenset(),
    "editor": frozenset({"edit"}),
    "reviewer": frozenset({"edit", "review"}),
    "publisher": frozenset({"edit", "review", "publish"}),
    "admin": frozenset({"edit", "review", "publish"}),
}
View = Callable[..., ResponseReturnValue]


def can(account: Account | None, ability: str, township: str | None = None) -> bool:
    """Whether *account* may *ability* (edit, review, publish) an item of *township* ("" county-wide; None: any)."""
    if account is None or ability not in ABILITIES.get(account.role, frozenset()):
        return False
    return not account.township or township is None or township == account.township


def scope_of(before: str | None, after: str) -> str:
    """The township a change belongs to, moving an item from *before* (None: a new item) to *after*.

    An item that moves between townships, or into or out of the county's own, leaves one scope for
    another: that is the county's to do ("").
    """
    return after if before is None or before == after else ""


def content_dir() -> Path | None:
    """The county's content folder the studio works on (kiosk county serve --content), if it was given."""
    folder = current_app.config.get("CONTENT_DIR")
    return Path(folder) if folder else None


def staged_dir() -> Path:
    """The folder of the photos uploaded with drafts (kiosk/county/studio/photos.py), in the server's data folder."""
    return Path(current_app.config["DATA_DIR"]) / "studio-media"


def check(path: str, text: str, schema: str) -> list[Problem]:
    """The problems `kiosk county validate` would find in the content folder's file *path* holding *text*."""
    return checking.check(content_dir() or abort(503), path, text, schema, staged=staged_dir())


def studio_page(view: View) -> View:
    """Guard a studio page: signed in, a role of the studio, and a content folder to work on."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if g.get("account") is None:
            return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
        if not can(g.account, "edit"):
            abort(403)
        if content_dir() is None:
            return render_template("studio/no_content.html"), 503
        return view(*args, **kwargs)

    return cast(View, guarded)
