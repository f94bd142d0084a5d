"""Reading a county folder's files and the checks shared by every kind of content."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sync.contract.i18n import tr
from sync.contract.media import media_problem
from sync.contract.procedure import procedure_problems
from sync.contract.schemas import Problem, field_name, schema_problems
from sync.contract.source import SourceError, SourceFile, read_markdown, read_yaml

Where = tuple[str | int, ...]
PLACE_FIELDS = ("village", "township")


def _suffix(name: str) -> str:
    """A file name's last suffix, as Path.suffix gives it ('.yaml'; '' for '.hidden' or 'name.')."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def without_place(data: dict[str, Any]) -> dict[str, Any]:
    """An entry's fields but where it applies (its scope says that)."""
    return {k: v for k, v in data.items() if k not in PLACE_FIELDS}


class FolderReader:
    """Reads files of one county folder and collects every problem found, never stopping early."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []  # published all the same, but the county should look (content/README.md)

    def problem(self, source: SourceFile, where: Where, message: str) -> None:
        self.problems.append(Problem(source.path, source.line_of(where), field_name(where), message))

    def warn(self, source: SourceFile, where: Where, message: str) -> None:
        self.warnings.append(Problem(source.path, source.line_of(where), field_name(where), message))

    def file_problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, 1, "", message))

    def read(self, relative: str, schema: str, markdown: bool = False) -> SourceFile | None:
        """Return the file checked against its schema, or None (its problems recorded)."""
        try:
            source = self.source(relative, markdown)
        except SourceError as error:
            self.problems.append(Problem(error.path, error.line, "", error.message))
            return None
        found = schema_problems(source, schema)
        self.problems.extend(found)
        return None if found else source

    def source(self, relative: str, markdown: bool = False) -> SourceFile:
        """The file *relative* of the folder, parsed. :raises SourceError: when it cannot be read or parsed."""
        file = self.root / relative
        return read_markdown(file, relative) if markdown else read_yaml(file, relative)

    def read_folder(self, folder: str, suffix: str, schema: str, required: bool = False) -> list[SourceFile]:
        """Read every *suffix* file of *folder*; anything else there is reported, not silently skipped."""
        sources = []
        for name in self.folder_files(folder, suffix, required):
            source = self.read(name, schema, markdown=suffix == ".md")
            if source is not None:
                sources.append(source)
        return sources

    def folder_files(self, folder: str, suffix: str, required: bool = False) -> list[str]:
        """The *suffix* files of *folder* in order ('powers/a.yaml'); anything else there is reported."""
        try:  # a scan, not Path.iterdir: its entries know whether they are files without a stat each
            with os.scandir(self.root / folder) as scan:
                entries = sorted((entry.name, entry.is_file()) for entry in scan)
        except (FileNotFoundError, NotADirectoryError):
            entries = []
        if required and not any(is_file and _suffix(name) == suffix for name, is_file in entries):
            self.file_problem(
                f"{folder}/",
                tr("missing: put at least one %(suffix)s file in %(folder)s/", suffix=suffix, folder=folder),
            )
        names = []
        for entry_name, is_file in entries:
            name = f"{folder}/{entry_name}"
            if entry_name.startswith("."):
                continue  # editor and system files (.DS_Store, .swp)
            if not is_file or _suffix(entry_name) != suffix:
                self.file_problem(
                    name,
                    tr(
                        "not read: only %(suffix)s files directly in %(folder)s/ are content",
                        suffix=suffix,
                        folder=folder,
                    ),
                )
                continue
            names.append(name)
        return names

    def check_media(self, source: SourceFile, where: Where, ref: str, media: dict[str, Path]) -> None:
        problem = media_problem(self.root, ref)
        if problem:
            self.problem(source, where, problem)
        else:
            media[ref] = self.root / ref

    def check_scope(self, source: SourceFile, places: dict[str, set[str]] | None, at: Where = ()) -> str:
        """Return the scope of an entry ('county', 'township:X', 'village:Y') and check it.

        *places* is None when county.yaml itself is broken: then codes cannot be checked.
        """
        data = source.data
        for step in at:
            data = data[step]
        if "village" in data and "township" in data:
            self.problem(source, (*at, "township"), tr("give village or township, not both"))
        for kind in ("village", "township"):
            if kind in data:
                if places is not None and data[kind] not in places[kind]:
                    message = (
                        tr("no village with code %(code)r in county.yaml", code=data[kind])
                        if kind == "village"
                        else tr("no township with code %(code)r in county.yaml", code=data[kind])
                    )
                    self.problem(source, (*at, kind), message)
                return f"{kind}:{data[kind]}"
        return "county"

    def check_unique(self, seen: dict[str, str], key: str, source: SourceFile, where: Where, what: str) -> None:
        if key in seen:
            self.problem(
                source,
                where,
                tr("%(what)s %(key)r is used twice, first in %(place)s", what=what, key=key, place=seen[key]),
            )
        else:
            seen[key] = f"{source.path}:{source.line_of(where)}"

    def check_steps(self, source: SourceFile) -> bool:
        """Check a power item's procedure; return True when it is sound."""
        found = procedure_problems(source.data["steps"])
        for where, message in found:
            self.problem(source, where, message)
        return not found
