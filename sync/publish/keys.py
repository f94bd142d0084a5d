"""The county's signing keys: Ed25519, one file each, root keys kept apart from the online keys.

    KEYS/online/targets.pem, snapshot.pem, timestamp.pem   used by publish and the nightly refresh
    KEYS/software/software.pem                             signs kiosk software releases, nothing else
    ROOT_KEYS/root-1.pem, root-2.pem, ...                  used only to create or rotate the root

Root keys decide who may sign anything; they belong offline (a USB stick in a safe), never on
the server that publishes every night.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, SSlibKey

from sync.contract.files import fsync_directory
from sync.contract.i18n import tr

ONLINE_ROLES = ("targets", "snapshot", "timestamp")
SOFTWARE = "software"  # sync.contract.software.ROLE
ROOT_WARNING = """\
These are the county's ROOT keys. Whoever holds them can make every kiosk in the county trust
anything. Move this folder to offline storage (for example two USB sticks kept in separate safes)
and delete it from this computer. You need it again only to rotate keys or renew the root.
"""


class SigningKeyError(Exception):
    """A key file is missing or unreadable."""


def write(path: Path, signer: CryptoSigner) -> None:
    """Write *signer*'s private key to *path*, readable by its owner only (never overwriting a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not atomic_write: its rename would replace a key that signed metadata already. O_EXCL refuses
    # that; the fsyncs keep a power cut from losing a key the signed root already names.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(signer.private_bytes)
        file.flush()
        os.fsync(file.fileno())
    fsync_directory(path.parent)


def generate(path: Path) -> CryptoSigner:
    """Make a new Ed25519 key and write it to *path* (never overwriting one)."""
    signer = CryptoSigner.generate_ed25519()
    write(path, signer)
    return signer


def load(path: Path) -> CryptoSigner:
    """Load the signer in *path*."""
    try:
        private = load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise SigningKeyError(tr("key file %(path)s is missing", path=path)) from None
    except ValueError as error:
        raise SigningKeyError(tr("key file %(path)s is not a private key: %(error)s", path=path, error=error)) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningKeyError(tr("key file %(path)s is not an Ed25519 key", path=path))
    return CryptoSigner(private, SSlibKey.from_crypto(private.public_key()))


def online_key_path(keys: Path, role: str) -> Path:
    """The key file of *role*: an online role's, or the software role's (a folder of its own, so that it can be
    kept away from the server that publishes content every night)."""
    if role == SOFTWARE:
        return Path(keys) / "software" / "software.pem"
    return Path(keys) / "online" / f"{role}.pem"


def root_key_paths(root_keys: Path) -> list[Path]:
    return sorted(Path(root_keys).glob("root-*.pem"))


def write_root_warning(root_keys: Path) -> None:
    (Path(root_keys) / "README-KEEP-OFFLINE.txt").write_text(ROOT_WARNING, encoding="utf-8")
