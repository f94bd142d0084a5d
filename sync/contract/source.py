"""Read county source files: YAML with line numbers, and Markdown with YAML front matter."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sync.contract.i18n import tr

# libyaml's parser when PyYAML has it (Debian and PyPI wheels do): about 15x faster on a big county.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """A safe loader that keeps dates as written: the schemas check their format."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

Path_ = tuple[str | int, ...]


@dataclass
class SourceFile:
    """One parsed file: its data, and the line of every field, for error messages."""

    path: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    body: str = ""

    def line_of(self, where: Path_) -> int:
        """Return the line of the deepest field of *where* that the file has (1-based)."""
        for end in range(len(where), -1, -1):
            if where[:end] in self.lines:
                return self.lines[where[:end]]
        return 1


class SourceError(Exception):
    """A file that cannot be read or parsed at all."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


class _Unsafe(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line, self.message = line, message


def _map_lines(node: yaml.Node, where: Path_, lines: dict[Path_, int], seen: set[int]) -> None:
    """Record the line of every field, refusing what a county file never needs and could abuse."""
    line = node.start_mark.line + 1
    if id(node) in seen:
        # Only an alias (*name) reaches a node twice; nested aliases can grow a tiny file into
        # billions of entries ("billion laughs"), so they are refused outright.
        raise _Unsafe(line, tr("anchors and aliases (& and *) are not allowed; write the text out in full"))
    seen.add(id(node))
    lines[where] = line
    if isinstance(node, yaml.MappingNode):
        first_seen: dict[str, int] = {}
        for key, value in node.value:
            name, key_line = str(key.value), key.start_mark.line + 1
            if name in first_seen:
                raise _Unsafe(
                    key_line,
                    tr("field '%(name)s' appears twice (first on line %(line)s)", name=name, line=first_seen[name]),
                )
            first_seen[name] = key_line
            child = (*where, name)
            _map_lines(value, child, lines, seen)
            lines[child] = key_line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _map_lines(item, (*where, index), lines, seen)


def parse_yaml(text: str, path: str, line_offset: int = 0) -> SourceFile:
    """Parse YAML *text*; raise SourceError with the line of a syntax error."""
    loader = _Loader(text)
    lines: dict[Path_, int] = {}
    try:
        # One parse: the node tree gives line numbers and is checked, then becomes the data.
        node = loader.get_single_node()
        if node is not None:
            _map_lines(node, (), lines, set())
        data = loader.construct_document(node) if node is not None else None
    except _Unsafe as error:
        raise SourceError(path, error.line + line_offset, error.message) from None
    except yaml.MarkedYAMLError as error:
        line, message = _explain(error, text.splitlines())
        raise SourceError(path, line + line_offset, message) from None
    except yaml.YAMLError as error:
        raise SourceError(path, 1 + line_offset, tr("not valid YAML: %(problem)s", problem=error)) from None
    finally:
        loader.dispose()
    if line_offset:
        lines = {where: line + line_offset for where, line in lines.items()}
    return SourceFile(path, data, lines)


def _explain(error: yaml.MarkedYAMLError, lines: list[str]) -> tuple[int, str]:
    """The line and, in plain words, the YAML mistakes clerks make: a Tab, a full-width colon."""
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark else 1
    at = lines[mark.line] if mark and mark.line < len(lines) else ""
    if "\t" in at[: len(at) - len(at.lstrip())] or "tab" in str(error.problem).lower():  # libyaml names no Tab
        return line, tr("indent with spaces, not Tab")
    # 'name：低保' is read as one text, so PyYAML stops on the line after it, missing a ':'.
    marked = [mark.line for mark in (error.context_mark, error.problem_mark) if mark]
    for number in [*marked, *(n - 1 for n in marked)]:  # the line itself, or the one before it
        if 0 <= number < len(lines) and _FULL_WIDTH_KEY.match(lines[number]):
            return number + 1, tr("the colon after the field name is a full-width 「：」; type ': ' (colon, space)")
    return line, tr("not valid YAML: %(problem)s", problem=error.problem or error)


_FULL_WIDTH_KEY = re.compile(r"^\s*(- +)?[^\s:：'\"#-][^:：]*：")
MAX_TEXT_BYTES = 2 * 1024 * 1024


def read_text(file: Path, path: str) -> str:
    """Read a UTF-8 text file (a byte-order mark is allowed), with a clear error for anything else."""
    if file.stat().st_size > MAX_TEXT_BYTES:
        raise SourceError(
            path, 1, tr("larger than %(limit)s MB; split it into several files", limit=MAX_TEXT_BYTES // 1024 // 1024)
        )
    return decode_text(file.read_bytes(), path)


def decode_text(data: bytes, path: str) -> str:
    """The text of a file's bytes *data* (UTF-8, a byte-order mark allowed), with a clear error for anything else."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SourceError(path, 1, tr("not UTF-8 text (%(reason)s); save it as UTF-8", reason=error.reason)) from None
    # As Path.read_text reads it: universal newlines (line numbers, and a body's text, are the same either way).
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_yaml(file: Path, path: str) -> SourceFile:
    """Read and parse one YAML file."""
    return parse_yaml(read_text(file, path), path)


def read_markdown(file: Path, path: str) -> SourceFile:
    """Read a Markdown file that starts with YAML front matter between '---' lines."""
    return parse_markdown(read_text(file, path), path)


def parse_markdown(text: str, path: str) -> SourceFile:
    """Parse Markdown *text* that starts with YAML front matter between '---' lines (the fields, then the body)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise SourceError(path, 1, tr("must start with a '---' line, then the notice's fields"))
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            source = parse_yaml("".join(lines[1:index]), path, line_offset=1)
            source.body = "".join(lines[index + 1 :]).strip()
            return source
    raise SourceError(path, 1, tr("the fields at the top are not closed by a '---' line"))
