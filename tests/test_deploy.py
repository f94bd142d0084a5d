"""deploy/: the kiosk-mode browser launcher and the systemd units an installer copies."""

from __future__ import annotations

import os
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
