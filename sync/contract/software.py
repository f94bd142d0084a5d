"""Kiosk software on the signed channel: what the county publishes and what every kiosk checks.

The county's root pins the key of the ``software`` role (PIN, a field of root.json that only the
root keys sign); the top-level targets role delegates ``software/*`` to that role. A kiosk takes a
release only when every role that may sign its files is the software role with exactly the pinned
keys: whoever holds the content (targets) key can delegate ``software/*`` to a key of their own, and
the kiosk refuses it (trusted_delegation).

    software/releases.json          the releases: version, upgrade_from, notes, wheels, rollout, state
    software/wheels/<name>.whl      the kiosk's wheel and every dependency's (content-addressed targets)

A release goes to the villages it names, or to a fixed share of villages (bucket: the same village
always falls in the same place for a version), or to every kiosk. Paused and withdrawn releases are
offered to none; a kiosk never takes a version lower than or equal to its own.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from packaging.version import InvalidVersion, Version
from tuf.api.metadata import Key, Root, Targets

from sync.contract.i18n import tr

ROLE = "software"
PATHS = ["software/*", "software/wheels/*"]  # TUF's * stops at a /
CHANNEL = "software/releases.json"
WHEELS = "software/wheels/"
PIN = "x-kiosk-software"  # root's field: {"keys": {keyid: key}, "threshold": 1}
STATES = ("active", "paused", "withdrawn")
PROJECT = "village-kiosk"  # the kiosk's distribution name
WHEEL_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,199}\.whl")  # a wheel's file name: nothing of a path


def pin(root: Root, key: Key) -> None:
    """Make *key* the one key of the software role, in *root* (to be signed by the root keys)."""
    root.unrecognized_fields[PIN] = {"keys": {key.keyid: key.to_dict()}, "threshold": 1}


def pinned(root: Root) -> dict[str, dict[str, Any]]:
    """The software role's keys *root* pins, by key id ({} for a root from before software releases)."""
    field = root.unrecognized_fields.get(PIN)
    keys = field.get("keys") if isinstance(field, dict) else None
    return dict(keys) if isinstance(keys, dict) else {}


def trusted_delegation(targets: Targets, root: Root, path: str) -> str | None:
    """Why the file *path* of a release cannot be trusted under the top-level *targets*, or None.

    The top-level targets role must not list *path* itself, and every delegated role that may sign it must be
    the software role with exactly the keys the root pins: ngclient takes a delegation's keys from the targets
    role, which the content key signs.
    """
    keys = pinned(root)
    if not keys:
        return tr("the county's root pins no software key: it has not set up software releases")
    if path in targets.targets:  # ngclient reads the top-level role's own targets before any delegation
        return tr("the county's content role lists %(path)s itself, which only the software key may sign: the "
                  "repository was tampered with, or its targets key misused", path=path)  # fmt: skip
    delegations = targets.delegations
    if delegations is None or not delegations.roles:
        return tr("no role of the county's signed metadata may sign %(path)s", path=path)
    signing = [role for role in delegations.roles.values() if role.is_delegated_path(path)]
    if not signing:
        return tr("no role of the county's signed metadata may sign %(path)s", path=path)
    for role in signing:
        given = {keyid: delegations.keys[keyid].to_dict() for keyid in role.keyids if keyid in delegations.keys}
        if role.name != ROLE or given != keys or len(role.keyids) != len(keys) or role.threshold < 1:
            return tr("the role %(role)s may sign %(path)s with keys the county's root does not pin for software: "
                      "the repository was tampered with, or its targets key misused",
                      role=role.name, path=path)  # fmt: skip
    return None


def version_of(text: str) -> Version | None:
    try:
        return Version(text)
    except (InvalidVersion, TypeError):
        return None


def bucket(village: str, version: str) -> int:
    """The village's place, 0–99, in the rollout of *version*: the same for every night of that version."""
    return int.from_bytes(hashlib.sha256(f"{version}\n{village}".encode()).digest()[:4], "big") % 100


def reaches(release: dict[str, Any], village: str) -> bool:
    """Whether *release*'s rollout includes *village* (named villages, a share of villages, or all)."""
    if release.get("villages"):
        return village in release["villages"]
    if release.get("percent") is not None:
        return bucket(village, str(release["version"])) < int(release["percent"])
    return True


def offered(releases: list[dict[str, Any]], village: str, current: str) -> dict[str, Any] | None:
    """The newest active release for *village* that *current* may upgrade to, or None."""
    have = version_of(current)
    if have is None:
        return None
    best: tuple[Version, dict[str, Any]] | None = None
    for release in releases:
        version, floor = version_of(str(release.get("version"))), version_of(str(release.get("upgrade_from", "0")))
        if version is None or floor is None or release.get("state") != "active" or not _sound(release):
            continue  # a release the kiosk cannot read is one it does not take
        if reaches(release, village) and version > have >= floor and (best is None or version > best[0]):
            best = (version, release)
    return best[1] if best else None


def _sound(release: dict[str, Any]) -> bool:
    """Whether *release* says what a kiosk needs, in the form it needs it."""
    wheels, villages, percent = release.get("wheels"), release.get("villages"), release.get("percent")
    return (
        isinstance(wheels, list) and all(isinstance(w, str) and WHEEL_NAME.fullmatch(w) for w in wheels)
        and (villages is None or (isinstance(villages, list) and all(isinstance(v, str) for v in villages)))
        and (percent is None or (isinstance(percent, int) and not isinstance(percent, bool) and 0 <= percent <= 100))
    )  # fmt: skip
