"""A bar chart drawn on the server as inline SVG: no script, no outside file, readable as text and by screen readers.

Every label is escaped (a search's text comes from a kiosk), and the SVG carries its numbers as text,
so the chart says what the table beside it says.
"""

from __future__ import annotations

from markupsafe import Markup

WIDTH = 360  # the viewBox's width: a phone's, so that on one its labels are as large as the page's small print
BAR_SPACE = 300  # the longest bar; its number follows it
ROW = 44  # one bar's row: its label above, the bar under it
LABEL_CHARS = 24  # a longer label is cut, with "…": the table has it whole
MAX_BARS = 15


def bar_chart(bars: list[tuple[str, int]], title: str) -> Markup:
    """Return an SVG of horizontal bars, longest first as given, at most MAX_BARS; empty Markup with none.

    Each label is written above its bar, across the chart's width, so that a chart narrowed to a phone keeps
    its words readable (the stylesheet caps how wide it grows on a large screen).
    """
    bars = [(label, value) for label, value in bars[:MAX_BARS] if value > 0]
    if not bars:
        return Markup("")
    largest = max(value for _label, value in bars)
    rows = []
    for number, (label, value) in enumerate(bars):
        top = 4 + number * ROW
        length = max(2, round(BAR_SPACE * value / largest))
        rows.append(_BAR.format(
            label=label, value=value, shown=label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…",
            text_y=top + 15, bar_y=top + 22, length=length, value_x=length + 6, value_y=top + 35,
        ))  # fmt: skip
    return _CHART.format(width=WIDTH, height=ROW * len(bars) + 4, title=title, bars=Markup("").join(rows))


# Markup.format escapes every value put in: a label is text, never markup.
_CHART = Markup(
    '<svg class="bar-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img"'
    ' aria-label="{title}" font-size="14"><title>{title}</title>{bars}</svg>'
)
_BAR = Markup(
    '<g><title>{label}: {value}</title><text x="0" y="{text_y}" fill="#1a1a1a">{shown}</text>'
    '<rect x="0" y="{bar_y}" width="{length}" height="16" fill="#1f5f99"></rect>'
    '<text x="{value_x}" y="{value_y}" fill="#1a1a1a">{value}</text></g>'
)
