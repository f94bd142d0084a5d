"""bench.county's county officer: signs in and times every dashboard page, as an officer opens them."""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

DASHBOARD_TARGET_S = 2.0  # the slowest dashboard page an officer should wait for (our own target)
DASHBOARD_REPEATS = 5
HTTP_TIMEOUT_S = 30.0
OFFICER, OFFICER_PASSWORD = "bench", "a bench password of some length"


def dashboard_pages(history_days: int) -> list[str]:
    """The dashboard's pages as an officer opens them: the last 30 days, and the whole history on two."""
    pages = ["/dashboard/", "/dashboard/villages", "/dashboard/feedback", "/dashboard/feedback-items.csv",
             "/dashboard/looked-for/", "/dashboard/looked-for/not-found.csv"]  # fmt: skip
    if history_days > 30:
        today = datetime.now(UTC).date()
        span = f"from={today - timedelta(days=history_days)}&to={today}"
        pages += [f"/dashboard/villages?{span}", f"/dashboard/feedback?{span}", f"/dashboard/looked-for/?{span}"]
    return pages


def add_officer(data_dir: Path, url: str | None = None) -> None:
    from kiosk.county.store import open_store
    from kiosk.data import accounts

    db = open_store(data_dir, url=url)  # the dashboard's accounts are in county.db
    try:
        accounts.add(db, OFFICER, "admin", OFFICER_PASSWORD, actor="bench")
    finally:
        db.close()


def dashboard_times(port: int, pages: list[str]) -> dict[str, tuple[float, int]]:
    """Sign in, then load each dashboard page DASHBOARD_REPEATS times; return its slowest seconds and its size."""
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = opener.open(f"{base}/sign-in", timeout=HTTP_TIMEOUT_S).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert token, "the sign-in form has its CSRF token"
    data = urllib.parse.urlencode({"name": OFFICER, "password": OFFICER_PASSWORD, "csrf_token": token.group(1)})
    signed_in = opener.open(f"{base}/sign-in", data=data.encode(), timeout=HTTP_TIMEOUT_S)
    assert signed_in.url.endswith("/dashboard/"), f"sign-in failed: {signed_in.url}"
    times = {}
    for page in pages:
        slowest, size = 0.0, 0
        for _repeat in range(DASHBOARD_REPEATS):
            started = time.perf_counter()
            size = len(opener.open(base + page, timeout=HTTP_TIMEOUT_S).read())
            slowest = max(slowest, time.perf_counter() - started)
        times[page] = (slowest, size)
    return times
