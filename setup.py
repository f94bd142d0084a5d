"""Build step of the wheel (the project itself is declared in pyproject.toml): compile the catalogues.

The .mo files are never committed: scripts/catalogues.py compiles every catalogue into the build folder,
with the same code scripts/setup runs for a checkout, and the build stops on a translation whose
placeholders differ from its message's. The schemas and the demo county come in as package data
(sync/contract/schema and kiosk/demo_county link to content/).
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, str(Path(__file__).resolve().parent / "scripts"))

from catalogues import compile_all  # found through the line above


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads the checkout, where scripts/setup compiles them
        problems = compile_all(Path(self.build_lib))
        if problems:
            raise SystemExit("translation catalogues:\n" + "\n".join(problems))


setup(cmdclass={"build_py": BuildWithCatalogues})
