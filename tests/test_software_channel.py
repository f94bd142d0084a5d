"""Kiosk software on the signed channel: the county publishes a release signed with the software key; a
kiosk is offered it only when that key is the one its root pins, never an older version, only in its
rollout, and not while it is paused or withdrawn. A release signed with the content key is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.contract import software
from sync.contract.channel import canonical
from sync.publish import keys as keyfiles
from sync.publish.repository import Repository, RepositoryError, signing_now
from sync.publish.software import publish_release, releases, set_state
from sync.receive.software import offer
from sync.receive.updater import SyncError, sync_kiosk
from tests.county_repo import VILLAGE, CountyRepo


def wheelhouse(folder: Path, version: str, dependency: bytes = b"a dependency, the same in every release") -> Path:
    """A folder of wheels as `pip download` leaves it: the kiosk's own and one dependency (bytes stand in)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"village_kiosk-{version}-py3-none-any.whl").write_bytes(f"the kiosk {version}".encode())
    (folder / "qrcode-8.0-py3-none-any.whl").write_bytes(dependency)
    return folder


def test_a_release_is_published_with_its_own_key_and_offered_to_a_kiosk(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path
) -> None:
    repository = county_repo.repository
    assert sync_kiosk(kiosk_data).outcome == "updated"
    assert offer(kiosk_data, "0.1.0") is None, "nothing published yet"
    release = publish_release(
        repository, wheelhouse(tmp_path / "w1", "0.2.0"), notes="修正通知列表", upgrade_from="0.1.0"
    )
    assert release["wheels"] == ["qrcode-8.0-py3-none-any.whl", "village_kiosk-0.2.0-py3-none-any.whl"]
    root = repository.root().signed
    delegations = repository.role("targets").signed.delegations
    assert delegations is not None and delegations.roles is not None
    [keyid] = delegations.roles[software.ROLE].keyids
    assert keyid in software.pinned(root) and keyid not in root.roles["targets"].keyids, "a key of its own"

    assert sync_kiosk(kiosk_data).outcome == "unchanged", "content is untouched by a release"
    offered = offer(kiosk_data, "0.1.0")
    assert offered is not None and (offered["version"], offered["notes"]) == ("0.2.0", "修正通知列表")
    assert offer(kiosk_data, "0.2.0") is None, "a kiosk never takes its own version again"
    assert offer(kiosk_data, "0.0.9") is None, "0.2.0 upgrades only from 0.1.0 or later"


def test_an_older_or_equal_version_and_a_bad_rollout_are_refused_before_anything_is_signed(
    county_repo: CountyRepo, tmp_path: Path
) -> None:
    repository = county_repo.repository
    publish_release(repository, wheelhouse(tmp_path / "w1", "0.3.0"))
    before = repository.snapshot().signed.version
    for version in ("0.2.9", "0.3.0"):
        with pytest.raises(RepositoryError, match=r"not newer than 0\.3\.0"):
            publish_release(repository, wheelhouse(tmp_path / version, version))
    with pytest.raises(RepositoryError, match="villages or a share"):
        publish_release(repository, wheelhouse(tmp_path / "w2", "0.4.0"), villages=[VILLAGE], percent=10)
    with pytest.raises(RepositoryError, match="exactly one village_kiosk wheel"):
        publish_release(repository, tmp_path / "empty")
    assert repository.snapshot().signed.version == before


def test_a_paused_or_withdrawn_release_and_one_for_other_villages_are_offered_to_none(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path
) -> None:
    repository = county_repo.repository
    publish_release(repository, wheelhouse(tmp_path / "w1", "0.2.0"), villages=["liutang"])
    assert offer(kiosk_data, "0.1.0") is None, "named villages only"
    publish_release(repository, wheelhouse(tmp_path / "w2", "0.3.0"))
    assert offer(kiosk_data, "0.1.0")["version"] == "0.3.0"  # type: ignore[index]
    set_state(repository, "0.3.0", "paused")
    assert offer(kiosk_data, "0.1.0") is None
    set_state(repository, "0.3.0", "active")
    assert offer(kiosk_data, "0.1.0")["version"] == "0.3.0"  # type: ignore[index]
    set_state(repository, "0.3.0", "withdrawn")
    assert offer(kiosk_data, "0.1.0") is None
    with pytest.raises(RepositoryError, match="withdrawn"):
        set_state(repository, "0.3.0", "active")
    wheels = {p for p in repository.role(software.ROLE).signed.targets if p.startswith(software.WHEELS)}
    assert "software/wheels/village_kiosk-0.3.0-py3-none-any.whl" not in wheels, "a withdrawn release's wheels go"
    assert [r["state"] for r in releases(repository)] == ["active", "withdrawn"]


def test_a_share_of_villages_is_chosen_the_same_way_every_night() -> None:
    villages = [f"cun-{n:04d}" for n in range(2000)]
    chosen = [v for v in villages if software.reaches({"version": "1.2.0", "percent": 10}, v)]
    assert 150 <= len(chosen) <= 250, "about a tenth"
    assert chosen == [v for v in villages if software.reaches({"version": "1.2.0", "percent": 10}, v)]
    wider = [v for v in villages if software.reaches({"version": "1.2.0", "percent": 50}, v)]
    assert set(chosen) <= set(wider), "raising the share keeps the villages that have it"


def test_a_release_signed_with_the_content_key_is_refused_by_the_kiosk(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever holds the targets (content) key delegates software/* to a key of their own and signs a release."""
    repository = county_repo.repository
    content_key = repository.signer("targets")
    real_signer = Repository.signer
    monkeypatch.setattr(Repository, "signer", lambda self, role: content_key if role == software.ROLE
                        else real_signer(self, role))  # fmt: skip
    monkeypatch.setattr(software, "pinned", lambda root: {content_key.public_key.keyid: {}})  # the county's check
    publish_release(repository, wheelhouse(tmp_path / "evil", "9.0.0"))
    monkeypatch.undo()
    delegations = repository.role("targets").signed.delegations
    assert delegations is not None and delegations.roles is not None
    assert delegations.roles[software.ROLE].keyids == [content_key.public_key.keyid], "the attack is in place"
    with pytest.raises(SyncError, match="does not pin for software"):
        offer(kiosk_data, "0.1.0")


def test_a_content_role_claiming_the_software_paths_is_refused(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path
) -> None:
    repository = county_repo.repository
    publish_release(repository, wheelhouse(tmp_path / "w1", "0.2.0"))
    snapshot = repository.snapshot()
    now = signing_now()
    channel = repository.write_target(
        software.CHANNEL,
        canonical(
            {
                "releases": [
                    {
                        "version": "9.9.9",
                        "upgrade_from": "0",
                        "wheels": [],
                        "state": "active",
                        "villages": None,
                        "percent": None,
                    }
                ]
            }
        ),
    )
    evil = repository.sign_role("village-evil", None, {software.CHANNEL: channel}, now)
    snapshot.signed.meta.update({f"{name}.json": meta for name, meta in evil.items()})
    paths = {**repository.delegated_paths(snapshot), "village-evil": ["software/releases.json"]}
    repository.delegate(dict(sorted(paths.items())), snapshot, now)  # listed before "software": found first
    repository.sign_snapshot_and_timestamp(snapshot, now)
    with pytest.raises(SyncError, match="village-evil may sign"):
        offer(kiosk_data, "0.1.0")


def test_a_repository_made_before_software_releases_says_how_to_begin(county_repo: CountyRepo, tmp_path: Path) -> None:
    repository = county_repo.repository
    key = keyfiles.online_key_path(county_repo.keys, software.ROLE)
    key.unlink()
    keyfiles.generate(key)  # not the key the root pins
    with pytest.raises(RepositoryError, match="rotate --replace software"):
        publish_release(repository, wheelhouse(tmp_path / "w1", "0.2.0"))
    assert software.pinned(repository.root().signed), "the root names the key made at init"


def test_replacing_the_software_key_with_the_root_keys_keeps_releases_reaching_kiosks(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path
) -> None:
    from sync.publish.rotation import rotate

    repository = county_repo.repository
    publish_release(repository, wheelhouse(tmp_path / "w1", "0.2.0"))
    old_key = repository.signer(software.ROLE).public_key.keyid
    assert offer(kiosk_data, "0.1.0") is not None
    done = rotate(repository, county_repo.keys / "root", ["software"])
    new_key = repository.signer(software.ROLE).public_key.keyid
    assert done.replaced == ["software"] and new_key != old_key
    assert list(software.pinned(repository.root().signed)) == [new_key], "the new root pins the new key only"
    assert (county_repo.keys / "software" / f"retired-v{done.root_version - 1}" / "software.pem").is_file()
    offered = offer(kiosk_data, "0.1.0")  # the kiosk takes the new root first, then the role the new key signed
    assert offered is not None and offered["version"] == "0.2.0"
    publish_release(repository, wheelhouse(tmp_path / "w2", "0.3.0"))
    assert offer(kiosk_data, "0.1.0")["version"] == "0.3.0"  # type: ignore[index]


def test_the_release_command_publishes_pauses_and_says_what_it_did(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from kiosk.cli import main

    runner = CliRunner()
    where = ["--repo", str(county_repo.path), "--keys", str(county_repo.keys)]
    done = runner.invoke(main, ["county", "release", str(wheelhouse(tmp_path / "w1", "0.2.0")), *where,
                                "--villages", f"{VILLAGE}, liutang", "--notes", "修正"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "0.2.0" in done.output and "taoyuan" in done.output
    assert offer(kiosk_data, "0.1.0")["version"] == "0.2.0"  # type: ignore[index]
    paused = runner.invoke(main, ["county", "release", *where, "--pause", "0.2.0"])
    assert paused.exit_code == 0, paused.output
    assert offer(kiosk_data, "0.1.0") is None
    unknown = runner.invoke(main, ["county", "release", *where, "--withdraw", "7.7.7"])
    assert unknown.exit_code == 1 and "7.7.7" in unknown.output
    both = runner.invoke(main, ["county", "release", str(tmp_path / "w1"), *where, "--pause", "0.2.0"])
    assert both.exit_code == 2, "a wheelhouse or a change of state, not both"


def test_a_release_a_kiosk_cannot_read_is_one_it_does_not_take() -> None:
    good = {"version": "0.2.0", "upgrade_from": "0", "wheels": ["village_kiosk-0.2.0-py3-none-any.whl"],
            "villages": None, "percent": None, "state": "active"}  # fmt: skip
    assert software.offered([good], VILLAGE, "0.1.0") == good
    unreadable: list[dict[str, object]] = [
        {"wheels": [".."]}, {"wheels": ["../../etc/x.whl"]}, {"wheels": "x.whl"}, {"percent": "ten"},
        {"percent": True}, {"villages": "taoyuan"}, {"version": "not a version"}, {"upgrade_from": None},
    ]  # fmt: skip
    for bad in unreadable:
        assert software.offered([{**good, **bad}], VILLAGE, "0.1.0") is None, bad


def test_a_mirror_replaying_yesterdays_channel_cannot_bring_back_a_withdrawn_release(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path
) -> None:
    """Rollback attack: the metadata that offered 0.2.0, signed and valid, served again after the withdrawal."""
    import shutil

    from tuf.api import exceptions

    repository = county_repo.repository
    publish_release(repository, wheelhouse(tmp_path / "w1", "0.2.0"))
    assert offer(kiosk_data, "0.1.0")["version"] == "0.2.0"  # type: ignore[index]
    yesterday = tmp_path / "mirror"
    shutil.copytree(county_repo.path, yesterday)
    set_state(repository, "0.2.0", "withdrawn")
    assert offer(kiosk_data, "0.1.0") is None, "the kiosk has seen the withdrawal"
    with pytest.raises(exceptions.BadVersionNumberError, match="timestamp"):
        offer(kiosk_data, "0.1.0", source=str(yesterday))
    assert offer(kiosk_data, "0.1.0") is None, "and keeps to it"


HOLD_THE_LOCK = """
import sys
from pathlib import Path
from sync.publish.lock import signing_lock
with signing_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes it
"""


def test_a_release_is_never_paused_while_another_process_signs_the_repository(
    county_repo: CountyRepo, tmp_path: Path
) -> None:
    """Two signings at once would both sign the next snapshot version, and one's change would be lost."""
    import subprocess
    import sys

    from sync.publish.lock import RepositoryBusy

    repository = county_repo.repository
    publish_release(repository, wheelhouse(tmp_path / "w1", "0.2.0"))
    before = repository.snapshot().signed.version
    with subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(county_repo.path)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as holder:  # fmt: skip
        assert holder.stdin is not None and holder.stdout is not None
        try:
            assert holder.stdout.readline().strip() == "held"
            with pytest.raises(RepositoryBusy, match="being signed by another"):
                set_state(repository, "0.2.0", "paused", wait=0.3)
            assert repository.snapshot().signed.version == before, "nothing signed while the other held it"
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
    assert set_state(repository, "0.2.0", "paused", wait=5)["state"] == "paused"
    assert repository.snapshot().signed.version == before + 1
    assert set_state(repository, "0.2.0", "paused")["state"] == "paused"
    assert repository.snapshot().signed.version == before + 1, "paused already: nothing signed again"
    assert [r["state"] for r in releases(repository)] == ["paused"]
