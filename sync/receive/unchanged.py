"""A night with no change, decided on the verified snapshot alone: no delegated role is loaded, no shard opened.

The snapshot lists each role's version and hash. When a sync leaves the village's content current
(installed, patched, or found unchanged), it records a digest of the entries that can hold the
village's files: the top-level targets (which delegate the paths) and every role that is not
plainly another township's or village's. The next night, the same digest over the same installed
version means the same content, and the sync ends there (issue 17: a no-change night costs the same
at any county size).

The earliest expiry among the roles the sync loaded is recorded too: a role that has expired since
is noticed by the full check, which refuses it as it always did.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from sync.receive.database import installed_meta
from sync.receive.install import intact

RECORD = "unchanged_check"  # the key of the record in sync-status.json
TOP = "targets"
KEYS = ("database", "source", "township", "digest", "expires")


def _elsewhere(pattern: str, township: str, village: str) -> bool:
    """Tell whether a delegated path *pattern* only names another township's or village's files."""
    parts = pattern.split("/")
    if len(parts) < 3 or parts[0] not in ("township", "village") or any(c in parts[1] for c in "*?[]"):
        return False
    return parts[1] != {"township": township, "village": village}[parts[0]]


def roles_that_matter(trusted: Any, township: str, village: str) -> list[str]:
    """Name the roles of the verified top-level targets that can hold a file of the village's three scopes."""
    delegations = trusted.targets.delegations
    roles = delegations.roles if delegations is not None and delegations.roles else {}
    return [TOP, *sorted(
        name for name, role in roles.items()
        if role.paths is None or not all(_elsewhere(p, township, village) for p in role.paths)
    )]  # fmt: skip


def roles_digest(trusted: Any, township: str, village: str) -> str:
    """Digest the snapshot's entries (version, length, hashes) of the roles that matter to the village."""
    meta = trusted.snapshot.meta
    lines = [f"{township} {village}"]
    for name in roles_that_matter(trusted, township, village):
        entry = meta.get(f"{name}.json")
        lines.append(f"{name} none" if entry is None else f"{name} {entry.version} {entry.length} {entry.hashes}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def record(trusted: Any, village: str, installed: Path) -> dict[str, str] | None:
    """Return what tells the next sync that *installed* is still current, or None (no township recorded)."""
    township = installed_meta(installed, "township")
    if not township:
        return None
    names = roles_that_matter(trusted, township, village)
    expiries = [trusted[name].expires for name in names if name != TOP and name in trusted]
    if not expiries:  # no delegated role was loaded: nothing to judge expiry by, so no short night
        return None
    return {
        "database": installed.name,
        "source": installed_meta(installed, "source") or "",
        "township": township,
        "digest": roles_digest(trusted, township, village),
        "expires": min(expiries).isoformat(),
    }


def still_current(status: dict[str, Any], trusted: Any, config: dict[str, Any], installed: Path,
                  reference: datetime) -> bool:  # fmt: skip
    """Tell whether the record in *status* (sync-status.json, so checked for its form) shows *installed* current
    and intact, at the *reference* time, for the village of *config* (kiosk.json)."""
    kept = status.get(RECORD)
    if not intact(installed) or not isinstance(kept, dict) or not all(isinstance(kept.get(k), str) for k in KEYS):
        return False
    try:
        expires = datetime.fromisoformat(kept["expires"])
    except ValueError:
        return False
    return (
        kept["database"] == installed.name
        and expires.tzinfo is not None
        and reference < expires
        and kept["digest"] == roles_digest(trusted, kept["township"], config["village"])
        and installed_meta(installed, "source") == kept["source"]
    )
