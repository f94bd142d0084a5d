"""A click group whose commands are imported only when one is run (or listed with its help).

`kiosk serve` runs for months on a small board: importing every command's module at start would keep the
county's publishing and authoring code, python-tuf and jsonschema in its memory for nothing (issue 17,
point 6; tests/test_serve_footprint.py). This is click's "lazily loading subcommands" pattern.
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyGroup(click.Group):
    """A group whose *lazy_subcommands* map a command's name to "module.attribute", imported on first use."""

    def __init__(self, *args: Any, lazy_subcommands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_subcommands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, cmd_name: str) -> click.Command:
        module_name, _, attribute = self.lazy_subcommands[cmd_name].rpartition(".")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command) or command.name != cmd_name:
            raise ValueError(f"{self.lazy_subcommands[cmd_name]} is not the command {cmd_name!r}")
        return command
