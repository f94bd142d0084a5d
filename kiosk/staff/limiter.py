"""The sign-in rate limit of the staff console and the county dashboard: so many tries per address in any minute
and in any hour.

A moving window (no burst fits across a window's edge), in this process's memory, counted per view and address;
a refused try is not counted. Its own module so that the villager screens, which have no sign-in, never load it.
Written here rather than with Flask-Limiter, whose storage layers (asyncio among them) cost a serving kiosk 4 MB
(issue 17, point 6).
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import request
from werkzeug.exceptions import TooManyRequests

RULE = re.compile(r"(\d+) per (second|minute|hour|day)")
SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
MAX_KEYS = 10_000  # views × addresses remembered; past it, the one longest untried is forgotten

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

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tries: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()  # least recently tried first
        self._lock = threading.Lock()  # the console's threads share it

    def limit(self, rule: str, methods: list[str]) -> Callable[[View], View]:
        """Limit a view's requests of *methods* (sign-in's POST) by *rule*."""
        limits = parse_rule(rule)

        def decorate(view: View) -> View:
            @functools.wraps(view)
            def limited(*args: Any, **kwargs: Any) -> Any:
                if request.method in methods:
                    wait = self.take(f"{view.__module__}.{view.__name__}", request.remote_addr or "", limits)
                    if wait is not None:
                        raise TooManyRequests(retry_after=wait)
                return view(*args, **kwargs)

            return cast(View, limited)

        return decorate

    def take(self, view: str, address: str, limits: list[tuple[int, int]]) -> int | None:
        """Count a try of *view* from *address* and return None, or the seconds until a try would be counted."""
        with self._lock:
            now, longest = self.clock(), max(seconds for _count, seconds in limits)
            tries = self._tries.pop((view, address), None) or deque(maxlen=max(count for count, _ in limits))
            while tries and tries[0] <= now - longest:
                tries.popleft()
            self._tries[(view, address)] = tries
            while len(self._tries) > MAX_KEYS:
                self._tries.popitem(last=False)
            waits = [tries[-count] + seconds - now for count, seconds in limits
                     if sum(1 for t in tries if t > now - seconds) >= count]  # fmt: skip
            if waits:
                return max(1, math.ceil(max(waits)))
            tries.append(now)
            return None

    def reset(self) -> None:
        """Forget every try (the tests' fresh start)."""
        with self._lock:
            self._tries.clear()


limiter = AddressLimiter()
