"""The translation catalogues as pyproject.toml declares them: extract and update, compile, check.

The one place for what scripts/translations (extract, update), scripts/setup and setup.py (compile)
and tests/test_project.py (re-extract and check) do, so that their sources and keywords cannot
drift apart. Run as `python scripts/catalogues.py update|compile` from any folder.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import CommandLineInterface, parse_keywords
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
# %(name)s with any conversion, or a str.format {name}: that style is not used, and is reported by name.
_PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]|(\{\w*(?:![rsa])?(?::[^{}]*)?\})")


@dataclass(frozen=True)
class Catalogue:
    domain: str
    directory: Path  # holds <domain>.pot and <lang>/LC_MESSAGES/<domain>.po
    keyword_specs: list[str]  # as pybabel's -k takes them
    default_keywords: bool  # also _, gettext, ngettext, ...
    sources: list[Path]

    @property
    def keywords(self) -> dict[str, Any]:
        return {**(DEFAULT_KEYWORDS if self.default_keywords else {}), **parse_keywords(self.keyword_specs)}

    @property
    def template(self) -> Path:
        return self.directory / f"{self.domain}.pot"

    def po_files(self) -> list[Path]:
        return sorted(self.directory.glob(f"*/LC_MESSAGES/{self.domain}.po"))


def _tool() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as file:
        tool: dict[str, Any] = tomllib.load(file)["tool"]
    return tool


def catalogues() -> list[Catalogue]:
    """Every catalogue of pyproject.toml's [tool.village-kiosk.translations]."""
    settings = _tool()["village-kiosk"]["translations"]
    sources = [ROOT / source for source in settings["sources"]]
    return [
        Catalogue(domain, ROOT / entry["directory"], entry["keywords"], entry["default-keywords"], sources)
        for domain, entry in settings["catalogues"].items()
    ]


def method_map() -> list[tuple[str, str]]:
    """Which extractor reads which files: pyproject.toml's [tool.babel] mappings, as pybabel reads them."""
    return [(entry["pattern"], entry["method"]) for entry in _tool()["babel"]["mappings"]]


def extracted(catalogue: Catalogue) -> Iterator[tuple[str, int, str]]:
    """Yield (file, line, message) for every message of *catalogue* in the code, as `update` finds them."""
    mapping = method_map()
    for source in catalogue.sources:
        for filename, line, message, *_rest in extract_from_dir(source, mapping, keywords=catalogue.keywords):
            yield f"{source.name}/{filename}", line, message if isinstance(message, str) else message[0]


def placeholders(text: str) -> set[str]:
    """Name every placeholder of *text*: `name` for %(name)s, the whole `{name}` for a str.format one."""
    return {match.group(2) or match.group(1) for match in _PLACEHOLDER.finditer(text)}


def update() -> int:
    """Extract each catalogue's messages into its .pot and merge them into every language's .po."""
    os.chdir(ROOT)  # the .pot's locations are relative to the checkout
    for catalogue in catalogues():
        template, directory = (str(path.relative_to(ROOT)) for path in (catalogue.template, catalogue.directory))
        extract = ["pybabel", "--quiet", "extract", "-F", "pyproject.toml", "--sort-output", "-o", template]
        extract += [] if catalogue.default_keywords else ["--no-default-keywords"]
        extract += [f"--keyword={spec}" for spec in catalogue.keyword_specs]
        extract += [str(source.relative_to(ROOT)) for source in catalogue.sources]
        merge = ["pybabel", "--quiet", "update", "-D", catalogue.domain, "-i", template, "-d", directory]
        if _pybabel(extract) or _pybabel(merge):
            return 1
    return 0


def _pybabel(argv: list[str]) -> int:
    """Run a pybabel command as the `pybabel` program does; return its exit status."""
    status: int = CommandLineInterface().run(argv)  # type: ignore[no-untyped-call]
    return status


def compile_all(target: Path = ROOT) -> list[str]:
    """Write every .po's .mo into *target* (the checkout itself, or a build folder); return the problems.

    Babel's checks run first: a translation whose placeholders differ from its message's is a problem,
    and then that catalogue's .mo is not written.
    """
    problems = []
    for catalogue in catalogues():
        for po in catalogue.po_files():
            with open(po, "rb") as file:
                translations = read_po(file)
            errors = [f"{po.relative_to(ROOT)}:{m.lineno}: {e}" for m, found in translations.check() for e in found]
            problems += errors
            if not errors:
                mo = target / po.relative_to(ROOT).with_suffix(".mo")
                mo.parent.mkdir(parents=True, exist_ok=True)
                with open(mo, "wb") as file:
                    write_mo(file, translations)
    return problems


def main(argv: list[str]) -> int:
    if argv == ["update"]:
        return update()
    if argv == ["compile"]:
        problems = compile_all()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    print("usage: catalogues.py update|compile", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
