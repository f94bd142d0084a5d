"""What the screens count of what villagers looked for (kiosk/data/usage.py): items opened, guide endings reached,
searches that found nothing.

An item or an ending counts once per session (the idle reset ends it): opening the rating panel, switching the
language or elder mode shows the page again without counting it again. The session remembers the
pages it counted as short digests, never their names.

Search runs as letters are tapped, so "ylbx" arrives as y, yl, ylb, ylbx: counting each that found
nothing would count one search three times. A search that found nothing waits in the session; the next
letters replace it while they only add to or take from it, and it is counted when the villager moves
on: another search, another page, or the idle reset. A search that found something is never counted.
"""

from __future__ import annotations

import hashlib

from flask import current_app, session

from kiosk.data import usage

SEEN_KEY = "counted"  # digests of the pages this session counted, one string: a list costs each answer's cookie more
DIGEST = 8  # characters of a digest
REMEMBERED = 60  # digests kept: 480 characters, well under the cookie's 4 KB with the rest
UNFOUND_KEY = "unfound"  # the search that found nothing, waiting to be counted


def seen(kind: str, key: str) -> None:
    """Count an item opened (a whole page: kind "page"), or a guide's ending reached, once in this session."""
    if not current_app.config.get("COUNT_LOOKS"):  # a preview in the staff console or the studio
        return
    digest = hashlib.sha256(f"{kind}/{key}".encode()).hexdigest()[:DIGEST]
    seen = session.get(SEEN_KEY)
    seen = seen if isinstance(seen, str) else ""
    if any(seen[at : at + DIGEST] == digest for at in range(0, len(seen), DIGEST)):
        return
    session[SEEN_KEY] = (seen + digest)[-REMEMBERED * DIGEST :]
    usage.count(None, kind, key)


def searched(query: str, found: bool) -> None:
    """Note a search as it was typed: one that found nothing waits, and the one before is counted if it ends here."""
    if not current_app.config.get("COUNT_LOOKS"):
        return
    waiting = session.get(UNFOUND_KEY)
    query = query.strip().lower()
    same_search = isinstance(waiting, str) and bool(query) and (query.startswith(waiting) or waiting.startswith(query))
    if same_search and found:
        return  # letters taken back to what finds something: the one that found nothing may still stand
    if not same_search:
        left_search()
    if not found and query and (not same_search or len(query) >= len(str(waiting))):
        session[UNFOUND_KEY] = query


def left_search() -> None:
    """Count the search that found nothing, if one waits: the villager has moved on."""
    waiting = session.pop(UNFOUND_KEY, None) if current_app.config.get("COUNT_LOOKS") else None
    if isinstance(waiting, str) and waiting:
        usage.count(None, "search_none", waiting)
