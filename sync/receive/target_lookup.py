"""Find a target in the roles ngclient has already loaded and verified (updater.py lists thousands of shards)."""

from __future__ import annotations

from typing import Any

from tuf.api.metadata import TargetFile, Targets

NOT_LOADED = object()


def looked_up(trusted: Any, path: str) -> TargetFile | object | None:
    """Find *path* as ngclient's get_targetinfo does, in roles it has already loaded and verified, without its
    search's cost for each of the thousands of shards of a county (a no-change night lists them all).

    The county's roles are one level deep, each terminating: the top-level targets, then the first role delegated
    the path. Returns NOT_LOADED (ngclient then looks) when that role is not loaded yet or the tree is deeper.
    """
    top: Targets = trusted.targets
    if path in top.targets:
        return top.targets[path]
    roles = top.delegations.roles if top.delegations is not None and top.delegations.roles else {}
    delegated = next((role for role in roles.values() if role.is_delegated_path(path)), None)
    if delegated is None:
        return None
    if not delegated.terminating or delegated.name not in trusted or trusted[delegated.name].delegations is not None:
        return NOT_LOADED
    found: TargetFile | None = trusted[delegated.name].targets.get(path)
    return found
