"""Check source files against the JSON Schemas in content/schema, with readable messages.

The schemas are package data: sync/contract/schema links to content/schema in a checkout, and the
wheel holds a copy there, so they are found the same way in both.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from sync.contract.i18n import tr
from sync.contract.source import SourceFile

SCHEMA_DIR = resources.files("sync.contract") / "schema"


def _type_name(name: str) -> str:
    names = {
        "string": tr("text"),
        "array": tr("a list"),
        "object": tr("a set of fields"),
        "integer": tr("a whole number"),
        "boolean": tr("true or false"),
    }
    return names.get(name, name)


def _pattern_hint(pattern: str) -> str:
    """Say in words what a schema pattern wants."""
    if pattern.startswith("^[a-z0-9]"):
        return tr("lower-case letters, digits and hyphens, such as dibao-shenqing")
    if pattern.startswith("^[0-9]{4}"):
        return tr("a date as YYYY-MM-DD or YYYY-MM-DD HH:MM")
    if pattern.startswith("^[0-9]["):
        return tr("digits and hyphens, such as 0000-5550101")
    if pattern.startswith("^media/"):
        return tr("a photo in media/, ending .jpg, .jpeg, .png or .webp")
    if pattern.startswith("^https?"):
        return tr("an address starting http:// or https://")
    return tr("matching %(pattern)s", pattern=pattern)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the county's content, located for the person who fixes it."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


def field_name(where: tuple[str | int, ...]) -> str:
    """Spell a field's path as a person reads it: steps[2].to."""
    text = ""
    for part in where:
        text += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Return the schema content/schema/<name>.schema.json."""
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    return schema


def _any(value: Any) -> Any:
    """Widen jsonschema's Unset-or-value attributes: they are always set on reported errors."""
    return value


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return _type_name("boolean")
    for type_name, python_type in (("string", str), ("array", list), ("object", dict), ("integer", int)):
        if isinstance(value, python_type):
            return _type_name(type_name)
    return tr("nothing") if value is None else type(value).__name__


def _message(error: ValidationError) -> str:
    kind, expected, instance = error.validator, _any(error.validator_value), _any(error.instance)
    if kind == "type":
        names = [expected] if isinstance(expected, str) else expected
        wanted = tr(" or ").join(_type_name(n) for n in names)
        if names == ["string"] and isinstance(instance, (int, float)):  # 0101, 3, 1.5, yes: YAML read a number
            return tr(
                'must be text, not %(actual)s: put it in quotes ("0101") to keep it as written',
                actual=_describe(instance),
            )
        if names == ["object"] and isinstance(instance, str) and "：" in instance:  # 'name：低保' is one text
            return tr("must be a set of fields, not text: a colon after a field name is a full-width 「：」; type ': '")
        return tr("must be %(wanted)s, not %(actual)s", wanted=wanted, actual=_describe(instance))
    if kind == "enum":
        return tr(
            "%(value)r is not allowed; use one of: %(allowed)s", value=instance, allowed=", ".join(map(str, expected))
        )
    if kind == "pattern":
        return tr("%(value)r is not in the right form: %(hint)s", value=instance, hint=_pattern_hint(str(expected)))
    if kind == "minItems":
        return tr("needs at least %(expected)s entries, has %(actual)s", expected=expected, actual=len(instance))
    if kind == "maxItems":
        return tr("allows at most %(expected)s entries, has %(actual)s", expected=expected, actual=len(instance))
    if kind == "minLength":
        return tr("must not be empty")
    if kind == "maxLength":
        return tr("is %(actual)s characters long; keep it to %(expected)s", actual=len(instance), expected=expected)
    if kind == "uniqueItems":
        twice = next((value for n, value in enumerate(instance) if value in instance[:n]), "")
        return tr("names %(value)r twice", value=twice)
    if kind in ("minimum", "maximum"):
        return tr(
            "%(value)r is outside %(low)s–%(high)s",
            value=instance,
            low=_bound(error, "minimum"),
            high=_bound(error, "maximum"),
        )
    return error.message


def _bound(error: ValidationError, name: str) -> str:
    return str(error.schema.get(name, "")) if isinstance(error.schema, dict) else ""


def _flatten(error: ValidationError) -> list[ValidationError]:
    """Replace a oneOf failure by the errors of the branch the author meant."""
    if error.validator != "oneOf" or not error.context:
        return [error]
    # Step entries: a step naming a standard procedure is the second branch.
    meant = 1 if isinstance(error.instance, dict) and "procedure" in error.instance else 0
    branch = [e for e in error.context if e.relative_schema_path[0] == meant]
    return [leaf for sub in branch for leaf in _flatten(sub)] or [error]


def schema_problems(source: SourceFile, schema_name: str) -> list[Problem]:
    """Return every way *source* breaks its schema."""
    validator = Draft202012Validator(load_schema(schema_name))
    problems: list[Problem] = []
    for top in validator.iter_errors(source.data):
        for error in _flatten(top):
            where = tuple(error.absolute_path)
            instance = _any(error.instance)
            if error.validator == "additionalProperties":
                known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
                for key in sorted(set(instance) - set(known), key=str):
                    allowed = ", ".join(known)
                    near = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
                    said = (
                        tr("unknown field; did you mean %(near)s? allowed here: %(known)s", near=near[0], known=allowed)
                        if near
                        else tr("unknown field; allowed here: %(known)s", known=allowed)
                    )
                    line = source.line_of((*where, key))
                    problems.append(Problem(source.path, line, field_name((*where, key)), said))
            elif error.validator == "required":
                missing = [name for name in _any(error.validator_value) if name not in instance]
                for name in missing:
                    problems.append(
                        Problem(source.path, source.line_of(where), field_name((*where, name)), tr("missing"))
                    )
            else:
                problems.append(Problem(source.path, source.line_of(where), field_name(where), _message(error)))
    return sorted(set(problems), key=lambda p: (p.line, p.field))  # 'required' repeats per field
