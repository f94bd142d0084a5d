"""Renew the county's root and replace signing keys: the one job that needs the offline root keys.

A kiosk trusts root version N and accepts root N+1 only when it is signed by a threshold of N's
root keys and by N+1's own: so a new root is signed by the old keys and the new ones. Kiosks pick
it up on their next sync, before anything else. Do this before the root expires (`kiosk county
refresh` warns two months ahead), and whenever a key may have been exposed.

Order, so that a crash never leaves a root that trusts keys nobody holds: new key files are
written first (``*.pem.new``), then the new root, then old key files move to ``retired-v<N>/`` and
the new ones take their place, then the online metadata is signed again with the new keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from securesystemslib.signer import CryptoSigner

from sync.contract import software
from sync.contract.i18n import tr
from sync.publish import keys as keyfiles
from sync.publish.lock import signing_lock
from sync.publish.repository import Repository, RepositoryError

ROLES = ("root", *keyfiles.ONLINE_ROLES, keyfiles.SOFTWARE)


@dataclass
class Rotation:
    root_version: int
    expires: datetime
    replaced: list[str]  # roles whose keys were replaced


def _pending(path: Path) -> Path:
    return path.with_name(path.name + ".new")


def rotate(
    repository: Repository,
    root_keys: Path,
    replace: Sequence[str] = (),
    now: datetime | None = None,
    accept_clock: bool = False,
) -> Rotation:
    """Sign a new root version (fresh expiry), replacing the keys of the roles in *replace*.

    :param accept_clock: sign even if the clock looks wrong (`Repository.check_clock`).
    """
    with signing_lock(repository.path):  # one signing at a time (sync/publish/lock.py)
        return _rotate(repository, root_keys, replace, now or datetime.now(UTC).replace(microsecond=0), accept_clock)


def _rotate(
    repository: Repository, root_keys: Path, replace: Sequence[str], now: datetime, accept_clock: bool
) -> Rotation:
    if not accept_clock:
        repository.check_clock(now)
    unknown = sorted(set(replace) - set(ROLES))
    if unknown:
        raise RepositoryError(tr("unknown roles: %(roles)s (give root, targets, snapshot, timestamp or software)",
                                 roles=", ".join(unknown)))  # fmt: skip
    if repository.keys is None:
        raise RepositoryError(tr("give --keys"))
    root = repository.root()
    old_version = root.signed.version
    trusted = set(root.signed.roles["root"].keyids)
    threshold = root.signed.roles["root"].threshold
    signers = [s for s in map(keyfiles.load, keyfiles.root_key_paths(root_keys)) if s.public_key.keyid in trusted]
    if len(signers) < threshold:
        raise RepositoryError(
            tr("%(found)s of the current root keys are in %(folder)s; %(needed)s are needed to sign a new root",
               found=len(signers), folder=root_keys, needed=threshold)
        )  # fmt: skip

    # 1. New keys, written beside the old ones.
    files: dict[Path, CryptoSigner] = {}  # final path -> new key
    if "root" in replace:
        for number in range(1, len(trusted) + 1):
            files[Path(root_keys) / f"root-{number}.pem"] = CryptoSigner.generate_ed25519()
    for role in (*keyfiles.ONLINE_ROLES, keyfiles.SOFTWARE):
        if role in replace:
            files[keyfiles.online_key_path(repository.keys, role)] = CryptoSigner.generate_ed25519()
    for path, signer in files.items():
        keyfiles.write(_pending(path), signer)

    # 2. The new root, signed by the old root keys and the new ones.
    for role in set(replace) - {keyfiles.SOFTWARE}:
        for keyid in list(root.signed.roles[role].keyids):
            root.signed.revoke_key(keyid, role)
    for path, signer in files.items():
        if path.stem == keyfiles.SOFTWARE:
            software.pin(root.signed, signer.public_key)  # not a role of TUF's root: a field the root keys sign
        else:
            root.signed.add_key(signer.public_key, "root" if path.name.startswith("root-") else path.stem)
    root.signed.version += 1
    root.signed.expires = repository.expires("root", now)
    new_root_signers = [s for p, s in files.items() if p.name.startswith("root-")]
    repository.write_metadata(root, f"{root.signed.version}.root.json", signers + new_root_signers)

    # 3. The new key files take the old ones' place.
    for path in files:
        if path.exists():
            retired = path.parent / f"retired-v{old_version}"
            retired.mkdir(exist_ok=True)
            path.replace(retired / path.name)
        _pending(path).replace(path)

    # 4. Online metadata signed again by the keys the new root names.
    if set(replace) & {*keyfiles.ONLINE_ROLES, keyfiles.SOFTWARE}:
        snapshot = repository.snapshot()
        if "targets" in replace:
            for name in sorted(snapshot.signed.meta.keys() - {"targets.json", f"{keyfiles.SOFTWARE}.json"}):
                repository.resign_role(name.removesuffix(".json"), snapshot, now)
        released = f"{keyfiles.SOFTWARE}.json" in snapshot.signed.meta  # delegated from the first release on
        if keyfiles.SOFTWARE in replace and released:
            repository.resign_role(keyfiles.SOFTWARE, snapshot, now)
        if "targets" in replace or (keyfiles.SOFTWARE in replace and released):
            new_key = repository.signer(keyfiles.SOFTWARE).public_key if keyfiles.SOFTWARE in replace else None
            repository.delegate(repository.delegated_paths(snapshot), snapshot, now, software_key=new_key)
        repository.sign_snapshot_and_timestamp(snapshot, now)
    return Rotation(root.signed.version, root.signed.expires, sorted(replace))
