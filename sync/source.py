"""Read county source files: YAML with line numbers, and Markdown with YAML front matter."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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


def _map_lines(node: yaml.Node, where: Path_, lines: dict[Path_, int], offset: int) -> None:
    lines[where] = node.start_mark.line + 1 + offset
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*where, str(key.value))
            _map_lines(value, child, lines, offset)
            lines[child] = key.start_mark.line + 1 + offset
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _map_lines(item, (*where, index), lines, offset)


def parse_yaml(text: str, path: str, line_offset: int = 0) -> SourceFile:
    """Parse YAML *text*; raise SourceError with the line of a syntax error."""
    loader = _Loader(text)
    try:
        # One parse: the node tree gives line numbers, then becomes the data.
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = (mark.line + 1 if mark else 1) + line_offset
        raise SourceError(path, line, f"not valid YAML: {error.problem or error}") from None
    except yaml.YAMLError as error:
        raise SourceError(path, 1 + line_offset, f"not valid YAML: {error}") from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is not None:
        _map_lines(node, (), lines, line_offset)
    return SourceFile(path, data, lines)


def read_text(file: Path, path: str) -> str:
    """Read a UTF-8 text file, with a clear error for other encodings."""
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SourceError(path, 1, f"not UTF-8 text ({error.reason}); save it as UTF-8") from None


def read_yaml(file: Path, path: str) -> SourceFile:
    """Read and parse one YAML file."""
    return parse_yaml(read_text(file, path), path)


def read_markdown(file: Path, path: str) -> SourceFile:
    """Read a Markdown file that starts with YAML front matter between '---' lines."""
    text = read_text(file, path)
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise SourceError(path, 1, "must start with a '---' line, then the notice's fields")
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            source = parse_yaml("".join(lines[1:index]), path, line_offset=1)
            source.body = "".join(lines[index + 1 :]).strip()
            return source
    raise SourceError(path, 1, "the fields at the top are not closed by a '---' line")
