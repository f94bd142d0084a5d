"""The kiosk's icons, each drawn inline where a page uses it: ``icon(name)`` or ``icon(name, "tile-icon")``.

A sprite of symbols with <use> made every page parse all of them first and each use clone its symbol into a shadow
tree: a slow board's layout and paint did that work on every page (bench/browser.py). A template macro drew them
before, at the cost of importing its template anew on each page that used one: a global made once is cheaper.
"""

from __future__ import annotations

from functools import lru_cache

from markupsafe import Markup

FILLED = 'fill="currentColor"'


def _line(width: str, cap: bool = False, join: bool = False) -> str:
    """The attributes of an outline drawn *width* wide, with round ends (*cap*) and round corners (*join*)."""
    rounded = (' stroke-linecap="round"' if cap else "") + (' stroke-linejoin="round"' if join else "")
    return f'fill="none" stroke="currentColor" stroke-width="{width}"{rounded}'


# Each icon: its path on a 24×24 grid, and how it is drawn.
DRAWINGS = {
    "home": ("M3 11 12 3l9 8v10h-6v-6H9v6H3z", FILLED),
    "back": ("M14 5 7 12l7 7M7 12h14", _line("2.6", cap=True, join=True)),
    "powers": ("M6 2h9l5 5v15H6z M14 2v6h6 M9 12h8 M9 16h8 M9 20h5", _line("2")),
    "ten": ("M12 2l3 6 7 1-5 5 1 7-6-3-6 3 1-7-5-5 7-1z", _line("2", join=True)),
    "notices": ("M3 4h18v12H3z M8 16v5 M16 16v5 M6 8h12 M6 12h8", _line("2")),
    "catalogue": ("M4 4h7v7H4z M13 4h7v7h-7z M4 13h7v7H4z M13 13h7v7h-7z", _line("2")),
    "phone": (
        "M6 2h4l2 5-3 2a12 12 0 0 0 6 6l2-3 5 2v4a2 2 0 0 1-2 2A19 19 0 0 1 4 4a2 2 0 0 1 2-2z",
        _line("2", join=True),
    ),
    "pin": ("M9 2h6l-1 7 4 4H6l4-4z M12 13v9", _line("2", join=True)),
    "archive": ("M3 4h18v5H3z M5 9v11h14V9 M10 13h4", _line("2")),
    "search": ("M10 3a7 7 0 1 1 0 14 7 7 0 0 1 0-14z M15 15l6 6", _line("2.6", cap=True)),
    "text-size": ("M2 20 8 4l6 16 M4.5 14h7 M15 20l4-10 4 10 M16.2 17h5.6", _line("2", cap=True, join=True)),
    "check": ("M4 12l5 5L20 6", _line("3", cap=True, join=True)),
    "next": ("M9 5l7 7-7 7", _line("2.6", cap=True, join=True)),
    "print": ("M6 9V2h12v7 M6 18H3v-9h18v9h-3 M6 14h12v8H6z M9 17h6 M9 20h4", _line("2", join=True)),
    "guide": ("M12 2v20 M8 22h8 M12 4h7l2.5 3-2.5 3h-7 M12 12H5l-2.5 3L5 18h7", _line("2", join=True)),
    "restart": ("M4 12a8 8 0 1 0 2.4-5.7 M4 3v5h5", _line("2.6", cap=True, join=True)),
    "speaker": ("M3 9h4l5-4v14l-5-4H3z M16 9a4 4 0 0 1 0 6 M19 6a8 8 0 0 1 0 12", _line("2", cap=True, join=True)),
}


@lru_cache(maxsize=64)
def icon(name: str, css_class: str = "icon") -> Markup:
    """Return the icon *name* as inline SVG, hidden from screen readers (its button or link says what it does)."""
    path, drawn = DRAWINGS[name]
    svg = '<svg class="{}" viewBox="0 0 24 24" aria-hidden="true"><path d="{}" {}/></svg>'
    return Markup(svg).format(css_class, path, Markup(drawn))  # noqa: S704 (the drawing is this module's own)
