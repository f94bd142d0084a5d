"""The county's signed repository (TUF, python-tuf Metadata API): create, publish, refresh, export.

Layout of REPO (plain static files; any web server can serve it):

    metadata/1.root.json, 2.root.json ...   root, versioned (1.root.json ships with every kiosk)
    metadata/timestamp.json                 re-signed every night by `refresh`
    metadata/<v>.snapshot.json, <v>.targets.json, <v>.<role>.json
    targets/<scope>/<sha256>.<file>         content-addressed targets (consistent snapshots)

The top-level targets role delegates each scope to its own role (county, township-x, village-y),
so a kiosk reads only the metadata of the three scopes it shows (README: the update channel),
and each scope's photos to one more (media-county, media-village-y ...), which changes only when
a photo does. Metadata is compact JSON: the roles a changed item makes a kiosk fetch again are
most of the bytes of a small update.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Key,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from sync.contract import software
from sync.contract.channel import SIGNED_AT
from sync.contract.dates import utc_minute
from sync.contract.files import atomic_write
from sync.contract.i18n import tr
from sync.publish import keys as keyfiles
from sync.publish.lock import signing_lock

EXPIRY_DAYS = {"root": 365, "targets": 90, "snapshot": 30, "timestamp": 7}  # defaults; init may choose others
RENEW_WITHIN = timedelta(days=14)  # refresh re-signs online roles this close to expiry (or half their life)
MAX_EXPIRY_DAYS = 3650
ROOT_WARNING_AHEAD = timedelta(days=60)  # refresh warns this long before the root expires
SETTINGS = "repository.json"  # the county's choices for this repository (not signed; kiosks never read it)
# A county clock this far past the last signing is taken for a wrong clock unless the officer says it
# is right: one signature from a clock a year ahead would otherwise stop every kiosk.
MAX_CLOCK_LEAP = timedelta(days=31)


class RepositoryError(Exception):
    """The repository or its keys are not usable as asked."""


class ClockRefused(RepositoryError):
    """The county's clock is before its last signature, or implausibly far past it: nothing was signed."""


def signing_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Repository:
    """One county repository folder and the online keys that sign it."""

    def __init__(self, path: Path, keys: Path | None = None) -> None:
        self.path = Path(path)
        self.metadata = self.path / "metadata"
        self.targets = self.path / "targets"
        self.keys = Path(keys) if keys else None

    # --- reading -----------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.metadata / "timestamp.json").is_file()

    def stray_key(self) -> Path | None:
        """Return a key file lying inside the repository, where serving or copying it would hand it out."""
        return next(self.path.rglob("*.pem"), None)

    def root_expires_soon(self, now: datetime) -> datetime | None:
        """Return when the root expires if that is within ROOT_WARNING_AHEAD of *now* (kiosks stop updating then)."""
        expires = self.root().signed.expires
        return expires if expires - now < ROOT_WARNING_AHEAD else None

    def _read(self, name: str) -> Metadata[Any]:
        try:
            return Metadata.from_bytes((self.metadata / name).read_bytes())
        except FileNotFoundError:
            raise RepositoryError(
                tr("%(path)s is not a county repository (run kiosk county init)", path=self.path)
            ) from None

    def timestamp(self) -> Metadata[Timestamp]:
        return self._read("timestamp.json")

    def snapshot(self) -> Metadata[Snapshot]:
        return self._read(f"{self.timestamp().signed.snapshot_meta.version}.snapshot.json")

    def role(self, name: str, snapshot: Metadata[Snapshot] | None = None) -> Metadata[Targets]:
        meta = (snapshot or self.snapshot()).signed.meta[f"{name}.json"]
        return self._read(f"{meta.version}.{name}.json")

    def root(self) -> Metadata[Root]:
        versions = sorted(int(p.name.split(".")[0]) for p in self.metadata.glob("*.root.json"))
        return self._read(f"{versions[-1]}.root.json")

    def target_file(self, path: str, info: TargetFile) -> Path:
        directory, _, name = path.rpartition("/")
        return self.targets / directory / f"{info.hashes['sha256']}.{name}"

    def expiry_days(self) -> dict[str, int]:
        """Return how many days each role's metadata stays valid once signed."""
        try:
            chosen = json.loads((self.path / SETTINGS).read_text(encoding="utf-8"))["expiry_days"]
        except FileNotFoundError:
            chosen = {}
        return {**EXPIRY_DAYS, **chosen}

    def expires(self, role: str, now: datetime) -> datetime:
        return now + timedelta(days=self.expiry_days()[role])

    def renew_due(self, role: str, expires: datetime, now: datetime) -> bool:
        """Tell whether metadata of *role* expiring at *expires* should be signed again now."""
        return expires - now < min(RENEW_WITHIN, timedelta(days=self.expiry_days()[role]) / 2)

    # --- writing -----------------------------------------------------------------------------
    def signer(self, role: str) -> CryptoSigner:
        """Load the key of *role* (targets, snapshot, timestamp or software)."""
        if self.keys is None:
            raise RepositoryError(tr("the %(role)s key is needed: give --keys", role=role))
        return keyfiles.load(keyfiles.online_key_path(self.keys, role))

    def write_metadata(self, metadata: Metadata[Any], name: str, signers: list[CryptoSigner]) -> MetaFile:
        """Sign *metadata* with *signers* and write it as metadata/*name*, atomically.

        :returns: its version, length and hash, as the role above it records them.
        """
        metadata.signatures.clear()
        for signer in signers:
            metadata.sign(signer, append=True)
        data = metadata.to_bytes(JSONSerializer(compact=True))
        atomic_write(self.metadata / name, data)
        return _meta_file(metadata.signed.version, data)

    def meta_file(self, role: str, version: int) -> MetaFile:
        """Return the version, length and hash of the written metadata *role* at *version*."""
        return _meta_file(version, (self.metadata / f"{version}.{role}.json").read_bytes())

    def last_signed(self) -> datetime | None:
        """Return when the repository last signed its timestamp, or None for one never signed."""
        if not self.exists():
            return None
        signed_at = self.timestamp().signed.unrecognized_fields.get(SIGNED_AT)
        return datetime.fromisoformat(signed_at.replace("Z", "+00:00")) if signed_at else None

    def check_clock(self, now: datetime) -> None:
        """Refuse to sign at *now* when it is before the last signature or implausibly far past it.

        Kiosks keep the newest signing time they have seen as a floor for their own clocks, so one
        signature from a wrong county clock would judge everything later as expired.
        :raises ClockRefused: saying both times and what to do.
        """
        last = self.last_signed()
        if last is None:
            return
        if now < last:
            raise ClockRefused(
                tr("this server's clock (%(now)s) is earlier than the repository's last signature (%(last)s): "
                   "nothing was signed. Set the clock right; if the last signature was made by a clock that "
                   "was ahead, and the clock now is right, run the command again with --accept-clock",
                   now=utc_minute(now), last=utc_minute(last))
            )  # fmt: skip
        if now - last > MAX_CLOCK_LEAP:
            raise ClockRefused(
                tr("this server's clock (%(now)s) is %(days)s days past the repository's last signature (%(last)s): "
                   "nothing was signed, since a clock that is ahead would stop every kiosk. If the clock is "
                   "right (the repository was not signed for that long), run the command again with "
                   "--accept-clock", now=utc_minute(now), days=(now - last).days, last=utc_minute(last))
            )  # fmt: skip

    def write_target(self, path: str, data: bytes) -> TargetFile:
        info = TargetFile.from_data(path, data, ["sha256"])
        file = self.target_file(path, info)
        if not file.exists():
            file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(file, data)
        return info

    def sign_snapshot_and_timestamp(self, snapshot: Metadata[Snapshot], now: datetime, bump: bool = True) -> int:
        """Sign *snapshot* (as a new version) and a timestamp naming it; return the snapshot version."""
        snapshot.signed.version += bump
        snapshot.signed.expires = self.expires("snapshot", now)
        written = self.write_metadata(snapshot, f"{snapshot.signed.version}.snapshot.json", [self.signer("snapshot")])
        self._sign_timestamp(written, now)
        return snapshot.signed.version

    def _sign_timestamp(self, snapshot_meta: MetaFile, now: datetime) -> None:
        previous = self.timestamp().signed.version if self.exists() else 0
        timestamp = Metadata(
            Timestamp(
                version=previous + 1,
                expires=self.expires("timestamp", now),
                snapshot_meta=snapshot_meta,
                unrecognized_fields={SIGNED_AT: now.isoformat().replace("+00:00", "Z")},
            )
        )
        self.write_metadata(timestamp, "timestamp.json", [self.signer("timestamp")])

    # --- the county's commands -----------------------------------------------------------------
    def init(
        self,
        root_keys: Path,
        root_key_count: int = 1,
        root_threshold: int = 1,
        now: datetime | None = None,
        expiry_days: Mapping[str, int] | None = None,
    ) -> Path:
        """Create keys and an empty repository; return the root file kiosks must ship with."""
        if self.exists():
            raise RepositoryError(tr("%(path)s already holds a repository", path=self.path))
        for folder in (self.keys, root_keys):
            if folder is not None and folder.resolve().is_relative_to(self.path.resolve()):
                raise RepositoryError(tr("%(keys)s is inside the repository %(repo)s: whoever copies or serves the "
                                         "repository would have the keys. Give a keys folder outside it.",
                                         keys=folder, repo=self.path))  # fmt: skip
        if not 1 <= root_threshold <= root_key_count:
            raise RepositoryError(tr("the root threshold must be between 1 and the number of root keys"))
        if self.keys is None:
            raise RepositoryError(tr("give --keys"))
        for role, days in (expiry_days or {}).items():
            if role not in EXPIRY_DAYS or not 1 <= days <= MAX_EXPIRY_DAYS:
                raise RepositoryError(
                    tr("expiry %(role)s=%(days)s: give a role (root, targets, snapshot or timestamp) "
                       "and 1 to %(most)s days",
                       role=role, days=days, most=MAX_EXPIRY_DAYS)
                )  # fmt: skip
        now = now or signing_now()
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path / SETTINGS, json.dumps({"expiry_days": dict(expiry_days or {})}).encode())
        root = Root(expires=self.expires("root", now), consistent_snapshot=True)
        root_signers = [keyfiles.generate(Path(root_keys) / f"root-{n}.pem") for n in range(1, root_key_count + 1)]
        keyfiles.write_root_warning(Path(root_keys))
        for signer in root_signers:
            root.add_key(signer.public_key, "root")
        root.roles["root"].threshold = root_threshold
        for role in keyfiles.ONLINE_ROLES:
            root.add_key(keyfiles.generate(keyfiles.online_key_path(self.keys, role)).public_key, role)
        software.pin(root, keyfiles.generate(keyfiles.online_key_path(self.keys, software.ROLE)).public_key)
        self.metadata.mkdir(parents=True, exist_ok=True)
        self.targets.mkdir(parents=True, exist_ok=True)
        self.write_metadata(Metadata(root), "1.root.json", root_signers)
        targets = Targets(expires=self.expires("targets", now))
        targets.delegations = Delegations(keys={}, roles={})
        top = self.write_metadata(Metadata(targets), "1.targets.json", [self.signer("targets")])
        snapshot = Metadata(Snapshot(version=1, meta={"targets.json": top}))
        self.sign_snapshot_and_timestamp(snapshot, now, bump=False)
        return self.metadata / "1.root.json"

    def role_if_any(self, role: str, snapshot: Metadata[Snapshot]) -> Metadata[Targets] | None:
        return self.role(role, snapshot) if f"{role}.json" in snapshot.signed.meta else None

    def bind_roles(self, snapshot: Metadata[Snapshot]) -> bool:
        """Record the length and hash of every role that *snapshot* names by version only.

        Every scope role is signed by the same targets key, so a version alone would let a mirror
        serve one village's role as another's; with the hash, only the right file verifies.
        Repositories published before this carry versions only: they are bound at their next signing.
        :returns: whether anything was added (the snapshot must then be signed again).
        """
        unbound = [name for name, meta in snapshot.signed.meta.items() if not meta.hashes]
        for name in unbound:
            snapshot.signed.meta[name] = self.meta_file(name.removesuffix(".json"), snapshot.signed.meta[name].version)
        return bool(unbound)

    def sign_role(self, name: str, old: Metadata[Targets] | None, targets: dict[str, TargetFile],
                   now: datetime) -> dict[str, MetaFile]:  # fmt: skip
        role = Metadata(
            Targets(
                version=(old.signed.version if old else 0) + 1,
                expires=self.expires("targets", now),
                targets=targets,
            )
        )
        signer = self.signer(software.ROLE if name == software.ROLE else "targets")
        return {name: self.write_metadata(role, f"{role.signed.version}.{name}.json", [signer])}

    def resign_role(self, role: str, snapshot: Metadata[Snapshot], now: datetime,
                    change: Callable[[Targets], None] | None = None) -> None:  # fmt: skip
        """Sign targets metadata *role* again as a new version (after *change*), and note it in *snapshot*."""
        metadata = self.role(role, snapshot)
        if change is not None:
            change(metadata.signed)
        metadata.signed.version += 1
        metadata.signed.expires = self.expires("targets", now)
        name = f"{metadata.signed.version}.{role}.json"
        signer = self.signer(software.ROLE if role == software.ROLE else "targets")
        snapshot.signed.meta[f"{role}.json"] = self.write_metadata(metadata, name, [signer])

    def delegated_paths(self, snapshot: Metadata[Snapshot]) -> dict[str, list[str]]:
        """Return each content role delegated and the target paths it is trusted for (the software role aside)."""
        delegations = self.role("targets", snapshot).signed.delegations
        assert delegations is not None and delegations.roles is not None
        return {role: d.paths or [] for role, d in delegations.roles.items() if role != software.ROLE}

    def delegate(self, paths: Mapping[str, list[str]], snapshot: Metadata[Snapshot], now: datetime,
                 software_key: Key | None = None) -> None:  # fmt: skip
        """Sign a new top-level targets role that trusts the targets key for each content role's *paths*, and
        *software_key* (or the one it trusts now) for the software role's."""
        key = self.signer("targets").public_key
        current = self.role("targets", snapshot).signed.delegations

        def change(targets: Targets) -> None:
            roles = {role: DelegatedRole(role, [key.keyid], 1, True, paths=p) for role, p in sorted(paths.items())}
            keys: dict[str, Key] = {key.keyid: key}
            held = current.roles.get(software.ROLE) if current and current.roles else None
            chosen = software_key or (current.keys[held.keyids[0]] if current and held else None)
            if chosen is not None:
                roles[software.ROLE] = DelegatedRole(software.ROLE, [chosen.keyid], 1, True, paths=software.PATHS)
                keys[chosen.keyid] = chosen
            targets.delegations = Delegations(keys=keys, roles=roles)

        self.resign_role("targets", snapshot, now, change)

    def refresh(self, now: datetime | None = None, accept_clock: bool = False) -> list[str]:
        """Re-sign the timestamp, and any online role close to expiry; return what was re-signed.

        :param accept_clock: sign even if the clock looks wrong (see `check_clock`).
        """
        with signing_lock(self.path):  # one signing at a time (sync/publish/lock.py)
            return self._refresh(now or signing_now(), accept_clock)

    def _refresh(self, now: datetime, accept_clock: bool) -> list[str]:
        if not accept_clock:
            self.check_clock(now)
        snapshot = self.snapshot()
        renewed = []
        for name in sorted(snapshot.signed.meta):
            role = name.removesuffix(".json")
            if role == software.ROLE and not keyfiles.online_key_path(self.keys or Path(), role).is_file():
                continue  # its key is kept away from this server: `kiosk county release` renews it
            if self.renew_due("targets", self.role(role, snapshot).signed.expires, now):
                self.resign_role(role, snapshot, now)
                renewed.append(role)
        bound = self.bind_roles(snapshot)
        if renewed or bound or self.renew_due("snapshot", snapshot.signed.expires, now):
            self.sign_snapshot_and_timestamp(snapshot, now)
            renewed.append("snapshot")
        else:
            self._sign_timestamp(self.meta_file("snapshot", snapshot.signed.version), now)
        return [*renewed, "timestamp"]

    def export(self, out: Path) -> int:
        """Copy the current metadata and every target it names into *out*; return the file count."""
        out = Path(out)
        snapshot = self.snapshot()
        names = ["timestamp.json", f"{snapshot.signed.version}.snapshot.json"]
        names += [p.name for p in self.metadata.glob("*.root.json")]
        names += [f"{meta.version}.{name}" for name, meta in snapshot.signed.meta.items()]
        files = [(self.metadata / n, out / "metadata" / n) for n in names]
        for name in snapshot.signed.meta:
            role = self.role(name.removesuffix(".json"), snapshot)
            for path, info in role.signed.targets.items():
                source = self.target_file(path, info)
                files.append((source, out / "targets" / source.relative_to(self.targets)))
        for source, target in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        return len(files)


def _meta_file(version: int, data: bytes) -> MetaFile:
    return MetaFile(version=version, length=len(data), hashes={"sha256": hashlib.sha256(data).hexdigest()})
