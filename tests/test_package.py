"""The kiosk installs as a package: a wheel built from the checkout works in a fresh venv outside it.

The venv borrows the checkout's installed dependencies (a .pth line pointing at .venv's site-packages)
instead of downloading them again: the test stays fast and needs no network beyond building the wheel,
while the package itself (code, templates, static files, schemas, catalogues, demo county) comes only
from the wheel. `pip check` then proves the wheel's declared dependencies are met by what it sees.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_NOT_SOURCES = shutil.ignore_patterns("__pycache__", "*.mo", "*.egg-info")  # anywhere
_LOCAL = {".git", ".venv", "build", "dist", "data", "test-artifacts", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def _not_sources(folder: str, names: list[str]) -> set[str]:
    """What a copy of the checkout leaves out: it builds from its sources, never from .mo compiled here."""
    return _NOT_SOURCES(folder, names) | (_LOCAL & set(names) if Path(folder) == ROOT else set())


def _run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: int = 300) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _fetch(url: str, server: subprocess.Popen[bytes], seconds: int = 90) -> tuple[int, str]:
    """GET *url* once the server answers; give up after *seconds* or if the server exits."""
    deadline = time.monotonic() + seconds
    for _attempt in range(seconds * 5):
        assert server.poll() is None, f"kiosk demo exited with {server.returncode} (see demo.log)"
        if time.monotonic() > deadline:
            break
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:  # it answered, with an error page
            return error.code, error.read().decode("utf-8", "replace")
        except (urllib.error.URLError, ConnectionError):  # not listening yet
            time.sleep(0.2)
    raise AssertionError(f"nothing answered at {url} within {seconds} s")


def test_the_wheel_installed_outside_the_checkout_validates_and_serves_the_demo_in_chinese(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("KIOSK_")}
    # Built from a copy, so the build writes nothing into the checkout.
    source = Path(shutil.copytree(ROOT, tmp_path / "source", symlinks=True, ignore=_not_sources))
    _run([sys.executable, "-m", "pip", "wheel", source, "--no-deps", "-q", "-w", tmp_path / "dist"], source, env)
    (wheel,) = (tmp_path / "dist").glob("village_kiosk-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path, env)
    python = venv / "bin" / "python"
    site = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env).strip()
    )
    (site / "checkout_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel], tmp_path, env)
    _run([sys.executable, "-m", "pip", "--python", python, "check"], tmp_path, env)

    where = _run([python, "-c", "import kiosk, sync; print(kiosk.__file__); print(sync.__file__)"], tmp_path, env)
    assert all(Path(line).is_relative_to(site) for line in where.split()), f"imported from the checkout: {where}"
    demo = Path(_run([python, "-c", "from kiosk.demo import DEMO_CONTENT; print(DEMO_CONTENT)"], tmp_path, env).strip())
    assert demo.is_relative_to(site) and (demo / "county.yaml").is_file(), demo

    checked = _run([venv / "bin" / "kiosk", "county", "validate", demo], tmp_path, env)
    assert "检查通过" in checked, f"not the operators' catalogue in Chinese: {checked}"

    port = _free_port()
    command: list[str | Path] = [venv / "bin" / "kiosk", "demo", "--port", str(port), "--data", tmp_path / "data"]
    with open(tmp_path / "demo.log", "wb") as log:
        server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            status, page = _fetch(f"http://127.0.0.1:{port}/", server)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
    assert status == 200, (tmp_path / "demo.log").read_text(encoding="utf-8")
    assert "小微权力清单" in page, "the home page comes from the wheel's templates and Chinese catalogue"
