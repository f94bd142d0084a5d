"""Publish a county's content into its signed repository: one role per scope, one for its photos.

Unchanged scopes keep their version, and no change publishes nothing; the summary counts what
changed per scope (repository.py holds the signing, this module what gets signed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tuf.api.metadata import Metadata, MetaFile, Snapshot, TargetFile, Targets

from sync.contract import software
from sync.contract.channel import MEDIA_PREFIX, media_role_of, read_shard, role_of
from sync.contract.content import County
from sync.publish.bundle import ScopeBundle, build_bundles, content_digest, manifest
from sync.publish.lock import signing_lock
from sync.publish.repository import Repository, signing_now


@dataclass
class ScopeChange:
    """What one publish changed in one scope, for the summary."""

    scope: str
    added: int = 0
    changed: int = 0
    removed: int = 0
    photos: int = 0  # photos added, replaced or removed

    @property
    def only_moved(self) -> bool:
        """Signed again only because its items' places in the county's list moved (an item added before them)."""
        return not (self.added or self.changed or self.removed or self.photos)


@dataclass
class PublishResult:
    version: int | None  # the new snapshot version, None when nothing changed
    changes: list[ScopeChange] = field(default_factory=list)


def publish_county(
    repository: Repository, county: County, now: datetime | None = None, accept_clock: bool = False
) -> PublishResult:
    """Publish *county*'s content; unchanged scopes keep their version, no change publishes nothing.

    :param accept_clock: sign even if the clock looks wrong (see `check_clock`).
    """
    with signing_lock(repository.path):  # one signing at a time: a release may be paused meanwhile
        return _publish(repository, county, now or signing_now(), accept_clock)


def _publish(repository: Repository, county: County, now: datetime, accept_clock: bool) -> PublishResult:
    if not accept_clock:
        repository.check_clock(now)
    snapshot = repository.snapshot()
    bundles = build_bundles(county)
    paths = {role_of(scope): [f"{scope}/*"] for scope in bundles}
    paths |= {media_role_of(scope): [f"{scope}/media/*"] for scope, bundle in bundles.items() if bundle.photos}
    result = PublishResult(None)
    signed: dict[str, MetaFile] = {}  # role -> its new version, length and hash
    for scope, bundle in sorted(bundles.items()):
        change = ScopeChange(scope)
        scope_signed = _publish_scope(repository, bundle, snapshot, change, now)
        if bundle.photos or f"{media_role_of(scope)}.json" in snapshot.signed.meta:
            scope_signed |= _publish_photos(repository, bundle, snapshot, change, now)
        if scope_signed:
            result.changes.append(change)
            signed |= scope_signed
    # TUF forbids a snapshot to drop a role kiosks have seen, so a scope that goes away keeps
    # its role, signed again with no targets; if the scope comes back, its versions go on.
    for name in sorted(snapshot.signed.meta.keys() - {"targets.json"}):
        role = name.removesuffix(".json")
        if role in paths or role in signed or role == software.ROLE:
            continue
        old = repository.role(role, snapshot)
        if not old.signed.targets:
            continue
        if not role.startswith(MEDIA_PREFIX):
            result.changes.append(ScopeChange(role.replace("-", "/", 1), removed=len(_item_digests(repository, old))))
        signed |= repository.sign_role(role, old, {}, now)
    bound = repository.bind_roles(snapshot)
    if not signed and not bound:
        return result
    for role, meta in signed.items():
        snapshot.signed.meta[f"{role}.json"] = meta
    if repository.delegated_paths(snapshot) != paths:
        # Only a new, moved or removed scope changes the top-level role; kiosks then fetch it again.
        repository.delegate(paths, snapshot, now)
    result.version = repository.sign_snapshot_and_timestamp(snapshot, now)
    return result


def _publish_scope(
    repository: Repository, bundle: ScopeBundle, snapshot: Metadata[Snapshot], change: ScopeChange, now: datetime
) -> dict[str, MetaFile]:
    """Write a scope's shards and its role if any item in it changed; count what changed."""
    name = role_of(bundle.scope)
    old = repository.role_if_any(name, snapshot)
    content = {f"{bundle.scope}/{shard}": data for shard, data in bundle.shards.items()}
    infos = {path: TargetFile.from_data(path, data, ["sha256"]) for path, data in content.items()}
    manifest_path = f"{bundle.scope}/manifest.json"
    old_targets = dict(old.signed.targets) if old else {}
    if old is not None and old_targets.pop(manifest_path, None) is not None and _same(old_targets, infos):
        return {}
    old_items = _item_digests(repository, old) if old else {}
    for path, data in content.items():
        repository.write_target(path, data)
    infos[manifest_path] = repository.write_target(manifest_path, manifest(bundle, now.date().isoformat()))
    new_items = bundle.items
    change.added = len(new_items.keys() - old_items.keys())
    change.changed = sum(1 for k in new_items.keys() & old_items.keys() if new_items[k] != old_items[k])
    change.removed = len(old_items.keys() - new_items.keys())
    return repository.sign_role(name, old, infos, now)


def _publish_photos(
    repository: Repository, bundle: ScopeBundle, snapshot: Metadata[Snapshot], change: ScopeChange, now: datetime
) -> dict[str, MetaFile]:
    """Write a scope's photos and their role if any photo changed (a role of their own: see bundle.py)."""
    name = media_role_of(bundle.scope)
    old = repository.role_if_any(name, snapshot)
    old_targets = dict(old.signed.targets) if old else {}
    sources = {f"{bundle.scope}/{ref}": source for ref, source in bundle.photos.items()}
    infos = {path: TargetFile.from_file(path, str(source), ["sha256"]) for path, source in sources.items()}
    if _same(old_targets, infos):
        return {}
    for path, source in sources.items():
        repository.write_target(path, source.read_bytes())
    change.photos = len(old_targets.keys() ^ infos.keys()) + sum(
        1 for p in old_targets.keys() & infos.keys() if old_targets[p].hashes != infos[p].hashes
    )
    return repository.sign_role(name, old, infos, now)


def _same(old: dict[str, TargetFile], new: dict[str, TargetFile]) -> bool:
    return old.keys() == new.keys() and all(old[p].hashes == new[p].hashes for p in new)


def _item_digests(repository: Repository, role: Metadata[Targets]) -> dict[str, str]:
    """Return kind/id -> digest of every item in a published scope (for the change summary)."""
    digests = {}
    for path, info in role.signed.targets.items():
        if path.rpartition("/")[2].startswith("shard-"):
            for item in read_shard(repository.target_file(path, info).read_bytes()):
                digests[f"{item['kind']}/{item['id']}"] = content_digest(item)
    return digests
