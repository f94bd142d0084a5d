"""Messages a county author or operator reads, in their language (zh default, en).

sync/ has no Flask, so it uses the standard library's gettext with its own catalogue,
sync/translations/<lang>/LC_MESSAGES/sync.po. Messages are marked with ``tr`` and use named
``%(placeholders)s``, as flask-babel's do, so that Babel checks them between a message and its
translation; the command line picks the language with ``use_language``.
"""

from __future__ import annotations

import functools
import gettext
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

LANGUAGES = ("zh", "en")
_FOLDER = Path(__file__).resolve().parents[1] / "translations"
_active: gettext.NullTranslations = gettext.NullTranslations()
_thread = threading.local()  # a web request's language, for its thread only (speak_in)


def use_language(code: str) -> None:
    """Make *code* ('zh' or 'en') the language of every message from now on."""
    global _active
    if code not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {code!r}")
    _active = gettext.translation("sync", _FOLDER, languages=[code], fallback=True)


@functools.lru_cache(maxsize=len(LANGUAGES))
def _catalogue(code: str) -> gettext.NullTranslations:
    return gettext.translation("sync", _FOLDER, languages=[code], fallback=True)


def translator(code: str) -> Callable[..., str]:
    """Return a ``tr`` for *code* whatever the active language: for a web page in its reader's language."""
    catalogue = _catalogue(code if code in LANGUAGES else LANGUAGES[0])
    return lambda message, **values: _fill(catalogue.gettext(message), values)


def speak_in(code: str | None) -> None:
    """Make this thread's messages *code*'s ('zh' or 'en'), whatever the active language; None: the active one.

    A web app sets it for each request (its reader's language) and clears it after, so that
    messages made deep in sync/ (a validation problem, a row of an import) reach the page in it.
    """
    _thread.catalogue = _catalogue(code if code in LANGUAGES else LANGUAGES[0]) if code is not None else None


def tr(message: str, **values: Any) -> str:
    """Translate *message* into this thread's language (speak_in), else the active one; fill in its placeholders."""
    catalogue = getattr(_thread, "catalogue", None) or _active
    return _fill(catalogue.gettext(message), values)


def _fill(text: str, values: dict[str, Any]) -> str:
    # As flask-babel's gettext: a message without values is not formatted, so a lone % stays as it is.
    return text % values if values else text
