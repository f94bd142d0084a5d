"""Debian's Chromium for the browser tests: where it is, how it is started, the kiosk's screen."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import ViewportSize

CHROMIUM_PATHS = (Path("/usr/bin/chromium"), Path("/usr/lib/chromium/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",  # every request goes straight to 127.0.0.1, whatever proxy the environment names
]
KIOSK_SCREEN: ViewportSize = {"width": 1280, "height": 800}


def chromium_path() -> Path:
    """Return Debian's Chromium; `scripts/test` installs it (Playwright's own download is never used)."""
    for path in CHROMIUM_PATHS:
        if path.exists():
            return path
    raise AssertionError(f"no Chromium at {' or '.join(map(str, CHROMIUM_PATHS))}: apt-get install chromium")
