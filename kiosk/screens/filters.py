"""Template helpers shared by every screen."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from flask import Flask, current_app, render_template
from flask_babel import format_date, format_datetime, get_locale, pgettext
from flask_babel import gettext as _
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from kiosk.data.queries import DOMAINS
from kiosk.screens import labels
from kiosk.screens.icons import icon

CHINESE = Markup(' lang="zh-Hans"')


def day(text: str | None, locale: str | None = None) -> str:
    """Show a content date ('YYYY-MM-DD' or 'YYYY-MM-DD HH:MM') in the reader's language (*locale*, else this
    request's)."""
    return _formatted_day(text, locale or str(get_locale())) if text else ""


@pass_context
def _day_filter(context: Context, text: str | None) -> str:
    return day(text, context.get("page_locale"))


@lru_cache(maxsize=4096)
def _formatted_day(text: str, _locale: str) -> str:
    # Cached per language: Babel's formatter costs more than the rest of a list row.
    if len(text) == 10:
        return str(format_date(datetime.strptime(text, "%Y-%m-%d"), "long"))
    return str(format_datetime(datetime.strptime(text[:16], "%Y-%m-%d %H:%M"), "medium"))


def _chinese_page() -> bool:
    return str(get_locale().language) == "zh"


def _page_language() -> dict[str, Any]:
    """The page's language, looked up once for its filters (a page in force_locale too: this runs at each render)."""
    locale = get_locale()
    if locale is None:  # no request: each filter asks, as it did before
        return {}
    return {"chinese_page": str(locale.language) == "zh", "page_locale": str(locale)}


def _chinese_context(context: Context) -> bool:
    """Tell whether the page being rendered is in Chinese: known once per page (the context processor below)."""
    chinese = context.get("chinese_page")
    return _chinese_page() if chinese is None else bool(chinese)


@pass_context
def zh_lang(context: Context) -> Markup:
    """Return the attribute marking an element of county content as Chinese on a page in another language.

    Screen readers and read-aloud then pronounce it as Chinese; a Chinese page needs no mark.
    """
    return Markup("") if _chinese_context(context) else CHINESE


def zh(text: str | None, chinese_page: bool | None = None) -> Markup:
    """Mark *text*, county content amid interface words, as Chinese on a page in another language."""
    if not text:
        return Markup("")
    if _chinese_page() if chinese_page is None else chinese_page:
        return escape(text)
    return Markup("<span%s>%s</span>") % (CHINESE, text)


@pass_context
def _zh_filter(context: Context, text: str | None) -> Markup:
    return zh(text, _chinese_context(context))


def label(value: str, names: Mapping[str, Any]) -> Markup:
    """Return the interface's name for the fixed content value *value* (the value itself in Chinese)."""
    if value in names:
        return escape(str(names[value]))
    # A value the schema allows but this kiosk has no name for (newer content): shown as written.
    current_app.logger.warning("no interface name for the content value %r", value)
    return zh(value)


def labels_of(values: Iterable[str], names: Mapping[str, Any]) -> Markup:
    """Return the interface's names for a list of fixed content values, as one list."""
    # I18N: Between the items of a short list, e.g. "County, Township".
    return escape(pgettext("list separator", ", ")).join(label(value, names) for value in values)


def _not_found(_error: Any) -> Any:
    heading, text = _("Page not found"), _("This page is not in the kiosk's content. It may have been removed.")
    return render_template("screens/error.html", heading=heading, text=text), 404


def _server_error(_error: Any) -> Any:
    heading, text = _("Something went wrong"), _("Please go back to the home screen and try again.")
    return render_template("screens/error.html", heading=heading, text=text), 500


def _per_page(function: Callable[..., Markup | str]) -> Callable[..., Markup | str]:
    """*function* as a filter Jinja never runs while compiling a template (it folds filters of constants,
    such as ``"低保"|zh``): its result depends on each page's language."""

    @pass_context
    def template_filter(_context: Any, *args: Any) -> Markup | str:
        return function(*args)

    return template_filter


def init_app(app: Flask, error_pages: bool = True) -> None:
    for template_filter in (label, labels_of):
        app.add_template_filter(_per_page(template_filter), template_filter.__name__)
    # Like those, never folded while compiling: they read the page's language.
    app.add_template_filter(_zh_filter, "zh")
    app.add_template_filter(_day_filter, "day")
    app.jinja_env.globals.update(
        domain_labels=labels.DOMAIN_LABELS,
        contact_kind_labels=labels.CONTACT_KIND_LABELS,
        kind_labels=labels.KIND_LABELS,
        notice_domain_labels={name: labels.DOMAIN_LABELS[key] for key, name in DOMAINS.items()},
        catalogue_area_labels=labels.CATALOGUE_AREA_LABELS,
        catalogue_audience_labels=labels.CATALOGUE_AUDIENCE_LABELS,
        catalogue_mode_labels=labels.CATALOGUE_MODE_LABELS,
        catalogue_level_labels=labels.CATALOGUE_LEVEL_LABELS,
        procedure_labels=labels.PROCEDURE_LABELS,
        get_locale=get_locale,
        zh_lang=zh_lang,
        icon=icon,
    )
    app.context_processor(_page_language)
    if error_pages:
        app.register_error_handler(404, _not_found)
        app.register_error_handler(500, _server_error)
