"""Attacks on the update channel: a real signed county repository, a real kiosk sync, nothing mocked.

Each attack from the TUF threat model (https://theupdateframework.io/docs/security/) must be refused
with one sentence staff can act on, and the kiosk must keep showing the content it had: the installed
version is never lowered, the villager screens still answer, and `kiosk status` reports the failure.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from click.testing import CliRunner
from securesystemslib.signer import CryptoSigner, Signature
from tuf.api.metadata import Metadata, MetaFile, Root
from tuf.api.serialization.json import JSONSerializer

from kiosk.cli import main as kiosk_command
from kiosk.county.repo_files import RepositoryApp
from kiosk.device.status import kiosk_status
from kiosk.screens import create_app
from sync.publish import keys as keyfiles
from sync.publish.repository import ClockRefused, RepositoryError
from sync.publish.rotation import rotate
from sync.receive.fetcher import CHUNK
from sync.receive.install import current_database
from sync.receive.updater import SyncResult, init_kiosk, read_status, sync_kiosk
from tests.county_repo import VILLAGE, CountyRepo
from tests.servers import serving

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PADDING = 512 * 1024  # 32 times ngclient's 16 KiB limit for timestamp.json (waitress buffers it in memory)

# (file, item id, name) of a power item shown in the demo village: one in the county-wide scope,
# one in the village's own scope, so a change to each republishes a different delegated role.
COUNTY_POWER = ("powers/chuju-zhengming.yaml", "chuju-zhengming", "出具证明")
VILLAGE_POWER = ("powers/taoyuan-minsu-jingying.yaml", "taoyuan-minsu-jingying", "桃源村集体民宿委托经营")
Item = tuple[str, str, str]


# --- the county's side ---------------------------------------------------------------------------
def publish_change(county_repo: CountyRepo, item: Item, when: datetime) -> str:
    """Rename *item* and publish at *when* (so the content date moves on); return the new name."""
    file, _item_id, name = item
    new_name = f"{name}（第二版）"
    county_repo.edit(file, f"name: {name}", f"name: {new_name}")
    assert county_repo.publish(now=when).version is not None
    return new_name


def metadata_dir(county_repo: CountyRepo) -> Path:
    return county_repo.path / "metadata"


def target_files(folder: Path) -> set[Path]:
    return {path for path in (folder / "targets").rglob("*") if path.is_file()}


def flip_byte(file: Path) -> None:
    """Change one byte in the middle of *file*, keeping its name and length."""
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))


def read_metadata(file: Path) -> Metadata[Any]:
    return Metadata.from_bytes(file.read_bytes())


def write_signed(file: Path, metadata: Metadata[Any], signers: list[CryptoSigner]) -> None:
    """Sign *metadata* with exactly *signers* and write it to *file*, as the repository does."""
    metadata.signatures.clear()
    for signer in signers:
        metadata.sign(signer, append=True)
    file.write_bytes(metadata.to_bytes(JSONSerializer(compact=False)))


def online_key(county_repo: CountyRepo, role: str) -> CryptoSigner:
    return keyfiles.load(keyfiles.online_key_path(county_repo.keys, role))


def replace_metadata(county_repo: CountyRepo, saved: Path) -> None:
    """Make the repository serve the metadata folder *saved* (a state copied earlier)."""
    shutil.rmtree(metadata_dir(county_repo))
    shutil.copytree(saved, metadata_dir(county_repo))


# --- the kiosk's side ----------------------------------------------------------------------------
def english_day(iso_date: str | None) -> str:
    assert iso_date is not None
    return str(format_date(date.fromisoformat(iso_date), "long", locale="en"))


def screen(data_dir: Path, path: str = "/") -> str:
    """Return the villager screen at *path*, in English, from a freshly started kiosk app."""
    client = create_app({"TESTING": True, "DATA_DIR": str(data_dir), "SECRET_KEY": "x"}).test_client()
    client.get("/lang/en")
    response = client.get(path)
    assert response.status_code == 200, f"{path} answered {response.status_code}"
    return response.get_data(as_text=True)


def assert_shows(data_dir: Path, had: SyncResult, item: Item | None = None, name: str = "", not_name: str = "") -> None:
    """Assert the kiosk shows the content of *had*: its date on the home screen, *name* on *item*'s page."""
    assert f"Content updated {english_day(had.content_date)}" in screen(data_dir)
    if item is not None:
        page = screen(data_dir, f"/powers/{item[1]}")
        assert name in page
        assert not not_name or not_name not in page


def assert_refused(result: SyncResult, data_dir: Path, had: SyncResult, *reasons: str) -> None:
    """Assert the sync failed with a sentence giving *reasons*, and the kiosk still has what *had* installed."""
    assert result.outcome == "failed", result
    assert result.error is not None
    for reason in reasons:
        assert reason in result.error, result.error
    assert (result.version, result.content_date) == (had.version, had.content_date)
    status = kiosk_status(data_dir)
    assert status["last_outcome"] == "failed"
    assert status["last_error"] == result.error
    assert (status["version"], status["content_date"]) == (had.version, had.content_date)
    assert_shows(data_dir, had)


def first_sync(data_dir: Path, source: str | None = None, now: datetime | None = None) -> SyncResult:
    result = sync_kiosk(data_dir, source, now=now)
    assert result.outcome == "updated", result
    assert result.version == 2  # init signs snapshot 1, the fixture's publish snapshot 2
    return result


# --- 1. arbitrary software: a target's bytes changed ----------------------------------------------
def test_tampered_target_is_refused_and_old_content_stays(county_repo: CountyRepo, kiosk_data: Path) -> None:
    now = datetime.now(UTC)
    with serving(RepositoryApp(county_repo.path)) as url:
        had = first_sync(kiosk_data, url, now)
        published = target_files(county_repo.path)
        new_name = publish_change(county_repo, VILLAGE_POWER, now + DAY)
        shards = [f for f in target_files(county_repo.path) - published if f.name.endswith(".json.gz")]
        assert shards and all("village/taoyuan" in f.as_posix() for f in shards)
        originals = {file: file.read_bytes() for file in shards}
        for file in shards:
            flip_byte(file)

        result = sync_kiosk(kiosk_data, url, now=now + DAY)
        assert_refused(result, kiosk_data, had, "did not match its signed hash")
        assert_shows(kiosk_data, had, VILLAGE_POWER, VILLAGE_POWER[2], not_name=new_name)

        # Nothing of the refused bytes is kept (no poisoned partial download): right bytes install.
        for file, data in originals.items():
            file.write_bytes(data)
        fixed = sync_kiosk(kiosk_data, url, now=now + DAY)
    assert (fixed.outcome, fixed.version) == ("updated", 3), fixed
    assert_shows(kiosk_data, fixed, VILLAGE_POWER, new_name)


# --- 2. rollback: older metadata than the kiosk already trusts ------------------------------------
def test_rollback_to_older_metadata_is_refused(county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    first_sync(kiosk_data, now=now)
    before_publish = shutil.copytree(metadata_dir(county_repo), tmp_path / "metadata-v2")
    new_name = publish_change(county_repo, COUNTY_POWER, now + DAY)
    had = sync_kiosk(kiosk_data, now=now + DAY)
    assert (had.outcome, had.version) == ("updated", 3), had
    current = shutil.copytree(metadata_dir(county_repo), tmp_path / "metadata-v3")

    # A stale mirror (or someone in the middle) serves the repository as it was before the publish.
    replace_metadata(county_repo, before_publish)
    replayed = sync_kiosk(kiosk_data, now=now + DAY)
    assert_refused(replayed, kiosk_data, had, "wrong version", "timestamp version 2")
    assert_shows(kiosk_data, had, COUNTY_POWER, new_name)

    # With the timestamp key stolen: a newer timestamp that points back at the older snapshot.
    replace_metadata(county_repo, current)
    timestamp = read_metadata(current / "timestamp.json")
    timestamp.signed.version += 1
    timestamp.signed.snapshot_meta = MetaFile(version=2)
    write_signed(metadata_dir(county_repo) / "timestamp.json", timestamp, [online_key(county_repo, "timestamp")])
    old_snapshot = sync_kiosk(kiosk_data, now=now + DAY)
    assert_refused(old_snapshot, kiosk_data, had, "wrong version", "snapshot version")

    # With the snapshot key stolen too: a newer snapshot that lists the older county role.
    snapshot = read_metadata(current / "3.snapshot.json")
    snapshot.signed.version = 4
    snapshot.signed.meta["county.json"] = MetaFile(version=1)
    write_signed(metadata_dir(county_repo) / "4.snapshot.json", snapshot, [online_key(county_repo, "snapshot")])
    timestamp.signed.version += 1
    timestamp.signed.snapshot_meta = MetaFile(version=4)
    write_signed(metadata_dir(county_repo) / "timestamp.json", timestamp, [online_key(county_repo, "timestamp")])
    old_role = sync_kiosk(kiosk_data, now=now + DAY)
    assert_refused(old_role, kiosk_data, had, "wrong version", "county.json")
    assert_shows(kiosk_data, had, COUNTY_POWER, new_name)


# --- 3. freeze: metadata that is no longer fresh --------------------------------------------------
def test_frozen_or_expired_metadata_is_refused(county_repo: CountyRepo, kiosk_data: Path) -> None:
    now = datetime.now(UTC)
    had = first_sync(kiosk_data, now=now)

    # A frozen mirror keeps serving what it had; after a week its timestamp has expired.
    frozen = sync_kiosk(kiosk_data, now=now + timedelta(days=8))
    assert_refused(frozen, kiosk_data, had, "has expired", "timestamp.json is expired")
    assert "expired" in kiosk_status(kiosk_data)["last_error"]

    # A timestamp signed already expired (signed ten days ago, valid for seven) is refused too.
    county_repo.repository.refresh(now=now - timedelta(days=10), accept_clock=True)
    stale = sync_kiosk(kiosk_data, now=now + HOUR)
    assert_refused(stale, kiosk_data, had, "has expired", "timestamp.json is expired")
    assert "expired" in kiosk_status(kiosk_data)["last_error"]

    # Once the county refreshes again, the kiosk is back in service.
    county_repo.repository.refresh(now=now + timedelta(days=8))
    back = sync_kiosk(kiosk_data, now=now + timedelta(days=8))
    assert (back.outcome, back.version, back.error) == ("unchanged", had.version, None), back
    assert kiosk_status(kiosk_data)["last_outcome"] == "unchanged"


# --- 4. mix-and-match: metadata from different repository states ----------------------------------
def test_new_targets_metadata_with_an_old_snapshot_is_not_installed(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    had = first_sync(kiosk_data, now=now)
    metadata = metadata_dir(county_repo)
    old_timestamp = (metadata / "timestamp.json").read_bytes()
    new_name = publish_change(county_repo, COUNTY_POWER, now + DAY)
    assert (metadata / "2.county.json").exists()
    # A half-updated mirror: the new county role and its targets beside the old timestamp and
    # snapshot, the new role also under the name the old snapshot asks for (1.county.json).
    (metadata / "timestamp.json").write_bytes(old_timestamp)
    shutil.copyfile(metadata / "2.county.json", metadata / "1.county.json")

    mixed = sync_kiosk(kiosk_data, now=now + DAY)
    assert mixed.outcome in ("failed", "unchanged"), mixed
    assert (mixed.version, mixed.content_date) == (had.version, had.content_date)
    assert (kiosk_status(kiosk_data)["version"], kiosk_status(kiosk_data)["content_date"]) == (2, had.content_date)
    assert_shows(kiosk_data, had, COUNTY_POWER, COUNTY_POWER[2], not_name=new_name)

    # A kiosk without the county role yet has to download it, and refuses the mismatched one.
    fresh = tmp_path / "fresh-kiosk"
    init_kiosk(fresh, VILLAGE, str(county_repo.path), county_repo.root)
    refused = sync_kiosk(fresh, now=now + DAY)
    assert refused.outcome == "failed", refused
    assert refused.error is not None
    assert "refused" in refused.error and "county" in refused.error, refused.error
    assert current_database(fresh) is None
    assert (kiosk_status(fresh)["last_outcome"], kiosk_status(fresh)["version"]) == ("failed", None)


def test_old_targets_metadata_with_a_new_snapshot_is_refused(county_repo: CountyRepo, kiosk_data: Path) -> None:
    now = datetime.now(UTC)
    had = first_sync(kiosk_data, now=now)
    new_name = publish_change(county_repo, COUNTY_POWER, now + DAY)
    metadata = metadata_dir(county_repo)
    shutil.copyfile(metadata / "1.county.json", metadata / "2.county.json")  # new snapshot, old role

    result = sync_kiosk(kiosk_data, now=now + DAY)
    assert_refused(result, kiosk_data, had, "did not match its signed hash", "metadata/2.county.json")
    assert_shows(kiosk_data, had, COUNTY_POWER, COUNTY_POWER[2], not_name=new_name)


# --- 5. endless data -----------------------------------------------------------------------------
@pytest.mark.parametrize("over", ["folder", "http"])
def test_endless_timestamp_is_cut_off(county_repo: CountyRepo, kiosk_data: Path, over: str) -> None:
    now = datetime.now(UTC)
    with serving(RepositoryApp(county_repo.path)) as url:
        source = url if over == "http" else str(county_repo.path)
        had = first_sync(kiosk_data, source, now)
        timestamp = metadata_dir(county_repo) / "timestamp.json"
        timestamp.write_bytes(timestamp.read_bytes() + b" " * PADDING)  # still valid JSON, if read whole

        result = sync_kiosk(kiosk_data, source, now=now + HOUR)
    assert_refused(result, kiosk_data, had, "longer than its signed length", "cut off")
    assert result.bytes_downloaded <= 2 * CHUNK < PADDING, "the kiosk read on past the limit"


# --- 6. a key the county's root does not know -----------------------------------------------------
@pytest.mark.parametrize("forged", ["timestamp", "timestamp under the real key id", "county role", "root"])
def test_metadata_signed_with_an_unknown_key_is_refused(county_repo: CountyRepo, kiosk_data: Path, forged: str) -> None:
    """A role the snapshot names is refused by its recorded length and hash even before its signature."""
    now = datetime.now(UTC)
    had = first_sync(kiosk_data, now=now)
    new_name = publish_change(county_repo, COUNTY_POWER, now + DAY)
    metadata = metadata_dir(county_repo)
    stranger = CryptoSigner.generate_ed25519()
    if forged.startswith("timestamp"):
        timestamp = read_metadata(metadata / "timestamp.json")
        write_signed(metadata / "timestamp.json", timestamp, [stranger])
        if forged == "timestamp under the real key id":
            real = online_key(county_repo, "timestamp").public_key.keyid
            signature = timestamp.signatures.pop(stranger.public_key.keyid)
            timestamp.signatures[real] = Signature(real, signature.signature)
            (metadata / "timestamp.json").write_bytes(timestamp.to_bytes(JSONSerializer(compact=False)))
    elif forged == "county role":
        write_signed(metadata / "2.county.json", read_metadata(metadata / "2.county.json"), [stranger])
    else:
        root = read_metadata(metadata / "1.root.json")
        root.signed.version = 2
        for keyid in list(root.signed.roles["root"].keyids):
            root.signed.revoke_key(keyid, "root")
        root.signed.add_key(stranger.public_key, "root")
        write_signed(metadata / "2.root.json", root, [stranger])

    result = sync_kiosk(kiosk_data, now=now + DAY)
    reason = "metadata/2.county.json" if forged == "county role" else "not signed by the county's keys"
    assert_refused(result, kiosk_data, had, reason)
    assert_shows(kiosk_data, had, COUNTY_POWER, COUNTY_POWER[2], not_name=new_name)


# --- 7. a legitimate root key rotation ------------------------------------------------------------
def test_root_rotation_is_followed_and_the_old_key_refused(county_repo: CountyRepo, kiosk_data: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    metadata = metadata_dir(county_repo)
    old_root_key = keyfiles.load(county_repo.keys / "root" / "root-1.pem")
    old_timestamp_key = online_key(county_repo, "timestamp")
    with serving(RepositoryApp(county_repo.path)) as url:
        first_sync(kiosk_data, url, now)

        # The county takes its root key out of the safe and replaces the root key and the timestamp key.
        done = rotate(county_repo.repository, county_repo.keys / "root", ["root", "timestamp"], now=now)
        assert (done.root_version, done.replaced) == (2, ["root", "timestamp"])
        new_root_key = keyfiles.load(county_repo.keys / "root" / "root-1.pem")
        assert new_root_key.public_key.keyid != old_root_key.public_key.keyid
        assert (county_repo.keys / "root" / "retired-v1" / "root-1.pem").exists(), "the old key is kept aside"
        new_name = publish_change(county_repo, VILLAGE_POWER, now + DAY)  # timestamp signed with the new key

        rotated = sync_kiosk(kiosk_data, url, now=now + DAY)
        assert (rotated.outcome, rotated.error) == ("updated", None), rotated
        trusted: Metadata[Root] = read_metadata(kiosk_data / "tuf" / "metadata" / "root.json")
        assert trusted.signed.version == 2 and set(trusted.signed.roles["root"].keyids) == {
            new_root_key.public_key.keyid
        }
        assert_shows(kiosk_data, rotated, VILLAGE_POWER, new_name)

        # Whoever still holds the retired timestamp key can no longer sign for the county.
        timestamp = read_metadata(metadata / "timestamp.json")
        timestamp.signed.version += 1
        write_signed(metadata / "timestamp.json", timestamp, [old_timestamp_key])
        result = sync_kiosk(kiosk_data, url, now=now + DAY)
    assert_refused(result, kiosk_data, rotated, "not signed by the county's keys", "timestamp")
    assert_shows(kiosk_data, rotated, VILLAGE_POWER, new_name)


def test_a_new_targets_key_re_signs_every_scope_and_kiosks_follow(county_repo: CountyRepo, kiosk_data: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    old_targets_key = online_key(county_repo, "targets")
    first_sync(kiosk_data, now=now)
    rotate(county_repo.repository, county_repo.keys / "root", ["targets"], now=now)
    new_key = online_key(county_repo, "targets").public_key.keyid
    assert new_key != old_targets_key.public_key.keyid
    repository = county_repo.repository
    delegations = repository.role("targets").signed.delegations
    assert delegations is not None and delegations.roles is not None
    assert set(delegations.keys) == {new_key} and all(r.keyids == [new_key] for r in delegations.roles.values())
    new_name = publish_change(county_repo, VILLAGE_POWER, now + DAY)
    result = sync_kiosk(kiosk_data, now=now + DAY)
    assert (result.outcome, result.error) == ("updated", None), result
    assert_shows(kiosk_data, result, VILLAGE_POWER, new_name)


def test_renewing_the_root_alone_gives_kiosks_a_later_expiry(county_repo: CountyRepo, kiosk_data: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    first_sync(kiosk_data, now=now)
    later = now + timedelta(days=300)
    county_repo.repository.refresh(now=later, accept_clock=True)  # nobody signed for 300 days
    done = rotate(county_repo.repository, county_repo.keys / "root", now=later)
    assert done.replaced == [] and done.expires == later + timedelta(days=365)
    result = sync_kiosk(kiosk_data, now=later)
    assert result.outcome in ("updated", "unchanged") and result.error is None, result
    assert read_metadata(kiosk_data / "tuf" / "metadata" / "root.json").signed.expires == done.expires
    # Past the first root's expiry the kiosk goes on syncing on the renewed one.
    county_repo.repository.refresh(now=now + timedelta(days=400), accept_clock=True)
    assert sync_kiosk(kiosk_data, now=now + timedelta(days=400)).error is None


def test_a_root_cannot_be_renewed_without_enough_of_its_keys(county_repo: CountyRepo, tmp_path: Path) -> None:
    before = sorted(p.name for p in metadata_dir(county_repo).iterdir())
    stranger = tmp_path / "not-the-root-keys"
    keyfiles.generate(stranger / "root-1.pem")
    with pytest.raises(RepositoryError, match="0 of the current root keys"):
        rotate(county_repo.repository, stranger, ["timestamp"])
    assert sorted(p.name for p in metadata_dir(county_repo).iterdir()) == before, "nothing was signed"
    assert not list(county_repo.keys.rglob("*.new")), "and no key was made"


# --- 8. the kiosk clock far behind (a flat CMOS battery) ------------------------------------------
def test_clock_far_behind_uses_the_time_floor(county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    first = first_sync(kiosk_data, now=now)
    floor = datetime.fromisoformat(read_status(kiosk_data)["time_floor"])
    assert floor == county_repo.repository.last_signed()  # the county's signing time, to the second

    same = sync_kiosk(kiosk_data, now=EPOCH)
    assert (same.outcome, same.version, same.error) == ("unchanged", first.version, None), same
    assert datetime.fromisoformat(read_status(kiosk_data)["time_floor"]) >= floor  # never lowered

    saved = shutil.copytree(metadata_dir(county_repo), tmp_path / "metadata-v2")
    new_name = publish_change(county_repo, VILLAGE_POWER, now + DAY)
    had = sync_kiosk(kiosk_data, now=EPOCH)
    assert (had.outcome, had.version, had.error) == ("updated", 3, None), had
    assert_shows(kiosk_data, had, VILLAGE_POWER, new_name)
    floor = datetime.fromisoformat(read_status(kiosk_data)["time_floor"])
    assert floor >= now + DAY  # the newest verified signing time

    # Expiry is judged against the floor, not the 1970 clock: a timestamp signed already expired is refused.
    county_repo.repository.refresh(now=now - timedelta(days=10), accept_clock=True)
    ten_years_behind = now - timedelta(days=3653)
    stale = sync_kiosk(kiosk_data, now=ten_years_behind)
    assert_refused(stale, kiosk_data, had, "has expired", "timestamp.json is expired")
    assert f"Kiosk clock: {ten_years_behind:%Y-%m-%d %H:%M} UTC" in str(stale.error), "staff see the wrong clock"
    assert f"verified: {floor.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in str(stale.error), "and the floor it was raised to"

    # And replayed older metadata is refused as a rollback, whatever the clock says.
    replace_metadata(county_repo, saved)
    replayed = sync_kiosk(kiosk_data, now=EPOCH)
    assert_refused(replayed, kiosk_data, had, "wrong version")
    assert_shows(kiosk_data, had, VILLAGE_POWER, new_name)
    assert datetime.fromisoformat(read_status(kiosk_data)["time_floor"]) >= floor


# --- 9. the kiosk clock far ahead -----------------------------------------------------------------
def test_clock_far_ahead_is_refused_until_the_clock_is_right(county_repo: CountyRepo, kiosk_data: Path) -> None:
    now = datetime.now(UTC)
    had = first_sync(kiosk_data, now=now)
    ahead = now + timedelta(days=3653)

    result = sync_kiosk(kiosk_data, now=ahead)
    assert_refused(result, kiosk_data, had, "expired", "kiosk clock", f"{ahead:%Y-%m-%d}")
    assert "kiosk clock" in kiosk_status(kiosk_data)["last_error"]
    assert datetime.fromisoformat(read_status(kiosk_data)["time_floor"]) < ahead  # the wrong clock is not trusted

    new_name = publish_change(county_repo, VILLAGE_POWER, now + DAY)
    fixed = sync_kiosk(kiosk_data, now=now + DAY)
    assert (fixed.outcome, fixed.version, fixed.error) == ("updated", 3, None), fixed
    assert kiosk_status(kiosk_data)["last_outcome"] == "updated"
    assert_shows(kiosk_data, fixed, VILLAGE_POWER, new_name)


# --- 10. a USB stick ------------------------------------------------------------------------------
def test_usb_folder_syncs_and_a_tampered_usb_folder_is_refused(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    usb = tmp_path / "usb"
    assert county_repo.repository.export(usb) > 0
    had = first_sync(kiosk_data, str(usb), now)
    assert_shows(kiosk_data, had, VILLAGE_POWER, VILLAGE_POWER[2])

    new_name = publish_change(county_repo, VILLAGE_POWER, now + DAY)
    # Signed metadata changed on the stick: its signature no longer verifies.
    forged = tmp_path / "usb-tampered-metadata"
    county_repo.repository.export(forged)
    role = forged / "metadata" / "2.village-taoyuan.json"
    document = json.loads(role.read_bytes())
    document["signed"]["expires"] = "2099-01-01T00:00:00Z"
    role.write_text(json.dumps(document), encoding="utf-8")
    result = sync_kiosk(kiosk_data, str(forged), now=now + DAY)
    # The snapshot records each role's length and hash, so the change is caught before its signature.
    assert_refused(result, kiosk_data, had, "signed length", "metadata/2.village-taoyuan.json")

    # A content file changed on the stick: its bytes no longer match the signed hash.
    tampered = tmp_path / "usb-tampered-target"
    county_repo.repository.export(tampered)
    shards = [f for f in target_files(tampered) - target_files(usb) if f.name.endswith(".json.gz")]
    assert shards
    for file in shards:
        flip_byte(file)
    result = sync_kiosk(kiosk_data, str(tampered), now=now + DAY)
    assert_refused(result, kiosk_data, had, "did not match its signed hash")
    assert_shows(kiosk_data, had, VILLAGE_POWER, VILLAGE_POWER[2], not_name=new_name)

    # An untouched stick brings the new content.
    clean = tmp_path / "usb-clean"
    county_repo.repository.export(clean)
    fixed = sync_kiosk(kiosk_data, str(clean), now=now + DAY)
    assert (fixed.outcome, fixed.version, fixed.error) == ("updated", 3, None), fixed
    assert_shows(kiosk_data, fixed, VILLAGE_POWER, new_name)


# --- 11. a mirror serves one village's signed role as another's -----------------------------------
def village_notices(data_dir: Path) -> int:
    database = current_database(data_dir)
    assert database is not None
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return int(db.execute("select count(*) from notices").fetchone()[0])


def swap_village_roles(county_repo: CountyRepo, version: int, into: str = VILLAGE, source: str = "liutang") -> None:
    """Copy *source*'s signed scope and photo roles over *into*'s, as a hostile or broken mirror could."""
    metadata = metadata_dir(county_repo)
    for prefix in ("village-", "media-village-"):
        shutil.copyfile(metadata / f"{version}.{prefix}{source}.json", metadata / f"{version}.{prefix}{into}.json")


def test_a_new_kiosk_refuses_another_villages_role_in_place_of_its_own(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    swap_village_roles(county_repo, 1)
    result = sync_kiosk(kiosk_data, now=datetime.now(UTC))
    assert (result.outcome, result.version) == ("failed", None), result
    assert result.error is not None and "did not match its signed hash" in result.error, result.error
    assert current_database(kiosk_data) is None, "nothing was installed"


def test_an_existing_kiosk_keeps_its_villages_content_when_a_mirror_swaps_roles(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    had = first_sync(kiosk_data, now=now)
    notices = village_notices(kiosk_data)
    assert notices > 0
    # A routine refresh near the roles' expiry signs every role again (version 2), and a mirror
    # copies liutang's new roles over taoyuan's. Both are signed by the same targets key.
    for days in (30, 60, 78):
        county_repo.repository.refresh(now=now + timedelta(days=days))
    assert (metadata_dir(county_repo) / "2.village-taoyuan.json").exists()
    swap_village_roles(county_repo, 2)

    result = sync_kiosk(kiosk_data, now=now + timedelta(days=78))
    assert_refused(result, kiosk_data, had, "did not match its signed hash")
    assert village_notices(kiosk_data) == notices, "the village's own notices are still there"


def test_a_signed_role_without_its_scopes_manifest_is_a_failed_sync(county_repo: CountyRepo, kiosk_data: Path) -> None:
    """Even signed consistently (a county bug, or stolen snapshot and timestamp keys), another village's
    role is not taken for "this village has published nothing"."""
    now = datetime.now(UTC).replace(microsecond=0)
    had = first_sync(kiosk_data, now=now)
    notices = village_notices(kiosk_data)
    swap_village_roles(county_repo, 1)
    repository = county_repo.repository
    snapshot = repository.snapshot()
    for role in ("village-taoyuan", "media-village-taoyuan"):
        snapshot.signed.meta[f"{role}.json"] = repository.meta_file(role, 1)
    repository.sign_snapshot_and_timestamp(snapshot, now + HOUR)

    result = sync_kiosk(kiosk_data, now=now + HOUR)
    assert_refused(result, kiosk_data, had, "village-taoyuan", "village/taoyuan/manifest.json", "tampered")
    assert village_notices(kiosk_data) == notices


def test_a_repository_signed_before_roles_carried_hashes_is_bound_at_its_next_refresh(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    repository = county_repo.repository
    snapshot = repository.snapshot()
    for name, meta in list(snapshot.signed.meta.items()):
        snapshot.signed.meta[name] = MetaFile(version=meta.version)  # as published by earlier versions
    repository.sign_snapshot_and_timestamp(snapshot, now)
    first_sync_result = sync_kiosk(kiosk_data, now=now)
    assert first_sync_result.outcome == "updated", first_sync_result

    assert "snapshot" in repository.refresh(now=now + HOUR)
    assert all(meta.hashes and meta.length for meta in repository.snapshot().signed.meta.values())
    swap_village_roles(county_repo, 1)
    result = sync_kiosk(tmp_kiosk(county_repo, kiosk_data.parent), now=now + HOUR)
    assert result.outcome == "failed" and "did not match its signed hash" in str(result.error), result


def tmp_kiosk(county_repo: CountyRepo, folder: Path) -> Path:
    data = folder / "another-kiosk"
    init_kiosk(data, VILLAGE, str(county_repo.path), county_repo.root)
    return data


# --- 12. the county's clock ahead once ------------------------------------------------------------
def test_the_county_refuses_to_sign_with_a_clock_behind_or_far_past_its_last_signature(county_repo: CountyRepo) -> None:
    repository = county_repo.repository
    last = repository.last_signed()
    assert last is not None
    before = sorted(p.name for p in metadata_dir(county_repo).iterdir())
    timestamp = (metadata_dir(county_repo) / "timestamp.json").read_bytes()
    with pytest.raises(ClockRefused, match="earlier than the repository's last signature"):
        repository.refresh(now=last - DAY)
    with pytest.raises(ClockRefused, match="366 days past the repository's last signature"):
        repository.refresh(now=last + timedelta(days=366))
    with pytest.raises(ClockRefused, match="--accept-clock"):
        county_repo.publish(now=last + timedelta(days=366))
    with pytest.raises(ClockRefused):
        rotate(repository, county_repo.keys / "root", now=last - DAY)
    assert sorted(p.name for p in metadata_dir(county_repo).iterdir()) == before, "nothing was signed"
    assert (metadata_dir(county_repo) / "timestamp.json").read_bytes() == timestamp
    assert repository.refresh(now=last + timedelta(days=10)) == ["timestamp"], "a plausible clock signs"


def test_one_signature_from_a_county_clock_a_year_ahead_does_not_stop_the_kiosk(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    had = first_sync(kiosk_data, now=now)
    floor = datetime.fromisoformat(read_status(kiosk_data)["time_floor"])
    year_ahead = now + timedelta(days=365)
    # The officer overrides the check (or an older county server signed it): the harm is done once.
    county_repo.repository.refresh(now=year_ahead, accept_clock=True)
    poisoned = sync_kiosk(kiosk_data, now=now + HOUR)
    assert (poisoned.outcome, poisoned.error) == ("unchanged", None), poisoned
    status = read_status(kiosk_data)
    assert datetime.fromisoformat(status["time_floor"]) == floor, "a clock that looks right is not overruled"
    assert kiosk_status(kiosk_data)["county_clock_ahead"].startswith(f"{year_ahead:%Y-%m-%d}")

    # The county's clock is put right: the kiosk goes on syncing, and the warning goes.
    county_repo.repository.refresh(now=now + 2 * HOUR, accept_clock=True)
    new_name = publish_change(county_repo, VILLAGE_POWER, now + 3 * HOUR)
    fixed = sync_kiosk(kiosk_data, now=now + 3 * HOUR)
    assert (fixed.outcome, fixed.error) == ("updated", None), fixed
    assert_shows(kiosk_data, fixed, VILLAGE_POWER, new_name)
    assert "county_clock_ahead" not in read_status(kiosk_data)
    assert had.version is not None and fixed.version is not None and fixed.version > had.version


def test_a_floor_raised_by_a_wrong_county_clock_can_be_reset_by_staff(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    """A kiosk whose own clock is wrong too (a flat battery) must follow the county; staff can undo it."""
    now = datetime.now(UTC).replace(microsecond=0)
    first_sync(kiosk_data, now=now)
    floor = datetime.fromisoformat(read_status(kiosk_data)["time_floor"])
    county_repo.repository.refresh(now=now + timedelta(days=365), accept_clock=True)
    assert sync_kiosk(kiosk_data, now=EPOCH).error is None
    assert datetime.fromisoformat(read_status(kiosk_data)["time_floor"]) == now + timedelta(days=365)
    county_repo.repository.refresh(now=now + HOUR, accept_clock=True)
    stuck = sync_kiosk(kiosk_data, now=now + HOUR)
    assert stuck.outcome == "failed" and "expired" in str(stuck.error), stuck

    runner = CliRunner()
    done = runner.invoke(
        kiosk_command, ["reset-time-floor", "--data", str(kiosk_data)], env={"KIOSK_DEFAULT_LOCALE": "en"}
    )
    assert done.exit_code == 0, done.output
    assert f"{floor:%Y-%m-%d %H:%M}" in done.output
    assert datetime.fromisoformat(read_status(kiosk_data)["time_floor"]) == floor
    back = sync_kiosk(kiosk_data, now=now + HOUR)
    assert (back.outcome, back.error) == ("unchanged", None), back


# --- 13. the review's attacks on the clock and the channel ---------------------------------------
def reset_floor(data_dir: Path) -> str:
    done = CliRunner().invoke(
        kiosk_command, ["reset-time-floor", "--data", str(data_dir)], env={"KIOSK_DEFAULT_LOCALE": "en"}
    )
    assert done.exit_code == 0, done.output
    return done.output


def test_one_reset_undoes_a_wrong_county_clock_that_signed_for_several_nights(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    """Once one signature from a clock a year ahead is accepted, the next nights' refreshes pass the
    county's check: a kiosk with a flat battery follows every one of them, and one reset must undo them all."""
    now = datetime.now(UTC).replace(microsecond=0)
    flat_battery = datetime(2000, 1, 1, tzinfo=UTC)
    first_sync(kiosk_data, now=flat_battery)
    floor = datetime.fromisoformat(read_status(kiosk_data)["time_floor"])
    year_ahead = now + timedelta(days=200)  # (before the root's own expiry)
    county_repo.repository.refresh(now=year_ahead, accept_clock=True)
    for night in range(3):  # the nightly timer goes on signing with the wrong clock
        county_repo.repository.refresh(now=year_ahead + night * DAY)
        assert sync_kiosk(kiosk_data, now=flat_battery).error is None
    county_repo.repository.refresh(now=now + HOUR, accept_clock=True)  # the county's clock is put right
    stuck = sync_kiosk(kiosk_data, now=flat_battery)
    assert stuck.outcome == "failed" and "expired" in str(stuck.error), stuck

    reset_floor(kiosk_data)
    lowered = datetime.fromisoformat(read_status(kiosk_data).get("time_floor", floor.isoformat()))
    assert lowered <= floor, "the floor is back before the wrong clock's first signature"
    back = sync_kiosk(kiosk_data, now=flat_battery)
    assert (back.outcome, back.error) == ("unchanged", None), back


def test_a_kiosk_clock_minutes_behind_the_floor_still_judges_a_county_clock_a_year_ahead(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    """A kiosk clock a few minutes slow, syncing just after the county signed, looks right: within
    the hour `kiosk status` allows, it must not take a year-ahead signing time as its floor."""
    now = datetime.now(UTC).replace(microsecond=0)
    first_sync(kiosk_data, now=now)
    floor = datetime.fromisoformat(read_status(kiosk_data)["time_floor"])
    slow = floor - timedelta(minutes=5)  # the county signed five minutes ago by this kiosk's slow clock
    assert kiosk_status(kiosk_data)["clock_warning"] is None
    county_repo.repository.refresh(now=now + timedelta(days=365), accept_clock=True)
    result = sync_kiosk(kiosk_data, now=slow)
    assert (result.outcome, result.error) == ("unchanged", None), result
    assert datetime.fromisoformat(read_status(kiosk_data)["time_floor"]) == floor, "the year-ahead time was not taken"
    assert "county_clock_ahead" in read_status(kiosk_data)


@pytest.mark.parametrize("damage", [b"\xff\xfe\x00garbage", b"\x00" * 64, b"[1, 2]", b"null"])
def test_a_damaged_sync_status_file_leaves_screens_status_and_sync_working(
    county_repo: CountyRepo, kiosk_data: Path, damage: bytes
) -> None:
    """Every villager screen now reads the time floor from sync-status.json: damage there (a bad
    sector, a power cut) must not take the screens down, nor `kiosk status`, sync or the reset."""
    now = datetime.now(UTC).replace(microsecond=0)
    had = first_sync(kiosk_data, now=now)
    (kiosk_data / "sync-status.json").write_bytes(damage)
    assert_shows(kiosk_data, had, VILLAGE_POWER, VILLAGE_POWER[2])
    assert kiosk_status(kiosk_data)["version"] == had.version
    reset_floor(kiosk_data)
    (kiosk_data / "sync-status.json").write_bytes(damage)
    again = sync_kiosk(kiosk_data, now=now + HOUR)
    assert (again.outcome, again.error) == ("unchanged", None), again
    assert read_status(kiosk_data)["last_outcome"] == "unchanged", "a good status is written again"


def test_an_existing_kiosk_syncs_on_across_its_countys_upgrade_to_bound_roles(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    """A kiosk synced from a repository signed by the previous code (versions only) goes on syncing
    after the county's first refresh binds every role, and is then protected from the swap."""
    now = datetime.now(UTC).replace(microsecond=0)
    repository = county_repo.repository
    snapshot = repository.snapshot()
    for name, meta in list(snapshot.signed.meta.items()):
        snapshot.signed.meta[name] = MetaFile(version=meta.version)
    repository.sign_snapshot_and_timestamp(snapshot, now)
    had = sync_kiosk(kiosk_data, now=now)
    assert had.outcome == "updated", had

    repository.refresh(now=now + HOUR)
    same = sync_kiosk(kiosk_data, now=now + HOUR)
    assert (same.outcome, same.error) == ("unchanged", None), same
    new_name = publish_change(county_repo, VILLAGE_POWER, now + 2 * HOUR)
    moved = sync_kiosk(kiosk_data, now=now + 2 * HOUR)
    assert (moved.outcome, moved.error) == ("updated", None), moved
    assert_shows(kiosk_data, moved, VILLAGE_POWER, new_name)
    notices = village_notices(kiosk_data)
    metadata = metadata_dir(county_repo)
    shutil.copyfile(metadata / "1.village-liutang.json", metadata / "2.village-taoyuan.json")
    swapped = sync_kiosk(tmp_kiosk(county_repo, kiosk_data.parent), now=now + 2 * HOUR)
    assert swapped.outcome == "failed" and "did not match its signed hash" in str(swapped.error), swapped
    assert village_notices(kiosk_data) == notices


def test_a_kiosk_whose_floor_a_wrong_county_clock_raised_tells_staff_how_to_undo_it(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    """Staff who set the kiosk's clock right still see every sync fail as "expired": the sentence and
    `kiosk status` must name the way back, not only "set the clock right"."""
    now = datetime.now(UTC).replace(microsecond=0)
    flat_battery = datetime(2000, 1, 1, tzinfo=UTC)
    had = first_sync(kiosk_data, now=flat_battery)
    county_repo.repository.refresh(now=now + timedelta(days=200), accept_clock=True)
    assert sync_kiosk(kiosk_data, now=flat_battery).error is None
    county_repo.repository.refresh(now=now + HOUR, accept_clock=True)

    stuck = sync_kiosk(kiosk_data, now=now + 2 * HOUR)  # the kiosk's clock was set right
    assert_refused(stuck, kiosk_data, had, "expired", "kiosk reset-time-floor")
    shown = CliRunner().invoke(kiosk_command, ["status", "--data", str(kiosk_data)], env={"KIOSK_DEFAULT_LOCALE": "en"})
    assert shown.exit_code == 0, shown.output
    assert "behind the county's newest signature" in shown.output and "kiosk reset-time-floor" in shown.output


def test_resetting_a_floor_that_is_not_there_says_so(county_repo: CountyRepo, kiosk_data: Path) -> None:
    assert "no time floor yet: nothing was changed" in reset_floor(kiosk_data), "never synced"
    now = datetime.now(UTC).replace(microsecond=0)
    first_sync(kiosk_data, now=now)
    assert "lowered from" in reset_floor(kiosk_data)
    assert "no time floor yet: nothing was changed" in reset_floor(kiosk_data), "the second time"


def test_a_county_clock_hours_ahead_does_not_move_a_right_kiosks_screens(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    """A county server whose clock is 8 hours ahead (local time taken for UTC) signs within the day's
    lead the kiosk allows: a kiosk whose own clock is right must not show a notice before its
    publication time, end a 公示期 8 hours early, or tell staff to set its right clock wrong."""
    now = datetime.now(UTC).replace(microsecond=0)
    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    notice = "notices/caiwu-2026-10-taoyuan.md"
    county_repo.edit(notice, 'published: "2026-11-05"', f'published: "{local + 4 * HOUR:%Y-%m-%d %H:%M}"')
    county_repo.edit(notice, 'expires: "2026-12-09"', f'expires: "{local + 30 * DAY:%Y-%m-%d}"')
    county_repo.publish(now=now + 8 * HOUR)  # the county's clock, 8 hours ahead

    result = sync_kiosk(kiosk_data, now=now)
    assert (result.outcome, result.error) == ("updated", None), result
    client = create_app({"TESTING": True, "DATA_DIR": str(kiosk_data), "SECRET_KEY": "x"}).test_client()
    assert client.get("/notice/caiwu-2026-10-taoyuan").status_code == 404, "not before its publication time"
    assert kiosk_status(kiosk_data)["clock_warning"] is None, "a right clock is not called behind"
