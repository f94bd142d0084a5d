"""A bar chart drawn on the server as inline SVG: no script, no outside file, readable as text and by screen readers.

Every label is escaped (a search's text comes from a kiosk), and the SVG carries its numbers as text,
so the chart says what the table beside it says.
"""

from __future__ import annotations

from markupsafe import Markup

WIDTH = 760  # the viewBox's width; the chart scales to its column
LABEL_WIDTH = 300  # where the bars start: labels end a little before, right-aligned
BAR_SPACE = 380  # the longest bar; its number follows it
ROW = 30  # height of one bar's row
LABEL_CHARS = 22  # a longer label is cut, with "…": the table has it whole
MAX_BARS = 15


def bar_chart(bars: list[tuple[str, int]], title: str) -> Markup:
    """Return an SVG of horizontal bars, longest first as given, at most MAX_BARS; empty Markup with none."""
    bars = [(label, value) for label, value in bars[:MAX_BARS] if value > 0]
    if not bars:
        return Markup("")
    largest = max(value for _label, value in bars)
    rows = []
    for number, (label, value) in enumerate(bars):
        top = 5 + number * ROW
        length = max(2, round(BAR_SPACE * value / largest))
        rows.append(_BAR.format(
            label=label, value=value, shown=label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…",
            text_x=LABEL_WIDTH - 8, text_y=top + 19, bar_x=LABEL_WIDTH, bar_y=top + 4, length=length,
            height=ROW - 10, value_x=LABEL_WIDTH + length + 6,
        ))  # fmt: skip
    return _CHART.format(width=WIDTH, height=ROW * len(bars) + 10, title=title, bars=Markup("").join(rows))


# Markup.format escapes every value put in: a label is text, never markup.
_CHART = Markup(
    '<svg class="bar-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img"'
    ' aria-label="{title}" font-size="15"><title>{title}</title>{bars}</svg>'
)
_BAR = Markup(
    '<g><title>{label}: {value}</title><text x="{text_x}" y="{text_y}" text-anchor="end" fill="#1a1a1a">{shown}</text>'
    '<rect x="{bar_x}" y="{bar_y}" width="{length}" height="{height}" fill="#1f5f99"></rect>'
    '<text x="{value_x}" y="{text_y}" fill="#1a1a1a">{value}</text></g>'
)
