"""Forms for content, from content/schema/*.json: the one description of every field, for the studio.

fields_of() turns a schema and an item into a tree of fields for a page to draw: a line of text, a
longer text, a list written one entry per line, a yes/no, a choice, a group of fields (an object),
or rows of groups (a list of objects); a procedure's steps are the one field with a widget of their
own. read_form() turns what the browser sends back (flat names such as ``supervision.phone`` or
``risks.2.point``) into the item again, leaving out what was left empty, so that the same checks as
`kiosk county validate` judge it. Nothing here draws HTML or knows Flask.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LONG = {"summary", "description", "content", "body", "control", "intro"}  # text written as paragraphs
ROWS_SHOWN_EMPTY = 1  # rows of a list of objects offered empty, to add one more without script
MAX_ROWS = 200  # rows of one list read from a form at most: a form cannot make a list any longer


@dataclass
class Field:
    """One field of a form: where it is in the item, how it is drawn, and its value as the page shows it."""

    name: str  # the form's name for it: "supervision.phone", "risks.2.point"
    key: str  # its own key in the schema, for its label ("phone")
    widget: str  # text, long, lines, check, choice, group, rows, steps
    required: bool
    value: Any = ""  # text for text/long/choice, the lines joined for lines, a bool for check
    choices: list[str] = field(default_factory=list)
    pattern: str = ""
    children: list[Field] = field(default_factory=list)  # a group's fields
    rows: list[list[Field]] = field(default_factory=list)  # the groups of a list of objects


def _widget(key: str, schema: dict[str, Any]) -> str:
    if key == "steps":
        return "steps"
    kind = schema.get("type")
    if "enum" in schema:
        return "choice"
    if kind == "boolean":
        return "check"
    if kind == "object":
        return "group"
    if kind == "array":
        return "rows" if schema.get("items", {}).get("type") == "object" else "lines"
    if isinstance(kind, list) and "array" in kind:  # one text or a list of them (公开内容): one entry per line
        return "lines"
    return "long" if key in LONG else "text"


def fields_of(schema: dict[str, Any], data: Mapping[str, Any] | None, prefix: str = "") -> list[Field]:
    """The fields of the object *schema* describes, holding *data*'s values, named under *prefix*."""
    data = data or {}
    required = set(schema.get("required", []))
    fields = []
    for key, sub in schema.get("properties", {}).items():
        name, widget, value = f"{prefix}{key}", _widget(key, sub), data.get(key)
        item = Field(name, key, widget, key in required, choices=list(sub.get("enum", [])),
                     pattern=sub.get("pattern", ""))  # fmt: skip
        if widget == "group":
            item.children = fields_of(sub, value if isinstance(value, Mapping) else None, f"{name}.")
        elif widget == "rows":
            present = [row for row in value if isinstance(row, Mapping)] if isinstance(value, list) else []
            item.rows = [fields_of(sub["items"], row, f"{name}.{n}.") for n, row in enumerate(present)]
            item.rows += [fields_of(sub["items"], None, f"{name}.{len(present) + n}.") for n in range(ROWS_SHOWN_EMPTY)]
        elif widget == "lines":
            item.value = "\n".join(str(line) for line in value) if isinstance(value, list) else str(value or "")
        elif widget == "check":
            item.value = value is True
        elif widget != "steps":
            item.value = "" if value is None else str(value)
        else:
            item.value = value if isinstance(value, list) else []
        fields.append(item)
    return fields


_UNSEEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, format marks (bidi overrides), line separators


def clean(text: str, lines: bool = False) -> str:
    """*text* as typed, without control characters, format marks or line separators (line breaks kept
    where *lines*); spaces of every width stay (Chinese text is indented with full-width ones).

    A browser (or a hand-made request) can send them; the kiosk would show them as boxes, or not at all.
    """
    text = text.replace("\r\n", "\n")
    return "".join(ch for ch in text if (lines and ch == "\n") or unicodedata.category(ch) not in _UNSEEN)


def read_form(schema: dict[str, Any], form: Mapping[str, str], prefix: str = "") -> dict[str, Any]:
    """The item a form posted: text trimmed, lists from their lines, empty fields and rows left out.

    Steps are not read here (their editor has its own reading: sync.authoring.steps).
    """
    data: dict[str, Any] = {}
    for key, sub in schema.get("properties", {}).items():
        name, widget = f"{prefix}{key}", _widget(key, sub)
        if widget == "group":
            value: Any = read_form(sub, form, f"{name}.") or None
        elif widget == "rows":
            rows = [read_form(sub["items"], form, f"{name}.{n}.") for n in range(_row_count(form, f"{name}."))]
            value = [row for row in rows if row] or None
        elif widget == "lines":
            value = [line.strip() for line in clean(form.get(name, ""), lines=True).split("\n") if line.strip()] or None
            if value and len(value) == 1 and isinstance(sub.get("type"), list):
                value = value[0]  # text or a list of them: one line stays one text, as it was written
        elif widget == "check":
            value = True if form.get(name) in ("on", "true", "1") else None
        elif widget == "steps":
            continue
        else:
            value = clean(form.get(name, ""), lines=widget == "long").strip() or None
            if value is not None and sub.get("type") == "integer" and re.fullmatch(r"-?\d{1,9}", value):
                value = int(value)  # a whole number as the schema wants it; anything else stays for it to refuse
        if value is not None:
            data[key] = value
    return data


def _row_count(form: Mapping[str, str], prefix: str) -> int:
    """How many rows of the list under *prefix* the form holds (its highest row number, plus one; capped)."""
    numbers = [name[len(prefix) :].split(".", 1)[0] for name in form if name.startswith(prefix)]
    found = [int(number) for number in numbers if number.isdigit() and len(number) < 4]
    return min(max(found, default=-1) + 1, MAX_ROWS)
