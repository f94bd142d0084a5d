"""Publish a county's content into its signed repository: one role per scope, one for its photos.

Unchanged scopes keep their version, and no change publishes nothing; the summary counts what
changed per scope (repository.py holds the signing, this module what gets signed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from tuf.api.metadata import Metadata, MetaFile, Snapshot, TargetFile

from sync.contract import software
from sync.contract.channel import MEDIA_PREFIX, media_role_of, read_shard, role_of
from sync.contract.content import County
from sync.publish.bundle import Item, ScopeLayout, Shard, content_digest, county_items, layouts, manifest
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


class ShardMemory(Protocol):
    """What a publish's cache keeps of the last publish's shards (sync/publish/changed_files.py)."""

    def data_of(self, item: Item) -> bytes:
        """The data of an item the cache holds (its Item has none). :raises CacheDamaged: when it is not whole."""
        ...

    def kept(self, scope: str, name: str) -> tuple[str, str, int] | None:
        """The fingerprint of the shard *name* of *scope* last published, and the sha256 and length of its file."""
        ...

    def keep(self, shards: list[tuple[str, Shard, TargetFile]]) -> None:
        """Remember each (scope, shard, target) as now published."""
        ...


def publish_county(
    repository: Repository, county: County, now: datetime | None = None, accept_clock: bool = False
) -> PublishResult:
    """Publish *county*'s content; unchanged scopes keep their version, no change publishes nothing.

    :param accept_clock: sign even if the clock looks wrong (see `check_clock`).
    """
    return publish_items(repository, county_items(county), county.media, now, accept_clock)


def publish_items(
    repository: Repository, items: list[Item], media: dict[str, Path], now: datetime | None = None,
    accept_clock: bool = False, memory: ShardMemory | None = None,
) -> PublishResult:  # fmt: skip
    """Publish the county's *items* (county_items) with the photos *media* (county.media) as publish_county does.

    *memory* (the publish cache) reads the data of the items it holds, and says which shards would come out as
    the repository holds them already: those are taken as they are, not made again.
    """
    with signing_lock(repository.path):  # one signing at a time: a release may be paused meanwhile
        return _publish(repository, layouts(items, media), now or signing_now(), accept_clock, memory)


def _publish(
    repository: Repository, bundles: dict[str, ScopeLayout], now: datetime, accept_clock: bool,
    memory: ShardMemory | None,
) -> PublishResult:  # fmt: skip
    if not accept_clock:
        repository.check_clock(now)
    snapshot = repository.snapshot()
    paths = {role_of(scope): [f"{scope}/*"] for scope in bundles}
    paths |= {media_role_of(scope): [f"{scope}/media/*"] for scope, bundle in bundles.items() if bundle.photos}
    result = PublishResult(None)
    signed: dict[str, MetaFile] = {}  # role -> its new version, length and hash
    made: list[tuple[str, Shard, TargetFile]] = []
    for scope, bundle in sorted(bundles.items()):
        change = ScopeChange(scope)
        scope_signed = _publish_scope(repository, bundle, snapshot, change, now, memory, made)
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
            removed = len(_item_digests(repository, old.signed.targets))
            result.changes.append(ScopeChange(role.replace("-", "/", 1), removed=removed))
        signed |= repository.sign_role(role, old, {}, now)
    bound = repository.bind_roles(snapshot)
    if signed or bound:
        for role, meta in signed.items():
            snapshot.signed.meta[f"{role}.json"] = meta
        if repository.delegated_paths(snapshot) != paths:
            # Only a new, moved or removed scope changes the top-level role; kiosks then fetch it again.
            repository.delegate(paths, snapshot, now)
        result.version = repository.sign_snapshot_and_timestamp(snapshot, now)
    if memory is not None:
        memory.keep(made)
    return result


def _publish_scope(
    repository: Repository, bundle: ScopeLayout, snapshot: Metadata[Snapshot], change: ScopeChange, now: datetime,
    memory: ShardMemory | None, made: list[tuple[str, Shard, TargetFile]],
) -> dict[str, MetaFile]:  # fmt: skip
    """Write a scope's shards and its role if any item in it changed; count what changed."""
    name = role_of(bundle.scope)
    old = repository.role_if_any(name, snapshot)
    old_targets = dict(old.signed.targets) if old else {}
    manifest_path = f"{bundle.scope}/manifest.json"
    had_manifest = old_targets.pop(manifest_path, None) is not None
    shards = {f"{bundle.scope}/{shard.name}": shard for shard in bundle.shards}
    infos = {path: _shard_target(repository, bundle.scope, shard, old_targets.get(path), memory)
             for path, shard in shards.items()}  # fmt: skip
    made += [(bundle.scope, shards[path], info) for path, info in infos.items()]
    if old is not None and had_manifest and _same(old_targets, infos):
        return {}
    # Only the shards that differ hold items that differ: an item's shard follows from its id and the count.
    old_items = _item_digests(repository, {p: t for p, t in old_targets.items() if not _same_target(t, infos.get(p))})
    new_items = {item.key: item.digest for path, info in infos.items()
                 if not _same_target(info, old_targets.get(path)) for item in shards[path].items}  # fmt: skip
    infos[manifest_path] = repository.write_target(
        manifest_path, manifest(bundle.scope, len(bundle.shards), now.date().isoformat())
    )
    change.added = len(new_items.keys() - old_items.keys())
    change.changed = sum(1 for k in new_items.keys() & old_items.keys() if new_items[k] != old_items[k])
    change.removed = len(old_items.keys() - new_items.keys())
    return repository.sign_role(name, old, infos, now)


def _shard_target(
    repository: Repository, scope: str, shard: Shard, old: TargetFile | None, memory: ShardMemory | None
) -> TargetFile:
    """The target of *shard*: the one the repository holds when the shard would come out the same, else made."""
    path = f"{scope}/{shard.name}"
    if memory is not None and old is not None and (kept := memory.kept(scope, shard.name)) is not None:
        fingerprint, sha256, length = kept
        if (fingerprint, sha256, length) == (shard.fingerprint, old.hashes.get("sha256"), old.length) and (
            repository.target_file(path, old).is_file()
        ):
            return old
    return repository.write_target(path, shard.encoded(scope, memory.data_of if memory else _held))


def _held(item: Item) -> bytes:
    raise AssertionError(f"{item.key}: an item without its data needs the publish cache that holds it")


def _publish_photos(
    repository: Repository, bundle: ScopeLayout, snapshot: Metadata[Snapshot], change: ScopeChange, now: datetime
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


def _same_target(target: TargetFile, other: TargetFile | None) -> bool:
    return other is not None and target.hashes == other.hashes


def _item_digests(repository: Repository, targets: dict[str, TargetFile]) -> dict[str, str]:
    """Return kind/id -> digest of every item in the published shards among *targets* (for the change summary)."""
    digests = {}
    for path, info in targets.items():
        if path.rpartition("/")[2].startswith("shard-"):
            for item in read_shard(repository.target_file(path, info).read_bytes()):
                digests[f"{item['kind']}/{item['id']}"] = content_digest(item)
    return digests
