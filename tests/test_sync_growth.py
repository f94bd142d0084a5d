"""A sync's cost grows with what changed, not with the county (issue 17): a night with no change is decided on
the signed metadata alone, without opening a shard; a change in any of the village's scopes, or to one of
its photos, is still found."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tuf.api.metadata import Targets
from tuf.ngclient import Updater

import sync.receive.patch
from sync.contract import channel
from sync.receive import unchanged
from sync.receive.database import installed_meta
from sync.receive.install import current_database
from sync.receive.updater import sync_kiosk
from tests.county_repo import CountyRepo


@pytest.fixture()
def shards_opened(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the shards a sync opens (decompressed and parsed)."""
    opened: list[int] = []
    real = channel.read_shard

    def counted(data: bytes) -> Any:
        opened.append(len(data))
        return real(data)

    monkeypatch.setattr(sync.receive.patch, "read_shard", counted)
    return opened


def test_a_night_with_no_change_opens_no_shard(
    county_repo: CountyRepo, kiosk_data: Path, shards_opened: list[int]
) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    first = len(shards_opened)
    assert first > 0
    installed = current_database(kiosk_data)
    assert installed is not None and installed_meta(installed, "township") == "qingxi", "its township is kept"
    county_repo.publish()  # nothing changed: nothing signed
    again = sync_kiosk(kiosk_data)
    assert again.outcome == "unchanged" and again.error is None
    assert len(shards_opened) == first, "decided on the signed metadata: no shard opened"


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("powers/dibao-shenqing.yaml", "name: 最低生活保障申请", "name: 最低生活保障（低保）申请"),  # county scope
        (
            "notices/caiwu-2026-10-taoyuan.md",
            "title: 桃源村2026年10月财务收支公开",
            "title: 桃源村十月财务公开",
        ),  # village
    ],
)
def test_a_change_in_any_of_the_villages_scopes_is_installed(
    county_repo: CountyRepo, kiosk_data: Path, shards_opened: list[int], path: str, old: str, new: str
) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    county_repo.edit(path, old, new)
    county_repo.publish()
    assert sync_kiosk(kiosk_data).outcome == "updated"
    assert sync_kiosk(kiosk_data).outcome == "unchanged"


def test_a_photo_changed_alone_is_installed(county_repo: CountyRepo, kiosk_data: Path) -> None:
    """A photo keeps its name in the shards when its bytes change: its scope's signed photo list says it."""
    assert sync_kiosk(kiosk_data).outcome == "updated"
    photo = county_repo.content / "media" / "notice-caiwu-2026-10.jpg"
    photo.write_bytes((county_repo.content / "media" / "notice-fanghuo.jpg").read_bytes())
    county_repo.publish()
    assert sync_kiosk(kiosk_data).outcome == "updated"


def test_a_scope_signed_without_its_manifest_is_refused_and_nothing_changes(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    """A village's role that lists its shards but not its manifest (a broken signing, or a mirror's doing with
    the county's key): not an empty scope. The kiosk says so and keeps what it has."""
    had = sync_kiosk(kiosk_data)
    assert had.outcome == "updated"
    repository = county_repo.repository
    snapshot = repository.snapshot()
    now = datetime.now(UTC)

    def without_manifest(role: Targets) -> None:
        del role.targets["village/taoyuan/manifest.json"]

    repository.resign_role("village-taoyuan", snapshot, now, without_manifest)
    repository.sign_snapshot_and_timestamp(snapshot, now)
    refused = sync_kiosk(kiosk_data)
    assert refused.outcome == "failed" and "lists files but not this scope's manifest" in str(refused.error)
    assert refused.version == had.version, "the content it had stays"


@pytest.fixture()
def roles_loaded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Name each targets role ngclient loads and verifies (the top-level one, then each delegated role)."""
    loaded: list[str] = []
    real = Updater._load_targets  # ngclient has no public hook on loading a role

    def counted(self: Updater, role: str, parent_role: str) -> Targets:
        loaded.append(role)
        return real(self, role, parent_role)

    monkeypatch.setattr(Updater, "_load_targets", counted)
    return loaded


def _resign(county_repo: CountyRepo, role: str, now: datetime) -> None:
    """Sign *role* again as a new version with the same files, as a county refreshing its signatures does."""
    snapshot = county_repo.repository.snapshot()
    county_repo.repository.resign_role(role, snapshot, now)
    county_repo.repository.sign_snapshot_and_timestamp(snapshot, datetime.now(UTC))


def test_a_night_with_no_change_loads_no_delegated_role(
    county_repo: CountyRepo, kiosk_data: Path, roles_loaded: list[str]
) -> None:
    """Decided on the snapshot: not one of the county's roles (thousands of shards at 50,000 items) is read, even
    when another village's or township's role was signed again."""
    assert sync_kiosk(kiosk_data).outcome == "updated"
    assert "county" in roles_loaded and "village-taoyuan" in roles_loaded
    ours = ("village-taoyuan", "township-qingxi")
    others = [r for r in county_repo.repository.delegated_paths(county_repo.repository.snapshot())
              if r.startswith(("village-", "township-")) and r not in ours]  # fmt: skip
    assert others, "the demo county has other villages"
    _resign(county_repo, others[0], datetime.now(UTC))
    roles_loaded.clear()
    again = sync_kiosk(kiosk_data)
    assert again.outcome == "unchanged" and again.error is None
    assert roles_loaded == ["targets"], "only the top-level targets, as ngclient's refresh always loads"


def test_a_role_signed_again_with_the_same_files_is_checked_once_then_trusted(
    county_repo: CountyRepo, kiosk_data: Path, roles_loaded: list[str], shards_opened: list[int]
) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    _resign(county_repo, "village-taoyuan", datetime.now(UTC))
    roles_loaded.clear()
    opened = len(shards_opened)
    assert sync_kiosk(kiosk_data).outcome == "unchanged"
    assert "village-taoyuan" in roles_loaded, "its new version is read: it could list other files"
    assert len(shards_opened) == opened, "the files it lists are the ones installed: none opened"
    roles_loaded.clear()
    assert sync_kiosk(kiosk_data).outcome == "unchanged"
    assert roles_loaded == ["targets"], "the next night ends at the snapshot again"


def test_a_role_that_expired_since_the_last_full_check_is_still_refused(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    """The village's role was signed to expire in a day (the timestamp lasts seven): two days on, the short night
    must not vouch for it."""
    now = datetime.now(UTC)
    _resign(county_repo, "village-taoyuan", now - timedelta(days=89))  # targets roles last 90 days
    had = sync_kiosk(kiosk_data, now=now)
    assert had.outcome == "updated"
    assert sync_kiosk(kiosk_data, now=now + timedelta(hours=1)).outcome == "unchanged"
    late = sync_kiosk(kiosk_data, now=now + timedelta(days=2))
    assert late.outcome == "failed" and "village-taoyuan" in str(late.error), late.error
    assert late.version == had.version, "the content it had stays"


@pytest.mark.parametrize(
    "record",
    [None, "not a record", {"database": 5}, {"expires": "2999-01-01T00:00:00"}, "naive", "another version"],
)
def test_a_damaged_record_of_the_last_check_only_costs_the_full_check(
    county_repo: CountyRepo, kiosk_data: Path, roles_loaded: list[str], record: Any
) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    status_file = kiosk_data / "sync-status.json"
    status = json.loads(status_file.read_text())
    kept = status[unchanged.RECORD]
    assert set(kept) == set(unchanged.KEYS)
    if record == "naive":
        record = {**kept, "expires": "2999-01-01T00:00:00"}
    elif record == "another version":
        record = {**kept, "database": "content-1-00000000.db"}
    status[unchanged.RECORD] = record
    status_file.write_text(json.dumps(status))
    roles_loaded.clear()
    assert sync_kiosk(kiosk_data).outcome == "unchanged"
    assert "county" in roles_loaded, "the full check ran"
    assert json.loads(status_file.read_text())[unchanged.RECORD] == kept, "and recorded its finding again"
