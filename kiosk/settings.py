"""Every setting of the kiosk, declared once: name, default, help, and how its text is read.

The same table gives Flask's config defaults, the KIOSK_* environment overrides, the
command-line help and the README's settings section (a test checks they agree). A value from
the environment is read by its kind (a whole number in a range, yes or no, one of a few
choices, a folder, a window of hours); one it cannot be is refused with the variable, the
value and what it takes, never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any

from sync.contract.i18n import tr

# Reads a variable's text (variable, text); raises ValueError naming both and saying what it takes.
Read = Callable[[str, str], Any]


def whole(least: int = 0, most: int | None = None) -> Read:
    """Read a whole number from *least* to *most* (no upper bound when None)."""

    def read(variable: str, value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            number = None
        if number is not None and number >= least and (most is None or number <= most):
            return number
        if most is not None:
            raise ValueError(tr("%(variable)s=%(value)r: a whole number is needed, from %(least)s to %(most)s",
                                variable=variable, value=value, least=least, most=most))  # fmt: skip
        if least:
            raise ValueError(tr("%(variable)s=%(value)r: a whole number is needed, at least %(least)s",
                                variable=variable, value=value, least=least))  # fmt: skip
        raise ValueError(tr("%(variable)s=%(value)r: a whole number is needed", variable=variable, value=value))

    return read


_YES, _NO = ("1", "yes", "true", "on"), ("0", "no", "false", "off")


def yes_or_no(variable: str, value: str) -> int:
    """Read 1 or 0 (yes/no, true/false and on/off too, in any case) as 1 or 0."""
    word = value.strip().lower()
    if word not in _YES + _NO:
        raise ValueError(tr("%(variable)s=%(value)r: 1 (yes) or 0 (no) is needed", variable=variable, value=value))
    return int(word in _YES)


def one_of(choices: Iterable[str], upper: bool = False) -> Read:
    """Read one of *choices* (put in capitals first, if *upper*)."""
    allowed = tuple(choices)

    def read(variable: str, value: str) -> str:
        word = value.strip().upper() if upper else value.strip()
        if word not in allowed:
            raise ValueError(tr("%(variable)s must be one of %(choices)s, not %(value)r",
                                variable=variable, choices=", ".join(allowed), value=value))  # fmt: skip
        return word

    return read


def absolute_folder(path: str | os.PathLike[str]) -> str:
    """Return *path* made absolute once, against the working folder at start; a leading ~ is the user's home.

    Everything after start gets this absolute path: Flask resolves a relative file it sends against
    the kiosk package, not the working folder, so a relative data folder lost audio and photos.
    """
    return os.path.abspath(os.path.expanduser(os.fspath(path).strip()))


def folder(_variable: str, value: str) -> str:
    """Read a folder's path, made absolute (systemd and env files do not expand a leading ~)."""
    return absolute_folder(value)


def parse_window(text: str) -> tuple[time, time]:
    """Parse 'HH:MM-HH:MM' (it may wrap past midnight, e.g. 23:00-03:00)."""
    try:
        start, end = (datetime.strptime(part.strip(), "%H:%M").time() for part in text.split("-"))
    except ValueError:
        raise ValueError(tr("KIOSK_SYNC_WINDOW must look like 01:00-05:00, not %(value)r", value=text)) from None
    if start == end:
        raise ValueError(tr("KIOSK_SYNC_WINDOW must not be empty: %(value)r", value=text))
    return start, end


def hours(_variable: str, value: str) -> str:
    """Read a window of hours, HH:MM-HH:MM, kept as written: the nightly sync reads it with parse_window."""
    parse_window(value)
    return value.strip()


def text(_variable: str, value: str) -> str:
    return value


def database_url(variable: str, value: str) -> str:
    """Read a PostgreSQL database's URL (postgresql://user@host:port/name)."""
    if not value.strip().startswith(("postgresql://", "postgres://")):
        raise ValueError(f"{variable} must be a PostgreSQL URL, postgresql://USER@HOST:PORT/DATABASE: {value[:60]!r}")
    return value.strip()


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    read: Read = text

    @property
    def env(self) -> str:
        return f"KIOSK_{self.name}"


def app_version() -> str:
    """The version of the kiosk software running (its wheel's), or "unknown" outside an installed package."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("village-kiosk")
    except PackageNotFoundError:
        return "unknown"


def default_data_dir() -> str:
    """Return the per-user data directory: $XDG_DATA_HOME/village-kiosk or ~/.local/share/village-kiosk."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "village-kiosk")


LOCALES = {"zh": "简体中文", "en": "English"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
PORT = whole(1, 65535)

SETTINGS = [
    Setting(
        "DATA_DIR",
        None,
        "Where the kiosk keeps its content, media and state (default: ~/.local/share/village-kiosk);"
        " a relative path is taken from the folder the command starts in.",
        folder,
    ),
    Setting(
        "HOST", "127.0.0.1", "Address the villager screens listen on; keep it on loopback for the kiosk's own browser."
    ),
    Setting("PORT", 8080, "Port of the villager screens.", PORT),
    Setting(
        "STAFF_HOST",
        "127.0.0.1",
        "Address of the staff console; set it to the centre's LAN address to reach it from staff phones there.",
    ),
    Setting("STAFF_PORT", 8081, "Port of the staff console (never the villager screens' port).", PORT),
    Setting("STAFF_IDLE_MINUTES", 30, "Minutes without activity after which a staff member is signed out.", whole(1)),
    Setting(
        "DEFAULT_LOCALE",
        "zh",
        "Language of the screens before anyone switches, and of the kiosk command: zh or en.",
        one_of(LOCALES),
    ),
    Setting("PAGE_SIZE", 12, "Entries per page in the lists of power items and notices.", whole(1)),
    Setting(
        "IDLE_SECONDS", 90, "Seconds without a touch before the screen offers to reset for the next person.", whole(1)
    ),
    Setting("THREADS", 4, "Worker threads of the web server (waitress).", whole(1)),
    Setting(
        "LOG_LEVEL",
        "INFO",
        "What kiosk serve and kiosk county serve write to their log (stderr, the journal under systemd):"
        " DEBUG, INFO, WARNING or ERROR.",
        one_of(LOG_LEVELS, upper=True),
    ),
    Setting("SYNC_NIGHTLY", 1, "1: kiosk serve syncs once a night inside SYNC_WINDOW; 0: never by itself.", yes_or_no),
    Setting(
        "SYNC_WINDOW", "01:00-05:00", "Local hours for the nightly sync; each kiosk picks a random minute in it.", hours
    ),
    Setting(
        "SYNC_ATTEMPTS", 6, "Tries per file before a sync gives up (with exponential backoff and jitter).", whole(1)
    ),
    Setting("SYNC_CONNECT_TIMEOUT", 10, "Seconds to wait for the county server to accept a connection.", whole(1)),
    Setting("SYNC_READ_TIMEOUT", 30, "Seconds to wait for the next bytes of a download.", whole(1)),
    Setting(
        "SYNC_DEADLINE",
        1800,
        "Seconds a whole sync may take before it stops (what arrived is resumed next "
        "time), so a server that sends a byte now and then cannot hold it; 0: no deadline.",
        whole(),
    ),
    Setting(
        "REPORT_MINUTES",
        60,
        "Minutes between kiosk serve's reports to the county server while enrolled (give or take a little,"
        " so a county's kiosks do not all call at once), besides the report after each sync; 0: only after syncs.",
        whole(),
    ),
    Setting(
        "PROXY_HOPS",
        0,
        "Reverse proxies in front of the server (e.g. 1 for nginx); their X-Forwarded-For and -Proto headers are"
        " trusted, so sign-in limits count each visitor rather than the proxy. 0: no proxy, headers ignored.",
        whole(),
    ),
    Setting(
        "PROXY_ADDRESS",
        "127.0.0.1",
        "Address the reverse proxy connects from (with PROXY_HOPS above 0): only its X-Forwarded-* headers are"
        " believed; any other caller's are dropped.",
    ),
    Setting(
        "COUNTY_CLOCK_HOURS",
        24,
        "County server: a kiosk's signed request is refused when the kiosk's clock differs from the county's by"
        " more than this many hours (the refusal says so, to fix the kiosk's clock); replay records older than"
        " twice this are forgotten.",
        whole(1),
    ),
    Setting(
        "COUNTY_KIOSK_MB_PER_DAY",
        32,
        "County server: megabytes of reports and uploads one kiosk may send per day (UTC); beyond, 429 until"
        " midnight. A month's backlog of a large village takes a day or two.",
        whole(1),
    ),
    Setting(
        "COUNTY_KIOSK_ITEMS_PER_DAY",
        100000,
        "County server: uploaded items one kiosk may send per day (UTC).",
        whole(1),
    ),
    Setting(
        "COUNTY_KIOSK_REQUESTS_PER_MINUTE",
        600,
        "County server: signed requests one kiosk may make per minute (a kiosk back after two months offline"
        " sends about 200 batches at once; the daily quotas bound what they may hold).",
        whole(1),
    ),
    Setting(
        "COUNTY_KEEP_DAYS",
        90,
        "County server: days kiosks' reports, ratings, village notice changes, display logs and set-aside uploads"
        " are kept as received; after that only the dashboard's daily rating counts and display log counts, the"
        " early takedowns judged, each notice's latest change and each kiosk's latest report and display log"
        " remain. 0: keep everything.",
        whole(),
    ),
    # 400: a year's period on the dashboard (its longest) chosen a month late still finds every day.
    Setting(
        "COUNTY_USAGE_KEEP_DAYS",
        400,
        "County server: days of what villagers looked for kept, per village and county-wide (the dashboard shows"
        " a period of at most a year); older days' counts are dropped, a batch at a time. 0: keep everything.",
        whole(),
    ),
    Setting(
        "COUNTY_DATABASE_URL",
        "",
        "County server: its database on PostgreSQL, postgresql://USER@HOST:PORT/DATABASE (password in ~/.pgpass or"
        " PGPASSWORD; the database made with --locale=C.UTF-8), shared by several server processes. Empty: county.db"
        " in the data folder (SQLite).",
        database_url,
    ),
    Setting(
        "SECURE_COOKIES",
        0,
        "1: session cookies are sent over HTTPS only. Set it when the server is reached through TLS, as a county"
        " server on the internet must be.",
        yes_or_no,
    ),
    Setting(
        "RELEASES_DIR",
        "/opt/village-kiosk/releases",
        "Where kiosk update installs software releases, one folder each, with the symlinks current (what the"
        " service runs) and previous.",
        folder,
    ),
    Setting(
        "RESTART_COMMAND",
        "systemctl restart village-kiosk.service",
        "The command kiosk update runs to restart the screens on a new release (empty: none).",
    ),
    Setting(
        "UPDATE_NIGHTLY",
        1,
        "1: after each nightly sync that reached the repository, kiosk serve asks for kiosk update by writing"
        " DATA/software/update-requested (deploy/village-kiosk-update.path runs it); 0: only when typed.",
        yes_or_no,
    ),
    Setting(
        "UPDATE_CONFIRM_SECONDS",
        60,
        "Seconds a new release's screens have to answer after the restart; past them, kiosk update switches back.",
        whole(1),
    ),
    # 3: one kiosk failing a release may be that kiosk's own trouble (a slow board past UPDATE_CONFIRM_SECONDS, a
    # worn card); three failing the same release are the release. A first rollout to a handful of villages
    # then stops before a wider share takes it, and at most three villages saw a failing release for a minute.
    Setting(
        "RELEASE_PAUSE_AFTER",
        3,
        "County server: an active kiosk software release pauses itself once this many kiosks report that it failed"
        " its install or self-check, or was switched back (a download that failed is the network's or the disk's,"
        " and is not counted); the pause is signed with the server's keys (kiosk county serve --keys). 0: never by"
        " itself.",
        whole(),
    ),
    Setting(
        "USAGE_COUNTS",
        1,
        "1: the screens count, per day, the matters opened, the guide endings reached and the searches that found"
        " nothing, and send each day's totals to the county (the kiosk's /about page says what is and is not"
        " kept); 0: nothing is counted.",
        yes_or_no,
    ),
    Setting(
        "PRINTER",
        "",
        "Receipt printer for the Print button on detail pages: usb:VENDOR:PRODUCT (hex ids), serial:DEVICE,"
        " network:HOST[:PORT] or file:PATH; empty: no printer, no button.",
    ),
]


class SettingError(ValueError):
    """A setting from the environment is not a value it can take; the message names it."""


def fetcher_options(settings: dict[str, Any]) -> dict[str, Any]:
    """Return the download settings in the form sync_kiosk takes them."""
    return {
        "attempts": settings["SYNC_ATTEMPTS"],
        "connect_timeout": settings["SYNC_CONNECT_TIMEOUT"],
        "read_timeout": settings["SYNC_READ_TIMEOUT"],
        "deadline": settings["SYNC_DEADLINE"] or None,
    }


def waitress_proxy_options(settings: dict[str, Any]) -> dict[str, Any]:
    """Return waitress's options for PROXY_HOPS: believe the proxy's X-Forwarded-* headers, and only the proxy's.

    waitress drops these headers unless told which proxy to trust, so without this every visitor
    would seem to come from the proxy and share one sign-in limit. It keeps the last PROXY_HOPS
    addresses of X-Forwarded-For, which ProxyFix (same hop count) then reads to the same client.
    """
    hops = int(settings["PROXY_HOPS"])
    if hops <= 0:
        return {}
    return {
        "trusted_proxy": settings["PROXY_ADDRESS"],
        "trusted_proxy_count": hops,
        "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"},
        "clear_untrusted_proxy_headers": True,
    }


def load_settings(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Return every setting: its default, overridden by KIOSK_<NAME> from the environment."""
    environ = dict(os.environ) if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw in (None, ""):
            values[setting.name] = setting.default
            continue
        try:
            values[setting.name] = setting.read(setting.env, raw)
        except ValueError as error:  # what the variable is for, too: the reader may not know it
            raise SettingError(f"{error} ({setting.help})") from None
    values["DATA_DIR"] = values["DATA_DIR"] or absolute_folder(default_data_dir())
    return values


def setting(name: str, environ: dict[str, str] | None = None) -> Any:
    """Return one setting (load_settings reads them all), for code that runs outside the apps: county.db's opener."""
    found = next(s for s in SETTINGS if s.name == name)
    raw = (os.environ if environ is None else environ).get(found.env)
    if raw in (None, ""):
        return found.default
    try:
        return found.read(found.env, raw)
    except ValueError as error:
        raise SettingError(f"{error} ({found.help})") from None


def configure_logging(settings: dict[str, Any]) -> None:
    """Send the servers' log to stderr (the journal under systemd) at LOG_LEVEL."""
    import logging

    logging.basicConfig(level=settings["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
