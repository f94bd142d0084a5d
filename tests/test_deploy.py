"""deploy/ and the README's deploy sections: the browser launcher, the systemd units, a deploy as printed."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.wire import free_port, stop_process
from kiosk.county.repo_files import RepositoryApp
from kiosk.county.store import open_store
from kiosk.data import accounts
from kiosk.data.local_db import open_local
from kiosk.demo import DEMO_CONTENT
from kiosk.device.listening import SCREENS
from kiosk.device.nightly import UPDATE_REQUEST
from kiosk.device.status import kiosk_status
from kiosk.screens import create_app
from kiosk.settings import load_settings
from tests.county_repo import VILLAGE, CountyRepo
from tests.fake_machine import FakeMachine, env_file, parse_unit, readme_blocks, unit_environment
from tests.servers import serving
from tests.test_staff import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = sorted(path for path in DEPLOY.iterdir() if path.suffix in (".service", ".timer", ".socket", ".path"))
EXEC = ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecStop", "ExecStopPost")
COUNTY_URL = "https://kiosk.county.example"  # the county server's address in the README


def test_browser_launcher_waits_for_the_kiosk_and_locks_chromium_down(live_server: str, tmp_path: Path) -> None:
    recorded = tmp_path / "args"
    fake = tmp_path / "chromium"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {recorded}\n')
    fake.chmod(0o755)
    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "left-by-last-visitor").write_text("x")
    env = {
        **os.environ,
        "KIOSK_URL": f"{live_server}/",
        "KIOSK_BROWSER": str(fake),
        "KIOSK_BROWSER_PROFILE": str(profile),
    }
    subprocess.run([DEPLOY / "kiosk-browser.sh"], env=env, check=True, timeout=30)
    args = recorded.read_text().splitlines()
    assert args[:2] == ["--kiosk", f"{live_server}/"]
    for flag in ("--noerrdialogs", "--disable-pinch", "--overscroll-history-navigation=0",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):  # fmt: skip
        assert flag in args, flag
    assert f"--user-data-dir={profile}" in args and not (profile / "left-by-last-visitor").exists()


def unit(name: str) -> dict[str, list[str]]:
    return parse_unit((DEPLOY / name).read_text(encoding="utf-8"))


def test_systemd_units_run_the_kiosk_commands_on_loopback_behind_nginx() -> None:
    kiosk = unit("village-kiosk.service")
    assert kiosk["ExecStart"] == ["/opt/village-kiosk/releases/current/bin/kiosk serve"] and kiosk["User"] == ["kiosk"]
    assert "KIOSK_HOST=127.0.0.1" in kiosk["Environment"], "the villager screens stay on loopback"
    defaults = load_settings({})
    socket = unit("village-kiosk.socket")
    assert socket["ListenStream"] == [f"{defaults['HOST']}:{defaults['PORT']}"], "the screens' socket, on loopback"
    assert socket["FileDescriptorName"] == [SCREENS] and kiosk["Requires"] == ["village-kiosk.socket"]
    assert "kiosk county refresh" in unit("county-refresh.service")["ExecStart"][0]
    assert unit("county-refresh.timer")["OnCalendar"] == ["*-*-* 00:15"]
    assert unit("kiosk-browser.service")["ExecStart"] == ["/opt/village-kiosk/deploy/kiosk-browser.sh"]
    county = unit("county-repo.service")
    command = shlex.split(county["ExecStart"][0])
    host, port, repo = (command[command.index(option) + 1] for option in ("--host", "--port", "--repo"))
    assert host == "127.0.0.1", "the county server is reached through nginx only"
    assert {"KIOSK_PROXY_HOPS=1", "KIOSK_SECURE_COOKIES=1"} <= set(county["Environment"])
    nginx = (DEPLOY / "nginx-county-repo.conf").read_text(encoding="utf-8")
    assert f"proxy_pass http://{host}:{port};" in nginx and f"root {repo};" in nginx
    assert "listen 443 ssl;" in nginx


def test_the_update_units_run_kiosk_update_after_the_nightly_sync_and_restart_the_screens_as_asked() -> None:
    settings = load_settings(env_file(DEPLOY / "village-kiosk.env"))
    data, releases = Path(settings["DATA_DIR"]), settings["RELEASES_DIR"]
    # The nightly sync (kiosk serve, user kiosk) asks by writing a file; the path unit starts the update.
    asked = unit("village-kiosk-update.path")
    assert asked["PathExists"] == [str(data / UPDATE_REQUEST)] and asked["Unit"] == ["village-kiosk-update.service"]
    update = unit("village-kiosk-update.service")
    assert update["ExecStart"] == [f"{releases}/current/bin/kiosk update"] and update["User"] == ["kiosk"]
    assert update["ExecStartPre"] == [f"/usr/bin/rm -f {data / UPDATE_REQUEST}"], "each request runs it once"
    assert update["ReadWritePaths"] == [releases] and "ReadWritePaths" not in unit("village-kiosk.service"), (
        "only the update writes the releases; the screens run them read-only"
    )
    # kiosk update (user kiosk) asks for the restart the same way; root's small service does it.
    restart = shlex.split(settings["RESTART_COMMAND"])
    assert restart[0] == "touch"
    watched = unit("village-kiosk-restart.path")
    assert watched["PathExists"] == [restart[1]] and watched["Unit"] == ["village-kiosk-restart.service"]
    assert unit("village-kiosk-restart.service")["ExecStart"] == [
        f"/usr/bin/rm -f {restart[1]}",
        "/usr/bin/systemctl restart village-kiosk.service",
    ]
    assert Path(restart[1]).parent == data / UPDATE_REQUEST.parent, "in the folder both services may write"


def test_every_unit_passes_systemd_analyze_verify_and_may_write_its_data_folder(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: install Debian's systemd package (scripts/test does)"
    root = tmp_path / "root"
    # `verify` loads each unit's default dependencies (sysinit.target, ...) and refuses an ExecStart=
    # that is not an executable file. With --root= it looks for both under that folder only, so the
    # host's state never matters: the folder gets the units Debian's systemd ships, an executable
    # stand-in at each ExecStart= path, and our units where the README installs them.
    # --generators=no and --man=no: nothing of the host is run or looked up.
    system_units = next(path for path in map(Path, ("/usr/lib/systemd/system", "/lib/systemd/system")) if path.is_dir())
    shutil.copytree(system_units, root / "usr/lib/systemd/system", symlinks=True)
    installed = root / "etc/systemd/system"
    installed.mkdir(parents=True)
    for environment in DEPLOY.glob("*.env"):
        shutil.copy(environment, root / "etc")
    for file in UNITS:
        shutil.copy(file, installed)
        settings = parse_unit(file.read_text(encoding="utf-8"))
        for exec_start in (command for key in EXEC for command in settings.get(key, [])):
            program = root / exec_start.split()[0].lstrip("-@:+!").lstrip("/")
            program.parent.mkdir(parents=True, exist_ok=True)
            program.write_text("#!/bin/sh\n")
            program.chmod(0o755)
    done = subprocess.run([analyze, "verify", f"--root={root}", "--man=no", "--generators=no",
                           *(str(installed / file.name) for file in UNITS)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr

    # Under ProtectSystem=strict a service writes only to its StateDirectory= and ReadWritePaths=.
    for file in (file for file in UNITS if file.suffix == ".service"):
        service = parse_unit(file.read_text(encoding="utf-8"))
        command = shlex.split(service["ExecStart"][0])
        if not command[0].endswith("/kiosk"):
            continue  # the browser, in the desktop user's session
        must_write = [command[command.index("--repo") + 1]] if "refresh" in command else []
        env = unit_environment(service, root)
        data = env.get("KIOSK_DATA_DIR") or (command[command.index("--data") + 1] if "--data" in command else None)
        if "serve" in command or "update" in command:  # the servers and the update keep their state there
            assert data, f"{file.name} names no data folder: kiosk would use ~/.local/share of its user"
            must_write.append(data)
        if "update" in command:  # and the update installs releases
            must_write.append(env["KIOSK_RELEASES_DIR"])
        writable = [f"/var/lib/{name}" for name in service.get("StateDirectory", [])]
        writable += [path for paths in service.get("ReadWritePaths", []) for path in paths.split()]
        for folder in must_write:
            assert service.get("ProtectSystem") != ["strict"] or any(
                folder == path or folder.startswith(f"{path}/") for path in writable
            ), f"{file.name} cannot write {folder}"
        if "StateDirectory" in service:
            assert data == f"/var/lib/{service['StateDirectory'][0]}", f"{file.name}: data outside its StateDirectory"


def run_readme(machine: FakeMachine, heading: str, county_url: str = COUNTY_URL) -> None:
    """Run the README's commands under *heading* as printed, with the county server at *county_url*."""
    replace = {COUNTY_URL: county_url, "https://repo.county.example": county_url}
    machine.run("\n".join(readme_blocks(heading)), stdin=f"{PASSWORD}\n{PASSWORD}\n", replace=replace)


def service(machine: FakeMachine, name: str) -> tuple[dict[str, list[str]], dict[str, str], Path]:
    """An installed service's settings, environment and data folder (its StateDirectory, checked)."""
    settings = machine.unit(name)
    env = machine.service_environment(settings)
    assert "KIOSK_DATA_DIR" in env, f"{name} runs without KIOSK_DATA_DIR"
    data = Path(env["KIOSK_DATA_DIR"])
    assert data == machine.path(f"/var/lib/{settings['StateDirectory'][0]}"), f"{name}: data outside StateDirectory"
    return settings, env, data


def ran_as(machine: FakeMachine, user: str, words: list[str]) -> bool:
    """Whether a command starting with *words* ran through `sudo -u user`."""
    return any(
        entry["command"] == "sudo" and entry["user"] == user and entry["run"][: len(words)] == words  # type: ignore[index]
        for entry in machine.commands()
    )


def test_the_readme_kiosk_deploy_gives_the_service_its_synced_content_and_staff(
    county_repo: CountyRepo, tmp_path: Path
) -> None:
    machine = FakeMachine(tmp_path / "kiosk-machine")
    shutil.copy(county_repo.root, machine.cwd / "1.root.json")  # from the county office
    with serving(RepositoryApp(county_repo.path)) as url:
        run_readme(machine, "## Deploying a kiosk", url)

    settings, _, data = service(machine, "village-kiosk.service")
    user = settings["User"][0]
    assert Path(shlex.split(settings["ExecStart"][0])[0]).resolve() == (ROOT / ".venv/bin/kiosk").resolve()
    for words in (["kiosk", "init"], ["kiosk", "sync"], ["kiosk", "staff", "add"]):
        assert ran_as(machine, user, words), f"{' '.join(words)} did not run as the service's user {user}"
    made = [entry["args"] for entry in machine.commands() if entry["command"] == "install"]
    assert any("-d" in args and user in args and str(data) in args for args in made), f"the data folder is not {user}'s"  # type: ignore[operator]
    enabled = ["village-kiosk.socket", "village-kiosk", "village-kiosk-update.path", "village-kiosk-restart.path"]
    assert ran_as(machine, "root", ["systemctl", "enable", "--now", *enabled])
    for name in ("village-kiosk.socket", "village-kiosk-update.service", "village-kiosk-restart.service",
                 "village-kiosk-update.path", "village-kiosk-restart.path"):  # fmt: skip
        machine.unit(name)  # installed
    # The first release is the one scripts/setup made; kiosk update (as the service's user) adds the next.
    releases = machine.path("/opt/village-kiosk/releases")
    assert any("-d" in args and user in args and str(releases) in args for args in made), "releases not {user}'s"  # type: ignore[operator]
    assert (releases / "current").is_symlink() and (releases / "current/bin/kiosk").resolve() == (
        ROOT / ".venv/bin/kiosk"
    ).resolve()

    status = kiosk_status(data)
    assert status["village"] == VILLAGE and status["version"] and status["last_outcome"] == "updated", status
    db = open_local(data)
    try:
        assert [(row["name"], row["role"]) for row in accounts.all_accounts(db)] == [("小李", "admin")]
    finally:
        db.close()
    home = create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "t"}).test_client().get("/")
    assert home.status_code == 200 and "桃源村" in home.get_data(as_text=True)


def test_the_readme_county_deploy_serves_on_loopback_with_tls_settings_and_re_signs(tmp_path: Path) -> None:
    machine = FakeMachine(tmp_path / "county-machine")
    shutil.copytree(DEMO_CONTENT, machine.path("/srv/county-content"))
    run_readme(machine, "### The county server")

    settings, env, data = service(machine, "county-repo.service")
    user = settings["User"][0]
    for words in (["kiosk", "county", "init"], ["kiosk", "county", "publish"], ["kiosk", "county", "add-account"]):
        assert ran_as(machine, user, words), f"{' '.join(words)} did not run as the service's user {user}"
    db = open_store(data)
    try:
        assert [(row["name"], row["role"]) for row in accounts.all_accounts(db)] == [("王科长", "admin")]
    finally:
        db.close()
    assert ran_as(machine, "root", ["systemctl", "enable", "--now", "county-repo", "county-refresh.timer"])
    nginx = machine.path("/etc/nginx/sites-enabled/village-kiosk").read_text(encoding="utf-8")

    # The nightly re-signing, as its unit runs it: the keys are where `county init` put them.
    refresh, refresh_env, _ = service(machine, "county-refresh.service")
    command = shlex.split(refresh["ExecStart"][0])
    timestamp = Path(command[command.index("--repo") + 1]) / "metadata" / "timestamp.json"
    before = json.loads(timestamp.read_text())["signed"]["version"]
    base_env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "HOME": str(tmp_path / "nobody")}
    done = subprocess.run(command, env={**base_env, **refresh_env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(timestamp.read_text())["signed"]["version"] == before + 1

    # The server, as its unit runs it (on a free port instead of 8400), behind nginx's TLS.
    command = shlex.split(settings["ExecStart"][0])
    host, port = (command[command.index(option) + 1] for option in ("--host", "--port"))
    assert host == "127.0.0.1" and f"proxy_pass http://{host}:{port};" in nginx and "listen 443 ssl;" in nginx
    assert env.get("KIOSK_PROXY_HOPS") == "1" and env.get("KIOSK_SECURE_COOKIES") == "1"
    command[command.index("--port") + 1] = str(free_port())
    server = subprocess.Popen(command, env={**base_env, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://{host}:{command[command.index('--port') + 1]}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/metadata/timestamp.json", timeout=2) as answer:
                    assert json.loads(answer.read())["signed"]["version"] == before + 1
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and server.poll() is None, "the county server did not start"
                time.sleep(0.2)
        with urllib.request.urlopen(f"{url}/sign-in", timeout=5) as page:
            assert "Secure" in page.headers["Set-Cookie"], "the dashboard's cookie must travel over HTTPS only"
    finally:
        stop_process(server)
        assert server.stderr is not None
        server.stderr.close()


def test_scripts_test_installs_nothing_when_the_debian_packages_are_there(tmp_path: Path) -> None:
    # A copy of scripts/test whose scripts/setup refuses to run: only the package step may happen.
    checkout, bin_dir, log = tmp_path / "checkout", tmp_path / "bin", tmp_path / "asked"
    (checkout / "scripts").mkdir(parents=True)
    bin_dir.mkdir()
    shutil.copy(ROOT / "scripts" / "test", checkout / "scripts" / "test")

    def stand_in(path: Path, body: str) -> None:
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)

    for name in ("chromium", "espeak-ng", "faketime", "systemd-analyze"):
        stand_in(bin_dir / name, "exit 0")
    for name in ("apt-get", "sudo"):
        stand_in(bin_dir / name, f'echo "{name} $*" >> {log}')
    stand_in(checkout / "scripts" / "setup", f'echo "scripts/setup $*" >> {log}; exit 3')
    # Many fonts, the CJK one first: a reader that stops at the first match leaves fc-list
    # writing into a closed pipe.
    families = tmp_path / "families"
    families.write_text("Noto Sans CJK SC\n" + "".join(f"Font {n}\n" for n in range(20_000)))
    stand_in(bin_dir / "fc-list", f"cat {families}")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    for _ in range(5):
        done = subprocess.run([checkout / "scripts" / "test", "--packages"], env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert not log.exists(), f"scripts/test asked for: {log.read_text()}"
