"""A sync's cost grows with what changed, not with the county (issue 17): a night with no change is decided on
the signed metadata alone, without opening a shard; a change in any of the village's scopes, or to one of
its photos, is still found."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tuf.api.metadata import Targets

import sync.receive.patch
from sync.contract import channel
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
