"""A publish reads again only the files that changed (issue 17), and is the publish a whole load makes.

Real files, the real signed repository, the command a county office runs. The publish cache lives in the county
server's data folder; a cache that is damaged, cut short or made by other code gives the same repository as no
cache at all, and every problem is told as `kiosk county validate` tells it, at the same file and line.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bench.generate_county import generate_county
from bench.sync import edit_field
from kiosk.cli import main
from kiosk.cli.county import describe
from kiosk.county.repo_files import RepositoryApp
from sync.contract.channel import canonical
from sync.contract.content import ContentInvalid, County, load_county
from sync.publish import publish_cache
from sync.publish.bundle import Shard, content_digest, county_items, item_of
from sync.publish.changed_files import FolderPublish
from sync.publish.publish_cache import FILE
from sync.publish.release import PublishResult
from sync.receive.updater import init_kiosk, sync_kiosk
from tests.county_repo import VILLAGE, CountyRepo, make_county_repo
from tests.servers import serving
from tests.test_sync import power_name

POWER = "powers/dibao-shenqing.yaml"


def publish_from_folder(county: CountyRepo, data: Path, now: datetime | None = None) -> tuple[PublishResult, int]:
    """Publish *county*'s folder through the cache in *data*; return the result and how many files were read whole."""
    publishing = FolderPublish(county.content, data)
    try:
        publishing.load()
        result = publishing.publish(county.repository, now=now)
        assert publishing.files is not None
        return result, publishing.files.read_whole
    finally:
        publishing.close()


def repository_files(county: CountyRepo) -> dict[str, bytes]:
    return {str(f.relative_to(county.path)): f.read_bytes() for f in sorted(county.path.rglob("*"))
            if f.is_file() and f.name != ".signing.lock"}  # fmt: skip


@pytest.fixture()
def cached(tmp_path: Path) -> tuple[CountyRepo, Path]:
    """The demo county published, and published again through the cache in a data folder (which fills it)."""
    county, data = make_county_repo(tmp_path / "county"), tmp_path / "county-data"
    result, _read = publish_from_folder(county, data)
    assert result.version is None
    return county, data


def test_a_changed_item_is_published_and_a_kiosk_syncs_it(cached: tuple[CountyRepo, Path], tmp_path: Path) -> None:
    county, data = cached
    county.edit(POWER, "name: 最低生活保障申请", "name: 最低生活保障（低保）申请")
    runner = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"})
    published = runner.invoke(main, ["county", "publish", str(county.content), "--repo", str(county.path),
                                     "--keys", str(county.keys), "--data", str(data)])  # fmt: skip
    assert published.exit_code == 0, published.output
    assert published.output.splitlines()[-1] == "  county: 0 added, 1 changed, 0 removed"
    assert sorted(p.name for p in data.iterdir()) == [FILE], "the cache is in the data folder, nowhere else"
    assert not list(county.content.rglob("*.sqlite*")) and not list(county.path.rglob("*.sqlite*"))
    kiosk = tmp_path / "kiosk"
    init_kiosk(kiosk, VILLAGE, str(county.path), county.root)
    with serving(RepositoryApp(county.path)) as url:
        assert sync_kiosk(kiosk, url).outcome == "updated"
    assert power_name(kiosk, "dibao-shenqing") == "最低生活保障（低保）申请"
    county.edit(POWER, "name: 最低生活保障（低保）申请", "name: 低保申请")
    result, read = publish_from_folder(county, data)
    assert (read, describe(result).splitlines()[1:]) == (1, ["  county: 0 added, 1 changed, 0 removed"])


def test_an_unchanged_county_publishes_nothing_new(cached: tuple[CountyRepo, Path]) -> None:
    county, data = cached
    before = repository_files(county)
    result, read = publish_from_folder(county, data)
    assert (result.version, result.changes, read) == (None, [], 0)
    assert repository_files(county) == before
    publishing = FolderPublish(county.content, data)
    assert publishing.load().warnings == load_county(county.content).warnings  # warnings of cached items too
    publishing.close()


def _garbage(cache: Path) -> None:
    data = bytearray(cache.read_bytes())
    data[100:] = bytes((n * 131 + 7) % 256 for n in range(len(data) - 100))
    cache.write_bytes(bytes(data))


def _truncated(cache: Path) -> None:
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 3])


def _older_code(cache: Path) -> None:
    with sqlite3.connect(cache) as db:
        db.execute("update meta set value = ? where key = 'code'", ("0" * 64,))


def _data_swapped(cache: Path) -> None:
    """Each row holds the next row's item: every check on the rows holds, the items' digests do not."""
    with sqlite3.connect(cache) as db:
        rows = db.execute("select path, data from files order by path").fetchall()
        db.executemany("update files set data = ? where path = ?",
                       [(data, rows[n - 1][0]) for n, (_path, data) in enumerate(rows)])  # fmt: skip


def _summaries_changed(cache: Path) -> None:
    with sqlite3.connect(cache) as db:
        db.execute("update files set summary = replace(summary, '\"size\": ', '\"size\": 1')")
        db.execute("update shards set fingerprint = sha256")


@pytest.mark.parametrize("damage", [_garbage, _truncated, _older_code, _data_swapped, _summaries_changed])
def test_a_damaged_cache_gives_the_repository_no_cache_gives(
    cached: tuple[CountyRepo, Path], tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    county, data = cached
    twin_root = Path(shutil.copytree(county.content.parent, tmp_path / "twin"))
    twin = CountyRepo(twin_root / "content", twin_root / "repo", twin_root / "keys")
    last = county.repository.last_signed()
    assert last is not None
    now = last + timedelta(minutes=5)
    for each in (county, twin):
        each.edit(POWER, "name: 最低生活保障申请", "name: 低保申请")
        each.edit("notices/haochaping-2026.md", "---\n", "---\npinned: true\n")  # fails if it was pinned
    damage(data / FILE)
    result, _read = publish_from_folder(county, data, now)
    whole = twin.publish(now)  # load_county and publish_county: no cache at all
    assert describe(result) == describe(whole) and "county: 0 added, 2 changed, 0 removed" in describe(result)
    assert repository_files(county) == repository_files(twin)
    county.edit(POWER, "name: 低保申请", "name: 最低生活保障申请")  # and the cache made afresh serves again
    twin.edit(POWER, "name: 低保申请", "name: 最低生活保障申请")
    result, read = publish_from_folder(county, data, now + timedelta(minutes=5))
    assert (read, describe(result)) == (1, describe(twin.publish(now + timedelta(minutes=5))))
    assert repository_files(county) == repository_files(twin)


def test_an_error_in_a_changed_file_is_told_at_its_line(cached: tuple[CountyRepo, Path]) -> None:
    county, data = cached
    county.edit(POWER, "fee: ", "fees: ")
    runner = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"})
    publish = ["county", "publish", str(county.content), "--repo", str(county.path), "--keys", str(county.keys)]
    published = runner.invoke(main, [*publish, "--data", str(data)])
    validated = runner.invoke(main, ["county", "validate", str(county.content)])
    assert published.exit_code == validated.exit_code == 1
    assert published.output == validated.output
    assert f"{POWER}:" in published.output and "fees: unknown field" in published.output


def _copy_before(county: CountyRepo) -> None:
    """A new power item file, listed before the one whose id it takes (which the cache holds)."""
    shutil.copy(county.content / POWER, county.content / "powers/aa-copy.yaml")


def _copy_after(county: CountyRepo) -> None:
    shutil.copy(county.content / POWER, county.content / "powers/zz-copy.yaml")


def _named_item_removed(county: CountyRepo) -> None:
    (county.content / "powers/zhaijidi-shenqing.yaml").unlink()  # guides/02-jianfang.yaml names it


def _village_removed(county: CountyRepo) -> None:
    county.edit("county.yaml", "code: taoyuan", "code: taoyuan-new")


def _photo_removed(county: CountyRepo) -> None:
    (county.content / "media/notice-caiwu-2026-10.jpg").unlink()


def _duty_removed(county: CountyRepo) -> None:
    county.edit("duties.yaml", "id: caiwu-shouzhi", "id: caiwu-shouzhi-yuebao")


@pytest.mark.parametrize(
    ("change", "told"),
    [
        (_copy_before, "powers/dibao-shenqing.yaml:2: id: power item id 'dibao-shenqing' is used twice, first in "
                       "powers/aa-copy.yaml:2"),
        (_copy_after, "powers/zz-copy.yaml:2: id: power item id 'dibao-shenqing' is used twice, first in "
                      "powers/dibao-shenqing.yaml:2"),
        (_named_item_removed, "guides/02-jianfang.yaml:53: endings[1].powers[1]: no power item 'zhaijidi-shenqing'"),
        (_village_removed, "powers/taoyuan-minsu-jingying.yaml"),
        (_photo_removed, "notices/caiwu-2026-10-taoyuan.md:12: photos[1]: media/notice-caiwu-2026-10.jpg does not"),
        (_duty_removed, "notices/caiwu-2026-10-taoyuan.md:6: duty: no duty 'caiwu-shouzhi' in duties.yaml"),
    ],
)  # fmt: skip
def test_a_rule_across_files_is_caught_when_one_file_changed(
    cached: tuple[CountyRepo, Path], change: Callable[[CountyRepo], None], told: str
) -> None:
    county, data = cached
    county.edit("notices/caiwu-2026-10-taoyuan.md", "village: taoyuan\n",
                "village: taoyuan\nduty: caiwu-shouzhi\nperiod: 2026-10\n")  # fmt: skip
    result, _read = publish_from_folder(county, data)
    assert result.version is not None  # the notice names its duty, and the cache holds it
    change(county)
    with pytest.raises(ContentInvalid) as cached_load:
        publish_from_folder(county, data)
    with pytest.raises(ContentInvalid) as whole_load:
        load_county(county.content)
    told_cached = [str(problem) for problem in cached_load.value.problems]
    assert told_cached == [str(problem) for problem in whole_load.value.problems]
    assert any(problem.startswith(told) for problem in told_cached), told_cached


def test_a_cache_another_publish_holds_is_waited_for_briefly_then_done_without(
    cached: tuple[CountyRepo, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    county, data = cached
    monkeypatch.setattr(publish_cache, "BUSY_SECONDS", 0.2)
    county.edit(POWER, "name: 最低生活保障申请", "name: 低保申请")
    holder = sqlite3.connect(data / FILE)
    holder.execute("begin immediate")  # another publish writing it
    try:
        result, read = publish_from_folder(county, data)
    finally:
        holder.rollback()
        holder.close()
    assert (read, describe(result).splitlines()[1:]) == (1, ["  county: 0 added, 1 changed, 0 removed"])


def test_no_cache_is_kept_in_the_content_folder(cached: tuple[CountyRepo, Path]) -> None:
    county, _data = cached
    county.edit(POWER, "name: 最低生活保障申请", "name: 低保申请")
    result, read = publish_from_folder(county, county.content / "state")
    assert result.version is not None and read == 55 and not (county.content / "state").exists()


def test_an_items_length_and_digest_are_those_of_its_json(demo_county: County) -> None:
    items = [*county_items(demo_county), item_of("notice", 'a"b\\c\n中', "county", 12, {"title": "x"})]
    for item in items:
        assert item.data is not None
        as_json = {"kind": item.kind, "id": item.id, "data": json.loads(item.data)}
        assert item.digest == content_digest(as_json)
        as_json |= {} if item.order is None else {"order": item.order}
        assert item.encoded(item.data) == canonical(as_json) and item.length == len(canonical(as_json))


def test_after_a_first_publish_one_changed_item_makes_only_its_shard_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = generate_county(tmp_path / "content", powers=200, notices=200, county_share=1.0)
    county = CountyRepo(content, tmp_path / "repo", tmp_path / "keys")
    county.repository.init(tmp_path / "keys" / "root")
    data = tmp_path / "county-data"
    first, _read = publish_from_folder(county, data)  # into a new repository: every shard made
    shards = [name for name in county.repository.role("county").signed.targets if "/shard-" in name]
    assert first.version is not None and len(shards) >= 4
    made: list[str] = []
    encoded = Shard.encoded

    def counted(shard: Shard, *args: Any) -> bytes:
        made.append(shard.name)
        return encoded(shard, *args)

    monkeypatch.setattr(Shard, "encoded", counted)
    edit_field(min((content / "powers").glob("*.yaml")), "name")
    result, read = publish_from_folder(county, data)
    assert (read, describe(result).splitlines()[1:]) == (1, ["  county: 0 added, 1 changed, 0 removed"])
    assert len(made) == 1, made
