"""A fresh Debian machine under a folder, for running the README's deploy commands exactly as printed.

The commands' absolute paths (/etc, /opt, /srv, /var/lib, /usr/local) are moved under the folder,
and so are those inside every file `install` copies (units, the env file, /usr/local/bin/kiosk), so
the installed pieces point at each other inside it. `sudo`, `install`, `useradd`, `apt-get`,
`systemctl` and `nginx` are stand-ins on PATH that record what they were asked; `install` and
`sudo` then do it (sudo without changing user: the test runs as whoever runs it). Everything else
is real: `ln`, the `kiosk` command of this checkout's venv, SQLite, the signed repository.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MOVED = re.compile(r"(?<![\w./-])/(etc|opt|srv|var/lib|usr/local)(?![\w.-])")


def readme_blocks(heading: str) -> list[str]:
    """The ```sh blocks of the README's section *heading*, up to the next heading (of any level)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    assert heading in lines, f"the README has no section {heading!r}"
    blocks: list[list[str]] = []
    fence: str | None = None  # the opening line of the block we are in
    for line in lines[lines.index(heading) + 1 :]:
        if line.startswith("```"):
            fence = None if fence else line
            if fence == "```sh":
                blocks.append([])
        elif fence is None and line.startswith("#"):
            break
        elif fence == "```sh" and line.strip():
            blocks[-1].append(line)
    assert blocks, f"the README's section {heading!r} has no sh block"
    return ["\n".join(block) for block in blocks]


_PRELUDE = """import json, os, sys
def record(**more):
    entry = {"command": os.path.basename(sys.argv[0]), "args": sys.argv[1:], **more}
    with open(os.environ["FAKE_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(entry, ensure_ascii=False) + "\\n")
"""
_RECORDER = _PRELUDE + "record()\n"

_SUDO = """
args, user = sys.argv[1:], "root"
while args and args[0].startswith("-"):
    option = args.pop(0)
    if option != "-u":
        sys.exit(f"sudo stand-in: {option} is not understood")
    user = args.pop(0)
record(user=user, run=args)
os.execvp(args[0], args)
"""

# install(1) as the README uses it: -d DIR..., or SOURCE... DEST (DEST a folder when it is one).
_INSTALL = """
record()
import re
from pathlib import Path
root, moved = os.environ["FAKE_ROOT"], re.compile(os.environ["FAKE_MOVED"])
args, options, paths = sys.argv[1:], {}, []
while args:
    arg = args.pop(0)
    if arg in ("-o", "-g", "-m"):
        options[arg] = args.pop(0)
    elif arg in ("-d", "-D"):
        options[arg] = True
    elif arg.startswith("-"):
        sys.exit(f"install stand-in: {arg} is not understood")
    else:
        paths.append(Path(arg))
mode = int(options.get("-m", "755"), 8)
if options.get("-d"):
    for folder in paths:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(mode)
    sys.exit(0)
*sources, dest = paths
if options.get("-D"):
    dest.parent.mkdir(parents=True, exist_ok=True)
for source in sources:
    target = dest / source.name if dest.is_dir() else dest
    data = source.read_bytes()
    try:
        data = moved.sub(lambda m: root + m.group(0), data.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError:
        pass
    target.write_bytes(data)
    target.chmod(mode)
"""


class FakeMachine:
    """A fresh Debian 12 under *root*, with a copy of this repository in its /opt/village-kiosk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root.parent / f"{root.name}-commands.jsonl"
        self.bin = root.parent / f"{root.name}-stand-ins"
        self.cwd = root / "home" / "admin"
        # What Debian 12 has, and what its nginx package adds, before the README's first command.
        for folder in ("etc/systemd/system", "etc/systemd/user", "etc/nginx/sites-available", "etc/nginx/sites-enabled",
                       "usr/local/bin", "var/lib", "srv", "home/admin"):  # fmt: skip
            (root / folder).mkdir(parents=True, exist_ok=True)
        self.bin.mkdir()
        stand_ins = {"sudo": _PRELUDE + _SUDO, "install": _PRELUDE + _INSTALL}
        for name in ("sudo", "install", "useradd", "apt-get", "systemctl", "nginx"):
            self._script(self.bin / name, stand_ins.get(name, _RECORDER))
        # The repository copy the README starts from: its deploy/ as shipped, and this checkout's venv
        # standing for the one scripts/setup makes (recorded, not run: it would pip install).
        app = root / "opt" / "village-kiosk"
        shutil.copytree(ROOT / "deploy", app / "deploy")
        (app / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
        self._script(app / "scripts" / "setup", _RECORDER)

    def _script(self, path: Path, body: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
        path.chmod(0o755)

    def path(self, absolute: str) -> Path:
        """Where an absolute path of the machine is under the fake root."""
        return Path(self.moved(absolute))

    def moved(self, text: str) -> str:
        return MOVED.sub(lambda match: str(self.root) + match.group(0), text)

    def run(self, script: str, stdin: str = "", replace: dict[str, str] | None = None) -> None:
        """Run *script* as printed, but for the moved paths and the *replace* substitutions."""
        for old, new in (replace or {}).items():
            script = script.replace(old, new)
        env = {
            # The venv's bin last, as if `kiosk` were on PATH anyway: a README that never installs
            # /usr/local/bin/kiosk then fails on the data folder, not on a missing command.
            "PATH": os.pathsep.join(
                [str(self.bin), str(self.root / "usr/local/bin"), os.environ["PATH"], str(Path(sys.executable).parent)]
            ),
            "HOME": str(self.cwd),
            "LANG": "C.UTF-8",
            "FAKE_LOG": str(self.log),
            "FAKE_ROOT": str(self.root),
            "FAKE_MOVED": MOVED.pattern,
        }
        # A session of its own: no terminal, so password prompts read stdin.
        command = ["bash", "-euxo", "pipefail", "-c", self.moved(script)]
        done = subprocess.run(command, input=stdin, env=env, cwd=self.cwd, capture_output=True, text=True,
                              timeout=300, start_new_session=True)  # fmt: skip
        assert done.returncode == 0, f"the README's commands failed:\n{done.stderr[-4000:]}"

    def commands(self) -> list[dict[str, object]]:
        """What the stand-ins were asked, in order."""
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    def unit(self, name: str) -> dict[str, list[str]]:
        """The installed systemd unit *name*: each key with its values, in order."""
        file = self.root / "etc" / "systemd" / "system" / name
        assert file.exists(), f"{name} is not installed in /etc/systemd/system"
        return parse_unit(file.read_text(encoding="utf-8"))

    def service_environment(self, unit: dict[str, list[str]]) -> dict[str, str]:
        """The environment systemd gives an installed service."""
        return unit_environment(unit)


def unit_environment(unit: dict[str, list[str]], root: Path = Path("/")) -> dict[str, str]:
    """A service's environment: Environment=, then its EnvironmentFile= (looked up under *root*) over it."""
    env: dict[str, str] = {}
    for assignment in unit.get("Environment", []):
        for word in shlex.split(assignment):
            key, _, value = word.partition("=")
            env[key] = value
    for file in unit.get("EnvironmentFile", []):
        env.update(env_file(root / file.lstrip("-").lstrip("/")))
    return env


def env_file(path: Path) -> dict[str, str]:
    """The settings an environment file gives, read as systemd and sh read it (a quoted value unquoted)."""
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = " ".join(shlex.split(value))
    return env


def parse_unit(text: str) -> dict[str, list[str]]:
    """A systemd unit's settings (sections merged; a key may repeat)."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings
