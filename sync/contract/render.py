"""Turn a notice's Markdown into safe HTML for the kiosk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import OptionsDict

# Raw HTML in the source is shown as text, not interpreted; links and images are dropped to
# their text because every page must stay on the kiosk (photos go in a notice's `photos`).
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "ul", "ol", "li", "h2", "h3", "h4", "blockquote", "hr",
    "div", "table", "thead", "tbody", "tr", "th", "td", "code", "pre",
}  # fmt: skip
# A table column's alignment (`|---:|`) as a class the stylesheets know: markdown-it writes it as a style
# attribute, which the sanitiser must drop (no style from content) and the pages' CSP would ignore anyway.
_ALIGN_CLASSES = {f"text-align:{side}": f"align-{side}" for side in ("left", "right", "center")}
_CELL_CLASSES = set(_ALIGN_CLASSES.values())


def _aligned_cell(renderer: RendererHTML, tokens: Sequence[Token], index: int, options: OptionsDict, env: Any) -> str:
    token = tokens[index]
    style = token.attrs.pop("style", None)
    if isinstance(style, str) and style in _ALIGN_CLASSES:
        token.attrSet("class", _ALIGN_CLASSES[style])
    return renderer.renderToken(tokens, index, options, env)


def _table_in_a_box(renderer: RendererHTML, tokens: Sequence[Token], index: int, options: OptionsDict, env: Any) -> str:
    """A table inside a box that scrolls sideways when the table is wider than the text (focusable to scroll)."""
    table = renderer.renderToken(tokens, index, options, env)
    return f'<div class="table-box" tabindex="0">{table}' if tokens[index].nesting == 1 else f"{table}</div>\n"


_markdown.add_render_rule("th_open", _aligned_cell)
_markdown.add_render_rule("td_open", _aligned_cell)
_markdown.add_render_rule("table_open", _table_in_a_box)
_markdown.add_render_rule("table_close", _table_in_a_box)


def render_markdown(text: str) -> str:
    """Render Markdown *text* to sanitised HTML with only harmless, local elements."""
    html = _markdown.render(text)
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={},
        tag_attribute_values={"div": {"tabindex": {"0"}}},
        allowed_classes={"div": {"table-box"}, "th": _CELL_CLASSES, "td": _CELL_CLASSES},
        link_rel=None,
    )
