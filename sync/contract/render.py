"""Turn a notice's Markdown into safe HTML for the kiosk."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

# Raw HTML in the source is shown as text, not interpreted; links and images are dropped to
# their text because every page must stay on the kiosk (photos go in a notice's `photos`).
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "ul", "ol", "li", "h2", "h3", "h4", "blockquote", "hr",
    "table", "thead", "tbody", "tr", "th", "td", "code", "pre",
}  # fmt: skip


def render_markdown(text: str) -> str:
    """Render Markdown *text* to sanitised HTML with only harmless, local elements."""
    html = _markdown.render(text)
    return nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"th": {"align"}, "td": {"align"}}, link_rel=None)
