"""Publishing and syncing for real: a signed repository, a county server on 127.0.0.1, a kiosk."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pty
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.cli.county import describe
from kiosk.county.repo_files import RepositoryApp
from kiosk.screens import create_app
from sync.contract.content import ContentInvalid
from sync.receive.database import database_version
from sync.receive.install import current_database, read_state
from sync.receive.updater import init_kiosk, sync_kiosk
from tests.county_repo import CountyRepo
from tests.servers import FaultInjector, serving

ROOT = Path(__file__).resolve().parent.parent


def notice_ids(data: Path) -> set[str]:
    path = current_database(data)
    assert path is not None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("select id from notices")}


def power_name(data: Path, power_id: str) -> str:
    path = current_database(data)
    assert path is not None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return str(db.execute("select name from powers where id = ?", (power_id,)).fetchone()[0])


def test_first_sync_installs_the_villages_content_over_http(county_repo: CountyRepo, kiosk_data: Path) -> None:
    with serving(RepositoryApp(county_repo.path)) as url:
        result = sync_kiosk(kiosk_data, url)
    assert result.outcome == "updated" and result.error is None
    assert result.version == county_repo.repository.snapshot().signed.version
    assert result.files_downloaded > 10 and result.bytes_downloaded > 50_000
    client = create_app({"TESTING": True, "DATA_DIR": str(kiosk_data), "SECRET_KEY": "x"}).test_client()
    page = client.get("/").get_data(as_text=True)
    assert "桃源村" in page and f"内容更新于 {result.content_date[:4]}年" in page  # type: ignore[index]
    assert client.get("/powers/zhongda-shixiang-juece").status_code == 200


def test_a_night_with_no_change_costs_one_small_file(county_repo: CountyRepo, kiosk_data: Path) -> None:
    with serving(FaultInjector(RepositoryApp(county_repo.path))) as url:
        first = sync_kiosk(kiosk_data, url)
        second = sync_kiosk(kiosk_data, url)
    assert first.outcome == "updated"
    assert second.outcome == "unchanged" and second.version == first.version
    assert second.files_downloaded == 1 and second.bytes_downloaded < 2048


def test_one_changed_item_fetches_only_its_scope_and_shard(county_repo: CountyRepo, kiosk_data: Path) -> None:
    injector = FaultInjector(RepositoryApp(county_repo.path))
    with serving(injector) as url:
        sync_kiosk(kiosk_data, url)
        county_repo.edit("powers/dibao-shenqing.yaml", "name: 最低生活保障申请", "name: 最低生活保障（低保）申请")
        result_publish = county_repo.publish()
        seen = len(injector.requests)
        result = sync_kiosk(kiosk_data, url)
    assert [(c.scope, c.changed, c.added, c.removed) for c in result_publish.changes] == [("county", 1, 0, 0)]
    assert result.outcome == "updated"
    assert power_name(kiosk_data, "dibao-shenqing") == "最低生活保障（低保）申请"
    fetched = [r["path"] for r in injector.requests[seen:]]
    targets = [p for p in fetched if p.startswith("/targets/")]
    # Only the shard holding the item: the manifest (same shards, same day) is unchanged.
    assert len(targets) == 1 and targets[0].startswith("/targets/county/") and ".shard-" in targets[0], fetched
    assert not any("village-" in p or "township-" in p for p in fetched), "other scopes' metadata untouched"
    metadata = sorted(re.sub(r"^\d+\.", "", p.rpartition("/")[2]) for p in fetched if p.startswith("/metadata/"))
    assert metadata == ["county.json", "root.json", "snapshot.json", "timestamp.json"], "not the photo list"


def test_a_changed_photo_fetches_only_that_photo_and_its_list(county_repo: CountyRepo, kiosk_data: Path) -> None:
    injector = FaultInjector(RepositoryApp(county_repo.path))
    photo = county_repo.content / "media" / "notice-caiwu-2026-10.jpg"  # shown by taoyuan's own notice
    with serving(injector) as url:
        sync_kiosk(kiosk_data, url)
        photo.write_bytes((county_repo.content / "media" / "notice-fanghuo.jpg").read_bytes())
        published = county_repo.publish()
        seen = len(injector.requests)
        result = sync_kiosk(kiosk_data, url)
    assert [(c.scope, c.changed, c.photos) for c in published.changes] == [("village/taoyuan", 0, 1)]
    assert "photos added, replaced or removed: 1" in describe(published)
    assert result.outcome == "updated" and result.files_downloaded == 4, result  # timestamp, snapshot, list, photo
    fetched = [r["path"] for r in injector.requests[seen:]]
    assert [p for p in fetched if p.startswith("/targets/")] == [
        f"/targets/village/taoyuan/media/{hashlib.sha256(photo.read_bytes()).hexdigest()}.{photo.name}"
    ]
    assert any(p.endswith(".media-village-taoyuan.json") for p in fetched), fetched
    assert not any(p.endswith((".village-taoyuan.json", ".county.json")) for p in fetched), "no text re-fetched"


def test_a_scope_that_loses_its_last_photo_loses_its_photo_list(county_repo: CountyRepo, kiosk_data: Path) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    for notice, photo in (("caiwu-2026-10-taoyuan", "notice-caiwu-2026-10"), ("zhuti-dangri-2026-11-taoyuan",
                                                                           "notice-zhuti-dangri")):  # fmt: skip
        county_repo.edit(f"notices/{notice}.md", f"photos:\n  - media/{photo}.jpg\n", "")
    published = county_repo.publish()
    assert [(c.scope, c.changed, c.photos) for c in published.changes] == [("village/taoyuan", 2, 2)]
    delegated = county_repo.repository.role("targets").signed.delegations
    assert delegated is not None and delegated.roles is not None
    assert "village-taoyuan" in delegated.roles and "media-village-taoyuan" not in delegated.roles
    assert county_repo.publish().version is None, "and publishing again changes nothing"
    result = sync_kiosk(kiosk_data)
    assert result.outcome == "updated", result.error
    path = current_database(kiosk_data)
    assert path is not None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        (photos,) = db.execute("select photos from notices where id = 'caiwu-2026-10-taoyuan'").fetchone()
    assert json.loads(photos) == []


def test_a_scope_that_goes_away_leaves_every_kiosk_able_to_sync(county_repo: CountyRepo, tmp_path: Path) -> None:
    kiosks = {village: tmp_path / village for village in ("taoyuan", "songping")}  # 清溪镇 and 云岭乡
    for village, data in kiosks.items():
        init_kiosk(data, village, str(county_repo.path), county_repo.root)
        assert sync_kiosk(data).outcome == "updated"
    # 清溪镇's own items become county-wide: the township/qingxi scope has nothing left.
    county_repo.edit("notices/gengdi-butie-qingxi-2026.md", "township: qingxi\n", "")
    for _contact in range(2):
        county_repo.edit("contacts.yaml", "    township: qingxi\n", "")
    published = county_repo.publish()
    assert [(c.scope, c.added, c.removed) for c in published.changes] == [("county", 3, 0), ("township/qingxi", 0, 3)]
    assert county_repo.publish().version is None
    for village, data in kiosks.items():
        result = sync_kiosk(data)
        assert result.outcome == "updated", (village, result.error)
        assert "gengdi-butie-qingxi-2026" in notice_ids(data), "now county-wide"


def test_a_village_sees_its_own_notices_and_not_another_villages(county_repo: CountyRepo, tmp_path: Path) -> None:
    mine, theirs = tmp_path / "taoyuan", tmp_path / "liutang"
    init_kiosk(mine, "taoyuan", str(county_repo.path), county_repo.root)
    init_kiosk(theirs, "liutang", str(county_repo.path), county_repo.root)
    assert sync_kiosk(mine).outcome == "updated" and sync_kiosk(theirs).outcome == "updated"
    assert "caiwu-2026-10-taoyuan" in notice_ids(mine) and "caiwu-2026-10-taoyuan" not in notice_ids(theirs)
    assert "daolu-zhongbiao-liutang-2026" in notice_ids(theirs)
    assert "daolu-zhongbiao-liutang-2026" not in notice_ids(mine)
    held = {p.name for p in (mine / "tuf" / "metadata").iterdir()}
    assert "village-taoyuan.json" in held and "village-liutang.json" not in held, "only its own scope is fetched"


def test_a_village_notice_change_reaches_only_that_village(county_repo: CountyRepo, tmp_path: Path) -> None:
    mine, theirs = tmp_path / "taoyuan", tmp_path / "liutang"
    init_kiosk(mine, "taoyuan", str(county_repo.path), county_repo.root)
    init_kiosk(theirs, "liutang", str(county_repo.path), county_repo.root)
    sync_kiosk(mine), sync_kiosk(theirs)
    county_repo.edit("notices/caiwu-2026-10-taoyuan.md", "title: ", "title: （更正）")
    county_repo.publish()
    assert sync_kiosk(mine).outcome == "updated"
    assert sync_kiosk(theirs).outcome == "unchanged"


def test_a_full_disk_is_found_before_downloading_and_the_content_stays(
    county_repo: CountyRepo, kiosk_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    had = sync_kiosk(kiosk_data)
    county_repo.edit("powers/dibao-shenqing.yaml", "name: 最低生活保障申请", "name: 最低生活保障（低保）申请")
    county_repo.publish()
    real = shutil.disk_usage
    full = "sync.receive.signed_files.shutil.disk_usage"
    monkeypatch.setattr(full, lambda path: real(path)._replace(free=10 * 2**20))
    injector = FaultInjector(RepositoryApp(county_repo.path))
    with serving(injector) as url:
        result = sync_kiosk(kiosk_data, url)
    assert result.outcome == "failed" and result.error is not None and "not enough free disk" in result.error
    assert "10 MB free" in result.error
    assert not [r for r in injector.requests if r["path"].startswith("/targets/") and ".shard-" in r["path"]]
    assert (result.version, power_name(kiosk_data, "dibao-shenqing")) == (had.version, "最低生活保障申请")


def test_publishing_unchanged_content_makes_no_new_version(county_repo: CountyRepo) -> None:
    before = county_repo.repository.timestamp().signed.version
    result = county_repo.publish()
    assert result.version is None and result.changes == []
    assert county_repo.repository.timestamp().signed.version == before


def test_invalid_content_publishes_nothing(county_repo: CountyRepo) -> None:
    before = sorted(p.name for p in (county_repo.path / "metadata").iterdir())
    county_repo.edit("powers/dibao-shenqing.yaml", "fee: ", "fees: ")
    county_repo.edit("notices/caiwu-2026-10-taoyuan.md", "domain: 财务", "domain: 财政")
    try:
        county_repo.publish()
    except ContentInvalid as error:
        assert len(error.problems) == 3  # unknown field, missing fee, bad domain
    else:
        raise AssertionError("invalid content was published")
    assert sorted(p.name for p in (county_repo.path / "metadata").iterdir()) == before


def test_command_line_round_trip(tmp_path: Path) -> None:
    runner = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en", "KIOSK_DATA_DIR": str(tmp_path / "county-data")})
    repo, keys, data = tmp_path / "repo", tmp_path / "keys", tmp_path / "kiosk"
    created = runner.invoke(main, ["county", "init", "--repo", str(repo), "--keys", str(keys)])
    assert created.exit_code == 0, created.output
    assert "WARNING: root keys are in" in created.output
    assert (keys / "root" / "root-1.pem").stat().st_mode & 0o777 == 0o600
    assert not (keys / "online" / "root-1.pem").exists(), "root keys are kept apart from online keys"
    published = runner.invoke(
        main, ["county", "publish", str(ROOT / "content/demo"), "--repo", str(repo), "--keys", str(keys)]
    )
    assert published.exit_code == 0 and "Published version 2." in published.output
    assert "village/taoyuan: 10 added, 0 changed, 0 removed" in published.output
    again = runner.invoke(
        main, ["county", "publish", str(ROOT / "content/demo"), "--repo", str(repo), "--keys", str(keys)]
    )
    assert "No change" in again.output
    root = str(repo / "metadata" / "1.root.json")
    set_up = runner.invoke(
        main, ["init", "--village", "taoyuan", "--repo", str(repo), "--root", root, "--data", str(data)]
    )
    assert set_up.exit_code == 0, set_up.output
    synced = runner.invoke(main, ["sync", "--json", "--data", str(data)])
    assert synced.exit_code == 0, synced.output
    report = json.loads(synced.output)
    assert set(report) == {"outcome", "version", "content_date", "bytes_downloaded", "files_downloaded", "error",
                           "county_report", "county_ok", "needs_software"}  # fmt: skip
    assert report["outcome"] == "updated" and report["version"] == 2 and report["error"] is None
    assert report["county_report"] is None and report["county_ok"], "not enrolled: nothing to report, nothing failed"
    status = json.loads(runner.invoke(main, ["status", "--json", "--data", str(data)]).output)
    assert status["version"] == 2 and status["last_outcome"] == "updated" and status["disk_free_bytes"] > 0
    refreshed = runner.invoke(main, ["county", "refresh", "--repo", str(repo), "--keys", str(keys)])
    assert refreshed.exit_code == 0 and "timestamp" in refreshed.output
    human = runner.invoke(main, ["sync", "--data", str(data)])
    assert human.exit_code == 0 and "checking the county's signed metadata" in human.output
    assert "unchanged: version 2" in human.output


def test_county_chooses_expiry_renews_the_root_and_is_warned_in_time(tmp_path: Path) -> None:
    runner = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"})
    repo, keys = tmp_path / "repo", tmp_path / "keys"
    base = ["--repo", str(repo), "--keys", str(keys)]
    wrong = runner.invoke(main, ["county", "init", *base, "--expires", "timestamp=soon"])
    assert wrong.exit_code != 0 and "ROLE=DAYS" in wrong.output and not repo.exists()
    unknown = runner.invoke(main, ["county", "init", *base, "--expires", "everything=3"])
    assert unknown.exit_code != 0 and "give a role" in unknown.output
    assert not repo.exists() and not keys.exists(), "a refused init leaves nothing behind"

    created = runner.invoke(main, ["county", "init", *base, "--expires", "timestamp=3", "--expires", "root=30"])
    assert created.exit_code == 0, created.output
    timestamp = json.loads((repo / "metadata" / "timestamp.json").read_text())["signed"]["expires"]
    left = datetime.fromisoformat(timestamp.replace("Z", "+00:00")) - datetime.now(UTC)
    assert timedelta(days=2) < left <= timedelta(days=3)
    refreshed = runner.invoke(main, ["county", "refresh", *base])
    assert refreshed.exit_code == 0 and "WARNING: the root expires on" in refreshed.output

    renewed = runner.invoke(
        main, ["county", "rotate", *base, "--root-keys", str(keys / "root"), "--replace", "snapshot"]
    )
    assert renewed.exit_code == 0, renewed.output
    assert "Root version 2 signed" in renewed.output and "New keys for: snapshot" in renewed.output
    assert (repo / "metadata" / "2.root.json").exists() and (keys / "online" / "retired-v1" / "snapshot.pem").exists()
    missing = runner.invoke(main, ["county", "rotate", *base, "--root-keys", str(tmp_path)])
    assert missing.exit_code != 0 and "0 of the current root keys" in missing.output


def run_on_a_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run *command* with its stderr on a pseudo-terminal; return its exit code, stdout and what the terminal got."""
    controller, terminal = pty.openpty()
    received = bytearray()

    def read() -> None:
        with contextlib.suppress(OSError):  # EIO once the command has exited and the terminal is closed
            while chunk := os.read(controller, 65536):
                received.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=terminal, env=env, timeout=120, check=False)
    finally:
        os.close(terminal)
        reader.join(timeout=10)
        os.close(controller)
    return done.returncode, done.stdout.decode(), received.decode()


def test_sync_shows_progress_on_a_terminal_and_keeps_a_log_short(county_repo: CountyRepo, tmp_path: Path) -> None:
    env = {**os.environ, "KIOSK_DEFAULT_LOCALE": "en"}
    on_terminal, in_log = tmp_path / "terminal", tmp_path / "log"
    for data in (on_terminal, in_log):
        init_kiosk(data, "taoyuan", str(county_repo.path), county_repo.root)
    kiosk = [sys.executable, "-m", "kiosk.cli"]
    code, out, terminal = run_on_a_terminal([*kiosk, "sync", "--data", str(on_terminal)], env)
    assert code == 0, terminal
    files = re.findall(r"downloading (\d+)/(\d+): ", terminal)
    assert files and ("1", files[0][1]) in files, "every file is shown as it comes"
    assert "\r\x1b[K" in terminal, "on one line that each file rewrites"
    assert re.search(r"downloading \d+ files, \d+ KB", terminal) and "installing version" in terminal
    assert "updated: version" in out

    logged = subprocess.run([*kiosk, "sync", "--data", str(in_log)], capture_output=True, env=env, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert logged.returncode == 0, logged.stderr
    assert "downloading 1/" not in logged.stderr and "\r" not in logged.stderr, "no line per file in a log"
    assert re.search(r"downloading \d+ files, \d+ KB", logged.stderr) and "installing version" in logged.stderr


def test_failed_sync_exits_non_zero_and_keeps_content(county_repo: CountyRepo, kiosk_data: Path) -> None:
    runner = CliRunner(
        env={"KIOSK_DEFAULT_LOCALE": "en", "KIOSK_SYNC_ATTEMPTS": "2", "KIOSK_SYNC_CONNECT_TIMEOUT": "1"}
    )
    assert runner.invoke(main, ["sync", "--json", "--data", str(kiosk_data)]).exit_code == 0
    result = runner.invoke(main, ["sync", "--json", "--data", str(kiosk_data), "--from", "http://127.0.0.1:9/"])
    report = json.loads(result.output)
    assert result.exit_code == 1 and report["outcome"] == "failed" and report["version"] == 2
    assert "could not download" in report["error"]
    status = json.loads(runner.invoke(main, ["status", "--json", "--data", str(kiosk_data)]).output)
    assert status["last_outcome"] == "failed" and status["last_error"] == report["error"]
    assert status["version"] == 2, "the kiosk keeps what it had"


# A child process syncs and SIGKILLs itself at one point of the sync.
CHILD = """
import os, signal, sys
from pathlib import Path
import sync.receive.updater as updater, sync.receive.install as install
from tuf.ngclient import Updater

point, data = sys.argv[1], Path(sys.argv[2])
module, name, nth = {
    "metadata": (Updater, "refresh", 1),
    "download": (Updater, "download_target", 1),
    "install": (install, "_switch_current", 1),
}[point]
original, calls = getattr(module, name), []
def wrapper(*args, **kwargs):
    calls.append(1)
    if len(calls) == nth:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)
setattr(module, name, wrapper)
updater.sync_kiosk(data)
"""


def test_sigkill_during_sync_leaves_one_version_and_the_next_sync_completes(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    county_repo.edit("powers/dibao-shenqing.yaml", "name: 最低生活保障申请", "name: 低保申请（新）")
    county_repo.publish()
    for point in ("metadata", "download", "install"):
        child = subprocess.run([sys.executable, "-c", CHILD, point, str(kiosk_data)], cwd=ROOT, timeout=120,
                               capture_output=True)  # fmt: skip
        assert child.returncode == -signal.SIGKILL, child.stderr.decode()
        current = current_database(kiosk_data)
        assert current is not None and database_version(current) == 2, point
        assert power_name(kiosk_data, "dibao-shenqing") == "最低生活保障申请", point
    result = sync_kiosk(kiosk_data)
    assert result.outcome == "updated" and result.version == 3
    assert power_name(kiosk_data, "dibao-shenqing") == "低保申请（新）"
    assert read_state(kiosk_data)["previous"] is not None, "the previous version is kept"


def test_a_kiosk_installs_with_the_countys_search_initials_and_no_pinyin_dictionary(
    county_repo: CountyRepo, kiosk_data: Path
) -> None:
    # pypinyin holds about 55 MB; the county works the initials out when it publishes, so installs stay small.
    script = (
        "import sys; from pathlib import Path; from sync.receive.updater import sync_kiosk\n"
        f"result = sync_kiosk(Path({str(kiosk_data)!r}))\n"
        "print(result.outcome, 'pypinyin' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["updated", "False"], done.stderr
    path = current_database(kiosk_data)
    assert path is not None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        row = db.execute("select initials from search_items where item_id = 'dibao-shenqing'").fetchone()
    assert row == ("zdshbzsq db dbsq",)


def test_the_summary_counts_an_added_item_as_added_and_the_items_it_moves_as_unchanged(
    county_repo: CountyRepo,
) -> None:
    source = county_repo.content / "powers" / "dibao-shenqing.yaml"
    text = source.read_text(encoding="utf-8").replace("id: dibao-shenqing", "id: aaa-xin-shixiang", 1)
    (county_repo.content / "powers" / "aaa-xin-shixiang.yaml").write_text(text, encoding="utf-8")  # first in the list
    result = county_repo.publish()
    assert result.version is not None
    counted = {change.scope: (change.added, change.changed, change.removed) for change in result.changes}
    assert sum(added for added, _changed, _removed in counted.values()) == 1
    assert all(changed == 0 and removed == 0 for _added, changed, removed in counted.values()), counted
    said = describe(result)
    assert "1 added, 0 changed, 0 removed" in said
    assert " changed, " not in said.replace("1 added, 0 changed, 0 removed", ""), said
