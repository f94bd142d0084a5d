"""A table copied from Excel or WPS (tab-separated text on the clipboard) as a Markdown table for a notice.

The first row is the header. A column whose cells (below the header) are all numbers, amounts such
as 36,000.00 or -1,200 and percentages included, is aligned right, as the kiosk then draws it with
tabular figures; the rest align left. A '|' inside a cell is escaped, line breaks inside a cell become
spaces, and rows are made as wide as the widest. At most MAX_ROWS rows and MAX_COLUMNS columns are
taken: a notice's table is a page, not a spreadsheet.
"""

from __future__ import annotations

import re

MAX_ROWS = 500
MAX_COLUMNS = 20
_NUMBER = re.compile(r"[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?%?|[-+]?\.\d+%?")


def markdown_table(pasted: str) -> str:
    """The Markdown table of tab-separated *pasted* text; "" when it holds no cell."""
    lines = [line for line in pasted.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]
    rows = [[_cell(cell) for cell in line.split("\t")[:MAX_COLUMNS]] for line in lines[:MAX_ROWS]]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    header, body = rows[0], rows[1:]
    numeric = [bool(body) and all(_NUMBER.fullmatch(row[n]) or not row[n] for row in body)
               and any(row[n] for row in body) for n in range(width)]  # fmt: skip
    rule = ["---:" if right else "---" for right in numeric]
    return "\n".join("| " + " | ".join(row) + " |" for row in [header, rule, *body])


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
