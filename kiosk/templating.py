"""How the kiosk's three apps render a page cheaply, with the same result as Flask and Jinja would.

A page's time is mostly its template's (issue 17: a detail page at 2.5 times a static file's, at most). Two
things Jinja and flask-babel do for every expression cost more than the rest: looking up the request's language
and catalogue again for each string, and trying an attribute before the field of a dict (an exception each
time). Here the catalogue is found once a page, and a dict's field first.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.templating import Environment
from flask_babel import get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup


def _page_translations(context: Context) -> Any:
    translations = context.get("page_translations")
    return get_translations() if translations is None else translations


@pass_context
def _page_gettext(context: Context, string: str, /, **variables: Any) -> str:
    text = _page_translations(context).ugettext(string)
    # The catalogue's text is trusted as Jinja trusts it (its own gettext does the same); always a format, as there,
    # but a text with nothing to format is itself (most of a page's): the same result without formatting it.
    if not variables and "%" not in text:
        return Markup(text) if context.eval_ctx.autoescape else text  # noqa: S704
    return (Markup(text) if context.eval_ctx.autoescape else text) % variables  # noqa: S704


@pass_context
def _page_ngettext(context: Context, singular: str, plural: str, num: int, /, **variables: Any) -> str:
    variables.setdefault("num", num)
    text = _page_translations(context).ungettext(singular, plural, num)
    return (Markup(text) if context.eval_ctx.autoescape else text) % variables  # noqa: S704


def translate_pages(app: Flask) -> None:
    """Templates translate with the catalogue their page began with, looked up once a page.

    flask-babel's template gettext looks up the request's language and its catalogue again for each string, through
    Flask's context-local proxies: about a tenth of a detail page's time for its 40 strings. render_template puts the
    catalogue in the page's context (its context processors run at each render, inside force_locale too), and
    ``_()``, ``gettext()`` and ``ngettext()`` read it there. A macro imported without the page's context asks
    flask-babel, as before.
    """
    app.context_processor(lambda: {"page_translations": get_translations()})
    app.jinja_env.globals.update(_=_page_gettext, gettext=_page_gettext, ngettext=_page_ngettext)


class KioskEnvironment(Environment):
    """Flask's Jinja environment, reading a dict's field without the exception Jinja's ``item.field`` costs first.

    Jinja tries an attribute, then an item: for the rows and content a page shows (dicts), every ``item.name`` raised
    AttributeError before finding the field, some 170 times a detail page. Here a dict's field is read first, unless
    the name is one of dict's own (``items``, ``get``...), which Jinja's order gives first: the same result.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_NAMES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


_DICT_NAMES = frozenset(dir(dict))
