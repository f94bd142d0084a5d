"""deploy/: the kiosk-mode browser launcher and the systemd units an installer copies."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


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


def test_systemd_units_run_the_kiosk_commands_on_loopback() -> None:
    def lines(name: str) -> list[str]:
        return (DEPLOY / name).read_text(encoding="utf-8").splitlines()

    kiosk = lines("village-kiosk.service")
    assert "ExecStart=/opt/village-kiosk/.venv/bin/kiosk serve" in kiosk and "User=kiosk" in kiosk
    assert "Environment=KIOSK_HOST=127.0.0.1" in kiosk, "the villager screens stay on loopback"
    assert any(
        line.startswith("ExecStart=") and "kiosk county refresh" in line for line in lines("county-refresh.service")
    )
    assert "OnCalendar=*-*-* 00:15" in lines("county-refresh.timer")
    assert "ExecStart=/opt/village-kiosk/deploy/kiosk-browser.sh" in lines("kiosk-browser.service")


def test_scripts_test_installs_nothing_when_the_debian_packages_are_there(tmp_path: Path) -> None:
    # A copy of scripts/test whose scripts/setup refuses to run: only the package step may happen.
    checkout, bin_dir, log = tmp_path / "checkout", tmp_path / "bin", tmp_path / "asked"
    (checkout / "scripts").mkdir(parents=True)
    bin_dir.mkdir()
    shutil.copy(ROOT / "scripts" / "test", checkout / "scripts" / "test")

    def stand_in(path: Path, body: str) -> None:
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)

    for name in ("chromium", "espeak-ng", "systemd-analyze"):
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
