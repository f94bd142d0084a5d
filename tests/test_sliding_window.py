"""Limits count a moving window: no burst fits across the edge of a window, for sign-ins, ratings or slips."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.staff import create_staff_app
from kiosk.staff.limiter import limiter
from kiosk.web import SlidingWindow
from tests.test_staff import sign_in


def test_a_window_counts_each_key_once_spaces_events_and_forgets_after_its_length() -> None:
    now = [0.0]
    window = SlidingWindow(3, seconds=60, spacing=5, clock=lambda: now[0])
    assert window.take("a") is None
    now[0] = 1
    assert window.take("a") == "again", "the same key counts once"
    assert window.take("b") == "wait", "too soon after the last"
    now[0] = 5
    assert window.take("b") is None
    now[0] = 30
    assert window.take() is None
    now[0] = 59
    assert window.take() == "limit", "three in the last minute"
    now[0] = 60
    assert window.take("a") is None, "the first left the window: its key may come again"


def test_sign_in_guesses_are_counted_over_the_last_minute_not_a_fixed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_000_000.0]
    monkeypatch.setattr(limiter, "clock", lambda: now[0])  # let the test say what time it is
    app = create_staff_app({"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "x", "DEFAULT_LOCALE": "en"})
    client = app.test_client()
    assert sign_in(client, "nobody", "guess").status_code == 401
    now[0] += 50
    answers = [sign_in(client, "nobody", f"guess {n}").status_code for n in range(9)]
    assert answers == [401] * 9
    now[0] += 11  # a minute after the first guess: a fixed window would start again with ten more
    answers = [sign_in(client, "nobody", f"more {n}").status_code for n in range(2)]
    assert answers == [401, 429], "nine guesses in the last minute: one more, then wait"
