"""Debian's Chromium for the browser tests: where it is, how it is started, the kiosk's screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Route, ViewportSize

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


def guarded(browser: Browser, allowed: str, **options: Any) -> tuple[BrowserContext, list[str], list[str]]:
    """A browser context that may reach only *allowed*; it records what else was asked for and any error."""
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    outside: list[str] = []
    errors: list[str] = []

    def keep_inside(route: Route) -> None:
        if route.request.url.startswith(f"{allowed}/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def record_error(message: ConsoleMessage) -> None:
        # Chromium logs Content-Security-Policy refusals and failed loads as console errors.
        if message.type == "error":
            errors.append(f"{message.location.get('url')}: {message.text}")

    context.route("**/*", keep_inside)
    context.on("console", record_error)
    return context, outside, errors
