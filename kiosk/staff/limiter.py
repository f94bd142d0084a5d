"""The sign-in rate limit of the staff console and the county dashboard: so many tries per address in any minute
and in any hour.

A moving window (no burst fits across a window's edge), counted per view and address in the accounts' database
(kiosk/data/sign_in_tries.py), so that the county's several server processes share one count; a refused try is
not counted. Its own module so that the villager screens, which have no sign-in, never load it. Written here
rather than with Flask-Limiter, whose storage layers (asyncio among them) cost a serving kiosk 4 MB (issue 17,
point 6).
"""

from __future__ import annotations

import functools
import re
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import current_app, request
from werkzeug.exceptions import TooManyRequests

from kiosk.data import sign_in_tries

RULE = re.compile(r"(\d+) per (second|minute|hour|day)")
SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}

View = TypeVar("View", bound=Callable[..., Any])


def parse_rule(rule: str) -> list[tuple[int, int]]:
    """Read "10 per minute;50 per hour" as [(10, 60), (50, 3600)]."""
    limits = []
    for part in rule.split(";"):
        found = RULE.fullmatch(part.strip())
        if found is None or int(found[1]) < 1:
            raise ValueError(f"not a rate limit: {part!r} (say, for example, '10 per minute;50 per hour')")
        limits.append((int(found[1]), SECONDS[found[2]]))
    return limits


class AddressLimiter:
    """Count tries per view and address; refuse one past a limit with 429 and when to try again."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # the wall clock: the processes of a county server share it, not a monotonic one

    def limit(self, rule: str, methods: list[str]) -> Callable[[View], View]:
        """Limit a view's requests of *methods* (sign-in's POST) by *rule*."""
        limits = parse_rule(rule)

        def decorate(view: View) -> View:
            @functools.wraps(view)
            def limited(*args: Any, **kwargs: Any) -> Any:
                if request.method in methods:
                    accounts_db: Callable[[], sqlite3.Connection] = current_app.extensions["accounts_db"]
                    name = f"{view.__module__}.{view.__name__}"
                    wait = sign_in_tries.take(accounts_db(), name, request.remote_addr or "", limits, self.clock())
                    if wait is not None:
                        raise TooManyRequests(retry_after=wait)
                return view(*args, **kwargs)

            return cast(View, limited)

        return decorate


limiter = AddressLimiter()
