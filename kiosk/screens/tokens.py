"""A per-session token for the forms on villager screens (print a slip, rate a service).

Villagers never sign in, so a form cannot prove who sent it; the token proves it came from a page
this kiosk rendered in this session, which keeps other sites from posting through the kiosk's
browser (the session cookie is also SameSite=Strict). A session reset makes a new one.
"""

from __future__ import annotations

import secrets

from flask import abort, request, session

TOKEN_KEY = "form_token"  # noqa: S105 - the name of a session key, not a secret


def form_token() -> str:
    """Return this session's token for forms, making it on first use."""
    token = session.get(TOKEN_KEY)
    if not isinstance(token, str):
        token = session[TOKEN_KEY] = secrets.token_urlsafe(24)
    return token


def require_form_token() -> None:
    """Answer 400 unless the posted form carries this session's token."""
    token = session.get(TOKEN_KEY)
    if not isinstance(token, str) or not secrets.compare_digest(token, request.form.get("token", "")):
        abort(400)
