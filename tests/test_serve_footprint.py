"""`kiosk serve` imports only what a serving kiosk uses (issue 17, point 6): what a screens process never
loads stays out of its memory for the months it runs on a small board. And `kiosk sync` imports only what a
sync uses (point 1): a night's child process stays small at any county size.

The real command is started with `python -X importtime`, which writes every module imported by an import
statement to stderr (the command's own module, which kiosk/cli/lazy.py imports through importlib, is not
written, but every module it imports is), and every page type a villager opens is asked for before it is
stopped: a module that only some request imports is caught too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from bench.wire import free_port, stop_process
from kiosk.cli import COMMANDS, main
from tests.county_repo import CountyRepo

# Never imported by `kiosk serve` (the screens and the staff console), and why a serving kiosk has no use for it.
NEVER_SERVED = {
    "tuf": "python-tuf verifies the county's signed repository: only in `kiosk sync`, a child process",
    "securesystemslib": "python-tuf's keys and signatures: the same",
    "cryptography": "the kiosk signs its reports in `kiosk report`, a child process; sign-in is argon2",
    "urllib3": "the HTTP client of the sync and the reports, both in child processes; pages fetch nothing",
    "jsonschema": "the content contract's JSON Schemas, checked by the county before it publishes",
    "referencing": "jsonschema's $ref resolver: the same",
    "yaml": "county content is YAML in the county's folder; a kiosk reads its installed SQLite files",
    "markdown_it": "a notice's Markdown is made HTML once, when it is saved or installed; pages show the HTML",
    "sync.publish": "signing the repository and releases: the county's",
    "sync.authoring": "the county's studio and Excel import",
    "sync.receive.updater": "the sync itself, in `kiosk sync`",
    "sync.contract.content": "loading and checking a county folder: the county's `publish`, and `kiosk demo`'s install",
    "openpyxl": "reading and writing the county's Excel tables",
    "holidays": "`kiosk county calendar` makes a year of the official calendar from it; kiosks get the year as content",
    "escpos": "the receipt printer: imported when one is set (KIOSK_PRINTER) or a slip is made; the demo has none",
}
# Never imported by `kiosk sync` of a kiosk with no county server to report to (the report's code loads after
# the sync, and only for an enrolled kiosk).
NEVER_SYNCED = {
    "flask": "the web framework of the screens and the staff console",
    "werkzeug": "flask's requests and responses: the same",
    "jinja2": "the pages' templates: the same",
    "flask_babel": "the pages' translations: the sync's messages are sync/translations",
    "sqlite_utils": "the local database's migrations (kiosk/data/local_db.py): a sync writes its versions with sqlite3",
    "kiosk.screens": "the villagers' screens",
    "kiosk.staff": "the staff console",
    "kiosk.device.uplink": "the report to the county: only for an enrolled kiosk, after the sync",
    **{name: NEVER_SERVED[name] for name in ("jsonschema", "yaml", "markdown_it", "sync.publish", "sync.authoring",
                                             "sync.contract.content", "openpyxl", "holidays")},
}  # fmt: skip
SERVE_ENV = {"KIOSK_SYNC_NIGHTLY": "0", "KIOSK_REPORT_MINUTES": "0", "KIOSK_UPDATE_NIGHTLY": "0"}
IMPORTED = re.compile(r"^import time:\s+\d+\s+\|\s+\d+\s+\|( *)(\S+)\s*$", re.MULTILINE)
VILLAGER_PAGES = [
    "/",
    "/powers",
    "/powers/dibao-shenqing",
    "/notices",
    "/search?q=d",  # a key of the on-screen keyboard: pinyin initials
    "/search?q=%E4%BD%8E%E4%BF%9D",  # 低保, in words
    "/guides",
    "/guides/shenghuo-kunnan/",
    "/guides/shenghuo-kunnan/1-1-1",  # an ending, with its matters and their QR codes
    "/ten-ones",
    "/catalogue",
    "/contacts",
    "/about",
]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:
        assert answer.status == 200, url
        return str(answer.read().decode("utf-8"))


def _until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):  # 30 s at most
        assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")[-3000:]
        try:
            _get(f"{url}/healthz")
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the screens never answered")


def _imported(stderr: str) -> set[str]:
    return {name for _indent, name in IMPORTED.findall(stderr)}


def _chain(stderr: str, module: str) -> str:
    """Say what imported *module*, as "module <- its importer <- ...": python writes a module after the ones it
    imported, each indented one deeper than its importer."""
    lines = [(len(indent) - 1, name) for indent, name in IMPORTED.findall(stderr)]  # one space after the bar
    start = next(n for n, (_, name) in enumerate(lines) if name == module)
    chain, depth = [module], lines[start][0]
    for indent, name in lines[start + 1 :]:
        if depth == 0:
            break
        if indent < depth:
            chain.append(name)
            depth = indent
    return " <- ".join(chain)


def _forbidden(imported: set[str], never: dict[str, str] = NEVER_SERVED) -> dict[str, list[str]]:
    found = {name: sorted(m for m in imported if m == name or m.startswith(name + ".")) for name in never}
    return {name: modules for name, modules in found.items() if modules}


def test_a_serving_kiosk_never_imports_the_county_tools_the_sync_or_the_content_checks(
    demo_data: Path, tmp_path: Path
) -> None:
    data, log = tmp_path / "data", tmp_path / "importtime.log"
    shutil.copytree(demo_data, data)
    port, staff_port = free_port(), free_port()
    env = {**os.environ, **SERVE_ENV, "KIOSK_PORT": str(port), "KIOSK_STAFF_PORT": str(staff_port)}
    command = [sys.executable, "-X", "importtime", "-m", "kiosk.cli", "serve", "--data", str(data)]
    with log.open("wb") as stderr:  # a file, not a pipe: the import log is larger than a pipe holds unread
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        url = f"http://127.0.0.1:{port}"
        try:
            _until_healthy(url, process, log)
            notices = _get(f"{url}/notices")
            notice = re.search(r'href="(/notice/[^"]+)"', notices)
            assert notice, "the demo village has a notice on show"
            for path in [*VILLAGER_PAGES, notice.group(1)]:
                _get(f"{url}{path}")
            assert "password" in _get(f"http://127.0.0.1:{staff_port}/sign-in")
        finally:
            stop_process(process)
    said = log.read_text(encoding="utf-8", errors="replace")
    imported = _imported(said)
    assert {"kiosk.screens.views", "kiosk.staff.auth", "waitress"} <= imported, "the import log was read"
    found = _forbidden(imported)
    assert not found, "\n".join(f"{name} ({NEVER_SERVED[name]}): {_chain(said, modules[0])}"
                                for name, modules in found.items())  # fmt: skip


def test_a_sync_imports_neither_the_web_apps_nor_the_county_tools(county_repo: CountyRepo, kiosk_data: Path) -> None:
    """The real command, installing the demo county's first version, then on a night with no change."""
    command = [sys.executable, "-X", "importtime", "-m", "kiosk.cli", "sync", "--json", "--data", str(kiosk_data)]
    for outcome in ("updated", "unchanged"):
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        assert json.loads(done.stdout.splitlines()[-1])["outcome"] == outcome, done.stderr[-3000:]
        imported = _imported(done.stderr)
        assert {"sync.receive.updater", "tuf.ngclient"} <= imported, "the import log was read"
        found = _forbidden(imported, NEVER_SYNCED)
        assert not found, "\n".join(f"{name} ({NEVER_SYNCED[name]}): {_chain(done.stderr, modules[0])}"
                                    for name, modules in found.items())  # fmt: skip


def test_the_import_log_is_read_as_python_writes_it() -> None:
    said = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       110 |        110 |   tuf.api\n"
        "import time:      2000 |      5000 | sync.receive.updater\n"
        "import time:        50 |         50 | _yaml\n"
        "import time:        50 |         50 | yamlish\n"
    )
    imported = _imported(said)
    assert imported == {"tuf.api", "sync.receive.updater", "_yaml", "yamlish"}
    assert _forbidden(imported) == {"tuf": ["tuf.api"], "sync.receive.updater": ["sync.receive.updater"]}
    assert _chain(said, "tuf.api") == "tuf.api <- sync.receive.updater"


def test_every_command_is_listed_with_its_help_though_each_is_imported_only_when_it_runs() -> None:
    listed = CliRunner().invoke(main, ["--help"], env={"KIOSK_DEFAULT_LOCALE": "en"})
    assert listed.exit_code == 0, listed.output
    for name in COMMANDS:
        assert re.search(rf"^  {re.escape(name)}\s+\S", listed.output, re.MULTILINE), f"{name} is listed with its help"
    county = CliRunner().invoke(main, ["county", "--help"], env={"KIOSK_DEFAULT_LOCALE": "en"})
    assert county.exit_code == 0, county.output
    for name in ("validate", "import", "export", "publish", "calendar", "release", "serve", "add-kiosk"):
        assert re.search(rf"^  {re.escape(name)}\s+\S", county.output, re.MULTILINE), f"county {name} is listed"
