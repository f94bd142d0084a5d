"""Forms for content, from content/schema/*.json: the one description of every field, for the studio.

fields_of() turns a schema and an item into a tree of fields for a page to draw: a line of text, a
longer text, a date, a list written one entry per line, a yes/no, a choice, a group of fields (an
object), or rows of groups (a list of objects: as many rows as the list needs at least, and one
empty row to add another); a procedure's steps are the one field with a widget of their own.
read_form() turns what the browser sends back (flat names such as ``supervision.phone`` or
``risks.2.point``) into the item again, leaving out what was left empty, so that the same checks as
`kiosk county validate` judge it; at_fields() puts each problem they find at a field or row the
form draws. Nothing here draws HTML or knows Flask.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LONG = {"summary", "description", "content", "body", "control", "intro", "what_next"}  # written as paragraphs
DATE = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"  # the schemas' pattern of a day: a date field
ROWS_SHOWN_EMPTY = 1  # rows of a list of objects offered empty, to add one more without script
MAX_ROWS = 200  # rows of one list read from a form at most: a form cannot make a list any longer


@dataclass
class Field:
    """One field of a form: where it is in the item, how it is drawn, and its value as the page shows it."""

    name: str  # the form's name for it: "supervision.phone", "risks.2.point"
    key: str  # its own key in the schema, for its label ("phone")
    widget: str  # text, long, date, lines, check, choice, group, rows, steps
    required: bool
    value: Any = ""  # text for text/long/choice, the lines joined for lines, a bool for check
    choices: list[str] = field(default_factory=list)
    pattern: str = ""
    children: list[Field] = field(default_factory=list)  # a group's fields
    rows: list[list[Field]] = field(default_factory=list)  # the groups of a list of objects

    @property
    def shape(self) -> str:
        """Its name without row numbers ("risks.point"): a label may be given for a key where it is."""
        return re.sub(r"\.\d+(?=\.|$)", "", self.name)


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
    if schema.get("pattern") == DATE:
        return "date"
    return "long" if key in LONG else "text"


def inlined(schema: Any, defs: Mapping[str, Any] | None = None) -> Any:
    """*schema* with each of its own "$ref": "#/$defs/…" replaced by what it names (a form draws what it sees)."""
    if defs is None and isinstance(schema, Mapping):
        defs = schema.get("$defs", {})
    if isinstance(schema, Mapping):
        ref = schema.get("$ref", "")
        rest = {key: inlined(value, defs) for key, value in schema.items() if key not in ("$ref", "$defs")}
        if isinstance(ref, str) and ref.startswith("#/$defs/") and defs and ref[8:] in defs:
            return {**inlined(defs[ref[8:]], defs), **rest}
        return rest
    if isinstance(schema, list):
        return [inlined(value, defs) for value in schema]
    return schema


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
            empty = max(ROWS_SHOWN_EMPTY, sub.get("minItems", 0) - len(present))  # as many as it needs at least
            empty = min(empty, max(0, sub.get("maxItems", MAX_ROWS) - len(present)))  # none past its most
            item.rows += [fields_of(sub["items"], None, f"{name}.{len(present) + n}.") for n in range(empty)]
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


def at_fields(named: dict[str, list[str]], fields: list[Field]) -> dict[str, list[str]]:
    """The problems *named* by form name, those of a list's entry ("endings.0.powers.1") or of anything else
    inside a group, a list or rows that the form draws no field for moved to the nearest field or row it draws."""
    drawn: dict[str, str] = {}

    def note(found: list[Field]) -> None:
        for item in found:
            drawn[item.name] = item.widget
            note(item.children)
            for number, row in enumerate(item.rows):
                drawn[f"{item.name}.{number}"] = "row"
                note(row)

    note(fields)
    moved: dict[str, list[str]] = {}
    for name, messages in named.items():
        place = name
        if drawn.get(name.split(".")[0]) in ("group", "rows", "lines"):
            while place and place not in drawn:
                place = place.rpartition(".")[0]
        moved.setdefault(place, []).extend(messages)
    return moved
