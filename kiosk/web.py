"""What the kiosk's three web apps share: settings, a secret key per install, languages, headers."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from flask import Flask, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_babel import Babel, get_locale
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import safe_join

from kiosk.settings import LOCALES, absolute_folder, load_settings
from kiosk.templating import KioskEnvironment, translate_pages
from sync.contract.files import fsync_directory

csrf = CSRFProtect()  # every POST of every app carries a token; the county's signed kiosk API is exempt
log = logging.getLogger(__name__)


class SlidingWindow:
    """Admit at most *limit* events in any *seconds* (a moving window), in this process, whoever asks.

    What the sign-in limiter (kiosk/staff/limiter.py) cannot say: a limit for the whole kiosk rather than per address,
    an event counted once per *key* while it is in the window, and *spacing* seconds between two.
    It keeps one time per admitted event: at most *limit* of them.
    """

    def __init__(
        self, limit: int, seconds: float = 3600, spacing: float = 0.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.seconds, self.spacing, self.clock = limit, seconds, spacing, clock
        self._admitted: OrderedDict[Hashable, float] = OrderedDict()  # key -> when, oldest first
        self._lock = threading.Lock()  # two taps at once: the second must see the first

    def take(self, key: Hashable | None = None) -> Literal["again", "wait", "limit"] | None:
        """Count one event and return None, or say why not: *key* counted already, too soon, or the window full."""
        with self._lock:
            now = self.clock()
            while self._admitted and next(iter(self._admitted.values())) <= now - self.seconds:
                self._admitted.popitem(last=False)
            if key is not None and key in self._admitted:
                return "again"
            if self._admitted and now - next(reversed(self._admitted.values())) < self.spacing:
                return "wait"
            if len(self._admitted) >= self.limit:
                return "limit"
            self._admitted[object() if key is None else key] = now
            return None


def secret_key(data_dir: Path, name: str = "secret_key") -> str:
    """Return this install's secret key *name*, generating it on first use (never committed)."""
    path = data_dir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    # Written whole under a temporary name, then linked into place: of two processes starting
    # at once, one key wins and both read it; nobody ever reads a half-written key. Not atomic_write:
    # its rename replaces, so the second process would swap the key the first already signs with.
    if not path.exists():
        temporary = data_dir / f".{name}.{secrets.token_hex(6)}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
        fsync_directory(data_dir)  # a power cut must not lose the key the sessions were signed with
    return path.read_text().strip()


def request_db(name: str, opener: Callable[[], sqlite3.Connection], close: bool = True) -> sqlite3.Connection:
    """Return this request's connection *name*, opened by *opener* on first use, closed when the request ends.

    :param close: False for a connection someone else keeps (the screens keep one per thread to the
        installed content): the request only forgets it.
    """
    opened: dict[str, tuple[sqlite3.Connection, bool]] = g.setdefault("request_dbs", {})
    if name not in opened:
        opened[name] = (opener(), close)
    return opened[name][0]


def opened_request_db(name: str) -> sqlite3.Connection | None:
    """Return this request's connection *name* if it was opened, else None."""
    opened: dict[str, tuple[sqlite3.Connection, bool]] = g.get("request_dbs", {})
    return opened[name][0] if name in opened else None


def close_request_dbs(_error: BaseException | None = None) -> None:
    """Close the connections this request opened (each app runs this when a request ends)."""
    opened: dict[str, tuple[sqlite3.Connection, bool]] = g.pop("request_dbs", {})
    for name, (connection, close) in opened.items():
        if close:
            try:
                connection.close()
            except sqlite3.Error:  # the others must still be closed
                log.exception("could not close this request's database %s", name)


def select_locale() -> str:
    """Use the language chosen on this kiosk session, else the configured default."""
    from flask import current_app

    chosen = session.get("lang")
    return chosen if chosen in LOCALES else str(current_app.config["DEFAULT_LOCALE"])


def security_headers(response: Any) -> Any:
    """Defence in depth: a page may load nothing from outside the kiosk (nothing is requested at run time)."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


QUERY_SAFE = "!$'()*,/:;?@"  # what werkzeug's url builder leaves unquoted in a query (werkzeug.urls._urlencode)


def query_string(**values: str) -> str:
    """Return *values* as url_for writes them into an address's query, after its '?'.

    A page's links that come back to it (next=) quote its address once this way and add it to addresses that
    url_for remembers: built with next= each, a page never seen before built every one of them anew.
    """
    return urlencode(values, safe=QUERY_SAFE)


class FrameQuietSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, but an answer marked quiet (`quiet_session()`) never re-sends the cookie.

    Every signed-in answer re-sends the session (its idle time is renewed on each request). A frame loading
    beside its page (the console's preview of a notice on the kiosk) can answer after a form sent from that
    page, and its cookie, the session as it was before the form, replaced the form's: the flashed "Published"
    was lost. A frame never changes who is signed in or what they were told; the page around it renews the
    idle time.
    """

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        return not g.get("quiet_session") and not _a_subresource() and super().should_set_cookie(app, session)


# What a page asks for besides itself, as browsers name it in Sec-Fetch-Dest (a fetch() is "empty": not here).
SUBRESOURCES = frozenset({"style", "script", "image", "font", "iframe", "frame", "audio", "video", "track"})


def _a_subresource() -> bool:
    """Tell whether this request is a stylesheet, script, picture or frame that a page asked for. Its answer may
    come after a form sent from that page (the frame's do, and the frame's own stylesheet and photos after them),
    so it must not put back the session as it was before the form. Static files are known by their address in any
    browser; the rest by the Sec-Fetch-Dest header browsers send."""
    return request.endpoint == "static" or request.headers.get("Sec-Fetch-Dest", "") in SUBRESOURCES


def quiet_session() -> None:
    """Send no session cookie with this answer (see FrameQuietSessions)."""
    g.quiet_session = True


class KioskFlask(Flask):
    """Flask whose static files are addressed by what they hold, so a browser keeps them instead of asking again.

    ``url_for('static', filename=...)`` adds ``v``, a digest of the file; an answer to an address with the
    file's current digest may be kept for a year. A kiosk's browser then opens each page without asking for
    its stylesheet and scripts again (a revalidation each, on the board's one slow CPU), and a software release
    whose file changed gives it a new address.
    """

    STATIC_MAX_AGE = 365 * 24 * 3600
    jinja_environment = KioskEnvironment

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.url_defaults(self._add_static_digest)
        self.static_digests: dict[str, str] = {}  # the files' digests: files never change while running
        self._urls: dict[tuple[Any, ...], str] = {}  # see url_for

    URLS_KEPT = 2048  # addresses remembered, each of at most URL_KEPT_CHARS: under 2 MB in all
    URL_KEPT_CHARS = 256  # a longer address is not kept: its arguments may be a stranger's (next=, the query)

    def url_for(
        self,
        /,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: Any,
    ) -> str:
        """Flask's url_for, remembered: a page asks for the same few addresses every time (a detail page 14, the
        search page's keyboard 30), and werkzeug builds each anew, about a tenth of a page's time.

        Within a request an address is a path, and depends on nothing but the arguments, the app's root
        (``script_root``) and, for an endpoint relative to a blueprint, the request's blueprint. A full address
        (``_external``, ``_scheme``), one built outside a request, or arguments that are not hashable are built
        each time. So is a long one: a page's own address goes into some (``next=``, a phone page's query), and a
        stranger's 60 KB addresses must not fill the memory (every value appears in the address, so its length
        bounds the key's too).
        """
        if _external or _scheme is not None or not has_request_context():
            return super().url_for(
                endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external, **values
            )
        blueprint = request.blueprint if endpoint[:1] == "." else None  # only a relative endpoint needs it
        # Each value with its type: 1, 1.0 and True are equal keys but different addresses.
        key = (
            request.script_root,
            blueprint,
            endpoint,
            _anchor,
            _method,
            *((k, type(v), v) for k, v in sorted(values.items())),
        )
        try:
            url = self._urls.get(key)
        except TypeError:  # a list or a dict among the values
            return super().url_for(endpoint, _anchor=_anchor, _method=_method, **values)
        if url is None:
            url = super().url_for(endpoint, _anchor=_anchor, _method=_method, **values)
            if len(url) <= self.URL_KEPT_CHARS:
                if len(self._urls) >= self.URLS_KEPT:
                    self._urls.clear()
                self._urls[key] = url
        return url

    def static_digest(self, filename: str) -> str:
        """A digest of the static file *filename*, '' for no such file (not kept: any name can be asked for)."""
        if filename not in self.static_digests:
            path = safe_join(self.static_folder or "", filename)
            try:
                content = Path(path).read_bytes() if path else None
            except OSError:
                content = None
            if content is None:
                return ""
            self.static_digests[filename] = hashlib.sha256(content).hexdigest()[:16]
        return self.static_digests[filename]

    def _add_static_digest(self, endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "v" not in values and (digest := self.static_digest(str(values.get("filename")))):
            values["v"] = digest

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        if filename and request.args.get("v") == self.static_digest(filename) != "":
            return self.STATIC_MAX_AGE
        return super().get_send_file_max_age(filename)


def base_app(test_config: dict[str, Any] | None, key_name: str, **session: Any) -> Flask:
    """Build what the kiosk's three apps share (screens, staff console, county server).

    Settings from defaults and KIOSK_* variables, then *test_config*; a secret key of their own
    (*key_name*, per install); HttpOnly session cookies with *session*'s settings; the zh/en
    catalogue; the security headers; the closing of request_db's connections; and the template
    globals every page uses.
    """
    app = KioskFlask("kiosk")  # templates, static files and catalogues live in the kiosk package
    app.config.from_mapping(load_settings())
    if test_config:
        app.config.update(test_config)
    app.config["DATA_DIR"] = absolute_folder(app.config["DATA_DIR"])  # one meaning for every request and job
    app.config["SECRET_KEY"] = app.config.get("SECRET_KEY") or secret_key(Path(app.config["DATA_DIR"]), key_name)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SECURE=bool(app.config["SECURE_COOKIES"]), **session)
    app.session_interface = FrameQuietSessions()
    if hops := int(app.config["PROXY_HOPS"]):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(Path(__file__).parent / "translations"))
    Babel(app, locale_selector=select_locale)
    translate_pages(app)
    app.after_request(security_headers)
    app.teardown_appcontext(close_request_dbs)
    app.jinja_env.globals.update(
        locales=LOCALES, get_locale=get_locale, request_path=lambda: request.full_path.rstrip("?"),
        query_string=query_string,
    )  # fmt: skip
    return app
