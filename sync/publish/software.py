"""Kiosk software releases, published by the county on its signed channel (sync.contract.software says
what kiosks read and check).

`kiosk county release WHEELHOUSE` takes a folder of wheels made with `pip download` for the kiosks'
platform (README: software updates): the kiosk's own wheel names the version. Each wheel becomes a
target under software/wheels/ (content-addressed: a wheel that did not change between releases is
the same file, and kiosks that hold it fetch nothing), the release is added to software/releases.json,
and the software role is signed with the software key, never the content key. Pausing, resuming and
withdrawing a release sign releases.json again with its new state.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from tuf.api.metadata import Metadata, Snapshot, TargetFile

from sync.contract import software
from sync.contract.channel import canonical, read_shard, role_of
from sync.contract.i18n import tr
from sync.publish.lock import signing_lock
from sync.publish.repository import Repository, RepositoryError, signing_now

MAX_WHEEL_BYTES = 100 * 1024 * 1024  # the largest dependency wheel a kiosk needs is a few MB
KIOSK_WHEEL = re.compile(r"village_kiosk-([^-]+)-.*\.whl")


def releases(repository: Repository, snapshot: Metadata[Snapshot] | None = None) -> list[dict[str, Any]]:
    """The releases published so far, oldest first ([] before the first)."""
    snapshot = snapshot or repository.snapshot()
    role = repository.role_if_any(software.ROLE, snapshot)
    info = role.signed.targets.get(software.CHANNEL) if role else None
    if info is None:
        return []
    listed: list[dict[str, Any]] = json.loads(repository.target_file(software.CHANNEL, info).read_bytes())["releases"]
    return listed


def publish_release(
    repository: Repository, wheelhouse: Path, *, villages: list[str] | None = None, percent: int | None = None,
    notes: str = "", upgrade_from: str = "0", now: datetime | None = None, accept_clock: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Publish the wheels in *wheelhouse* as a new release; return it.

    :raises RepositoryError: no kiosk wheel, a version not newer than every release, a bad rollout or a wheel
        past MAX_WHEEL_BYTES (nothing is signed then).
    """
    now = now or signing_now()
    if not accept_clock:
        repository.check_clock(now)
    wheels = sorted(Path(wheelhouse).glob("*.whl"))
    kiosk = [match.group(1) for wheel in wheels if (match := KIOSK_WHEEL.fullmatch(wheel.name))]
    if len(kiosk) != 1:
        raise RepositoryError(tr("%(folder)s must hold exactly one village_kiosk wheel; it holds %(count)s",
                                 folder=wheelhouse, count=len(kiosk)))  # fmt: skip
    version, floor = software.version_of(kiosk[0]), software.version_of(upgrade_from)
    if version is None or floor is None:
        raise RepositoryError(tr("%(version)s is not a version number", version=upgrade_from if version else kiosk[0]))
    if (percent is not None and not 1 <= percent <= 100) or (villages and percent is not None):
        raise RepositoryError(tr("give either villages or a share of 1 to 100 percent, not both"))
    if floor >= version:
        raise RepositoryError(tr("a release %(version)s that upgrades only from %(floor)s or later reaches no kiosk: "
                                 "--upgrade-from must be older", version=version, floor=floor))  # fmt: skip
    with signing_lock(repository.path):  # from reading the snapshot to signing the timestamp
        snapshot = repository.snapshot()
        known = _published_villages(repository, snapshot)
        if known is not None and (unknown := sorted(set(villages or []) - known)):
            raise RepositoryError(tr("the county's published content has no village %(codes)s: a release for it would "
                                     "reach no kiosk; check the codes", codes=", ".join(unknown)))  # fmt: skip
        published = releases(repository, snapshot)
        for earlier in published:
            before = software.version_of(str(earlier["version"]))
            if before is not None and version <= before:
                raise RepositoryError(tr("release %(version)s is not newer than %(earlier)s, already published: kiosks "
                                         "never go back to an older version", version=version,
                                         earlier=earlier["version"]))  # fmt: skip
        for wheel in wheels:
            if (
                not software.WHEEL_NAME.fullmatch(wheel.name)
                or wheel.is_symlink()
                or not wheel.is_file()
                or wheel.stat().st_size > MAX_WHEEL_BYTES
            ):
                raise RepositoryError(tr("%(file)s is not a wheel a kiosk installs (its name, a link or a folder, or "
                                         "over %(mb)s MB)", file=wheel, mb=MAX_WHEEL_BYTES // 2**20))  # fmt: skip
        release = {
            "version": str(version), "upgrade_from": upgrade_from, "notes": notes, "wheels": [w.name for w in wheels],
            "villages": sorted(set(villages)) if villages else None, "percent": percent, "state": "active",
            "published": now.isoformat(),
        }  # fmt: skip
        written = {}
        for wheel in wheels:
            path = f"{software.WHEELS}{wheel.name}"
            written[path] = repository.write_target(path, wheel.read_bytes())
        _sign(repository, snapshot, [*published, release], written, now)
        return release


def _published_villages(repository: Repository, snapshot: Metadata[Snapshot]) -> set[str] | None:
    """The codes of the villages in the county's published county.yaml (None before any content is published)."""
    role = repository.role_if_any(role_of("county"), snapshot)
    for path, info in role.signed.targets.items() if role else []:
        if path.rpartition("/")[2].startswith("shard-"):
            for item in read_shard(repository.target_file(path, info).read_bytes()):
                if item["kind"] == "county":
                    return {v["code"] for township in item["data"]["townships"] for v in township["villages"]}
    return None


def set_state(
    repository: Repository, version: str, state: str, now: datetime | None = None, accept_clock: bool = False,
    wait: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Pause, resume (active) or withdraw the release *version*; return it. A release in *state* already is left
    as it is (nothing signed), so two people pausing it at once sign it once.

    :param wait: at most this many seconds for another signing to end (None: as long as it takes).
    :raises RepositoryBusy: *wait* passed first.
    """
    if state not in software.STATES:
        raise RepositoryError(tr("%(state)s is not a release state", state=state))
    with signing_lock(repository.path, wait):
        now = now or signing_now()
        snapshot = repository.snapshot()
        published = releases(repository, snapshot)
        found = next((release for release in published if release["version"] == version), None)
        if found is None:
            raise RepositoryError(tr("no release %(version)s has been published", version=version))
        if found["state"] == state:
            return found
        if found["state"] == "withdrawn":
            raise RepositoryError(tr("release %(version)s was withdrawn: publish a newer one", version=version))
        if not accept_clock:
            repository.check_clock(now)
        found["state"] = state
        _sign(repository, snapshot, published, {}, now)
    return found


def _sign(repository: Repository, snapshot: Metadata[Snapshot], listed: list[dict[str, Any]],
          written: dict[str, TargetFile], now: datetime) -> None:  # fmt: skip
    """Sign the software role holding *listed* (and the wheels of its releases not withdrawn), then the snapshot."""
    signer = repository.signer(software.ROLE)
    root = repository.root().signed
    if signer.public_key.keyid not in software.pinned(root):
        raise RepositoryError(tr("the software key in %(keys)s is not the one the county's root names: run kiosk "
                                 "county rotate --replace software with the root keys first",
                                 keys=repository.keys))  # fmt: skip
    old = repository.role_if_any(software.ROLE, snapshot)
    held = dict(old.signed.targets) if old else {}
    wanted = {f"{software.WHEELS}{name}" for r in listed if r["state"] != "withdrawn" for name in r["wheels"]}
    targets = {path: info for path, info in {**held, **written}.items() if path in wanted}
    targets[software.CHANNEL] = repository.write_target(software.CHANNEL, canonical({"releases": listed}))
    snapshot.signed.meta.update(
        {f"{name}.json": meta for name, meta in repository.sign_role(software.ROLE, old, targets, now).items()}
    )
    delegations = repository.role("targets", snapshot).signed.delegations
    delegated = delegations.roles.get(software.ROLE) if delegations and delegations.roles else None
    if delegated is None or delegated.keyids != [signer.public_key.keyid] or delegated.paths != software.PATHS:
        repository.delegate(repository.delegated_paths(snapshot), snapshot, now, software_key=signer.public_key)
    repository.sign_snapshot_and_timestamp(snapshot, now)
