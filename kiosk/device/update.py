"""Installing a kiosk software release: beside the running one, checked, switched to, confirmed, or rolled back.

    RELEASES/<version>/               a virtual environment holding that release (pip, from verified wheels only)
    RELEASES/current -> <version>     what the service runs (deploy/kiosk.service: current/bin/kiosk serve)
    RELEASES/previous -> <version>    the release before, kept for rollback; older releases are pruned (nothing else)
    DATA/software/wheels/<name>.whl   the running release's verified wheels: the next one fetches only what changed
    DATA/software/local.db.before     local.db as it was before the switch (the new release may migrate it)
    DATA/software/update.json         the last update: what was offered, the step it reached, how it ended

The steps, each named in the result: offer (the county's signed channel, sync.receive.software), fetch,
install (into RELEASES/.<version>.partial, renamed when whole), check (the new release's own `kiosk
selfcheck` on a copy of the data: imports, migrations of local.db, its screens answering /healthz), backup,
switch (one symlink replaced: atomic), restart (the service manager's command) and confirm (the health
URL answering with the new version within the time limit). A failure before the switch leaves everything
as it was; after it, the previous release is switched back, local.db restored and the service restarted.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuf.api import exceptions

from kiosk.data.local_db import path_of as local_db_path
from kiosk.device import release_files as files
from kiosk.device.release_files import UpdateFailed
from kiosk.settings import app_version
from sync.contract.files import atomic_write
from sync.contract.i18n import tr
from sync.receive.explain import explain
from sync.receive.software import Channel
from sync.receive.updater import SyncError

log = logging.getLogger(__name__)
INSTALL_TIMEOUT_S = 900  # pip, on a slow kiosk board
CHECK_TIMEOUT_S = 300
SPACE_PER_WHEEL_BYTE = 4  # an installed release takes about this many times its wheels' size
VENV_BYTES = 32 * 2**20  # and a virtual environment with pip takes this before any wheel (26 MB measured)
FULL_BYTES = 2**20  # a disk with less free than this when a step fails is taken to have filled up


@dataclass
class UpdateResult:
    """What one `kiosk update` did, as `kiosk update --json` prints it."""

    outcome: str  # unchanged, installed, failed (nothing changed) or rolled_back (switched back)
    running: str  # the version serving when it ended
    offered: str | None  # the release the county offered, if any
    step: str | None = None  # where it failed
    error: str | None = None
    bytes_downloaded: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass
class Updater:
    """One update of the kiosk in *data_dir*, its releases in *releases*."""

    data_dir: Path
    releases: Path
    restart: list[str]  # the command that restarts the screens (empty: nothing to restart, e.g. in tests)
    health_url: str  # the screens' /healthz
    confirm_seconds: float = 60.0
    source: str | None = None
    fetcher_options: dict[str, Any] | None = None
    python: str = sys.executable  # makes the new environment
    _state: dict[str, Any] = field(default_factory=dict)  # the update's record so far (update.json)

    def run(self, current: str | None = None) -> UpdateResult:
        """Update, unless another update runs on this kiosk (the nightly one, and one a technician typed)."""
        current = current or app_version()
        try:
            with files.held_alone(self.data_dir / "software" / "update.lock") as alone:
                if alone:
                    return self._update(current)
        except OSError as error:  # no room even for the lock's file
            return UpdateResult("failed", current, None, "offer", str(error))
        return UpdateResult("failed", current, None, "offer", tr("another kiosk update is running on this kiosk; "
                                                                 "this one did nothing"))  # fmt: skip

    def _update(self, current: str) -> UpdateResult:
        if (stopped := self._stopped_after_switch()) is not None and (finished := self._finish(stopped)):
            return self._ended(finished)
        offered: str | None = None
        downloaded = 0
        channel: Channel | None = None
        try:
            channel = Channel(self.data_dir, source=self.source, fetcher_options=self.fetcher_options)
            release = channel.offer(current)
            if release is None:
                return UpdateResult("unchanged", current, None)
            offered = str(release["version"])
            if offered in self._switched_back():
                return UpdateResult("unchanged", current, offered, error=tr(
                    "release %(version)s was switched back on this kiosk before: it waits for a newer release",
                    version=offered))  # fmt: skip
            self._record(offered, "fetch")
            wheels = channel.fetch_wheels(release, self._wheels())
            downloaded = channel.bytes_downloaded
            self._record(offered, "install")
            target = self._install(offered, wheels)
            self._record(offered, "check")
            self._check(target)
            before = self._backup_before_switch(offered, current)
        except (SyncError, exceptions.RepositoryError, exceptions.DownloadError, OSError) as error:
            # Refused, tampered with, cut off or out of room: what arrived is kept to resume, nothing switched.
            why = explain(error, None, None, None) if not isinstance(error, SyncError) else str(error)
            step, downloaded = str(self._state.get("step") or "offer"), channel.bytes_downloaded if channel else 0
            return self._ended(UpdateResult("failed", current, offered, step, why, downloaded))
        except UpdateFailed as error:
            return self._ended(UpdateResult("failed", current, offered, error.step, str(error), downloaded))
        result = self._switch_and_confirm(current, offered, target, before)
        result.bytes_downloaded = downloaded
        if result.outcome == "installed":
            self._prune_wheels({wheel.name for wheel in wheels})
        return self._ended(result)

    # --- steps ---------------------------------------------------------------------------------
    def _wheels(self) -> Path:
        return self.data_dir / "software" / "wheels"

    def _install(self, version: str, wheels: list[Path]) -> Path:
        target = self.releases / version
        if (target / ".installed").is_file():
            return target  # installed by an update that stopped later
        need = VENV_BYTES + SPACE_PER_WHEEL_BYTE * sum(wheel.stat().st_size for wheel in wheels)
        self.releases.mkdir(parents=True, exist_ok=True)
        if files.free_bytes(self.releases) < need:
            raise UpdateFailed("install", tr("not enough free disk to install release %(version)s: %(need)s MB needed",
                                             version=version, need=need // 2**20))  # fmt: skip
        # Built where it will run (an environment's scripts name its path): until .installed is written, a stopped
        # install leaves a folder that is removed and built again, and nothing points to it.
        shutil.rmtree(target, ignore_errors=True)
        try:
            self._run("install", [self.python, "-m", "venv", str(target)], INSTALL_TIMEOUT_S)
            pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-cache-dir", "--no-index",
                   "--find-links"]  # fmt: skip
            # Only this release's wheels: the folder also holds older releases' (a withdrawn one's newer dependency
            # among them), and pip would choose the newest it finds.
            with tempfile.TemporaryDirectory(prefix="kiosk-wheels-", dir=self.data_dir / "software") as only:
                for wheel in wheels:
                    os.link(wheel, Path(only) / wheel.name)
                self._run("install", [*pip, only, f"village-kiosk=={version}"], INSTALL_TIMEOUT_S)
        except (UpdateFailed, OSError) as error:
            # The disk filled up after all, or pip failed: what was installed goes at once, not at the next
            # night, because the same disk may hold the screens' local.db.
            full = files.free_bytes(self.releases) < FULL_BYTES
            shutil.rmtree(target, ignore_errors=True)
            if full:  # pip and venv say it in words of their own, if at all
                raise UpdateFailed("install", tr("the disk filled up while release %(version)s was installed; it "
                                                 "was removed again: %(error)s", version=version,
                                                 error=error)) from None  # fmt: skip
            raise
        atomic_write(target / ".installed", version.encode())
        return target

    def _check(self, target: Path) -> None:
        """The new release's own self-check, on a copy of this kiosk's data: nothing of the real data changes."""
        with tempfile.TemporaryDirectory(prefix="kiosk-selfcheck-", dir=self.data_dir / "software") as copy:
            files.copy_data(self.data_dir, Path(copy), "check")
            self._run("check", [str(target / "bin" / "kiosk"), "selfcheck", "--data", copy], CHECK_TIMEOUT_S)

    def _backup_before_switch(self, version: str, current: str) -> str | None:
        """Check that the switch can be made, copy local.db aside, and return the release current points to."""
        for link in (self.releases / "current", self.releases / "previous"):
            if os.path.lexists(link) and not link.is_symlink():  # a release copied there by hand
                raise UpdateFailed("switch", tr("%(path)s is a folder or a file, not a link to a release: move it to "
                                                "%(releases)s/<its version>, link %(path)s to it, then update again",
                                                path=link, releases=self.releases))  # fmt: skip
        before = files.pointed(self.releases / "current")
        self._record(version, "backup", running=current, before=before)
        files.backup(local_db_path(self.data_dir), self._backup_path(), "backup")
        return before

    def _switch_and_confirm(self, current: str, version: str, target: Path, before: str | None) -> UpdateResult:
        self._record(version, "switch")
        if before and before != target.name:
            files.point(self.releases / "previous", before)
        files.point(self.releases / "current", target.name)
        problem = self._restart_and_confirm(version)
        if problem is None:
            self._prune()
            return UpdateResult("installed", version, version)
        log.warning("release %s failed after the switch, switching back: %s", version, problem[1])
        return self._switch_back(current, version, before, problem)

    def _switch_back(self, current: str, version: str, before: str | None, problem: tuple[str, str]) -> UpdateResult:
        """Point current at the release before, put local.db back as it was, and restart that release."""
        self._record(version, "switch_back")
        if before:
            files.point(self.releases / "current", before)
        files.restore(self._backup_path(), local_db_path(self.data_dir))
        again = self._restart_and_confirm(current, record=False)
        note = (
            "" if again is None else " " + tr("(and the previous release did not answer either: %(why)s)", why=again[1])
        )
        self._note_switched_back(version)
        return UpdateResult("rolled_back", current, version, problem[0], problem[1] + note)

    def _switched_back(self) -> list[str]:
        """The releases switched back on this kiosk: offered again, they are not tried again (each try shows the
        villagers a failing release for up to confirm_seconds); a newer release is."""
        try:
            found = json.loads((self.data_dir / "software" / "switched-back.json").read_bytes())
        except (OSError, ValueError):
            return []
        return [str(version) for version in found] if isinstance(found, list) else []

    def _note_switched_back(self, version: str) -> None:
        try:
            versions = [*self._switched_back(), version][-20:]
            atomic_write(self.data_dir / "software" / "switched-back.json", json.dumps(versions).encode())
        except OSError as error:  # a full disk: the release is tried again the next night
            log.warning("could not note that %s was switched back: %s", version, error)

    def _stopped_after_switch(self) -> dict[str, Any] | None:
        """The record of an update that a kill or a power cut stopped once it had begun to switch, if any."""
        try:
            record = json.loads((self.data_dir / "software" / "update.json").read_bytes())
        except (OSError, ValueError):
            return None
        stopped = isinstance(record, dict) and not record.get("ended")
        if not stopped or record.get("step") not in ("switch", "restart", "confirm", "switch_back"):
            return None
        # Finishing it points current at its releases and may put local.db back: a damaged record must name
        # releases that are installed here, or it is set aside (and the update made again from the start).
        offered, before = record.get("offered"), record.get("before")
        plain = isinstance(offered, str) and "/" not in offered and offered not in ("", ".", "..")
        if (
            not plain or not (self.releases / str(offered) / ".installed").is_file()
            or not (before is None or (isinstance(before, str) and (self.releases / before / "bin/kiosk").is_file()))
            or not isinstance(record.get("running", ""), str)
        ):  # fmt: skip
            log.warning(tr("%(file)s names no update this kiosk can finish; it is ignored: %(record)s",
                           file=self.data_dir / "software" / "update.json", record=record))  # fmt: skip
            return None
        return dict(record)

    def _finish(self, record: dict[str, Any]) -> UpdateResult | None:
        """Finish the update *record* names: keep the new release if its screens answer, else switch back; None
        when it stopped before the new release could run (the update is simply made again)."""
        version, running, before = str(record["offered"]), str(record.get("running", "")), record.get("before")
        pointed = files.pointed(self.releases / "current")
        if record["step"] == "switch" and pointed != version:
            return None  # local.db was never the new release's: keep what the old one wrote since
        self._state = dict(record)
        if pointed == version and record["step"] != "switch_back":
            problem = self._restart_and_confirm(version)
            if problem is None:
                self._prune()
                return UpdateResult("installed", version, version)
        else:
            problem = ("switch", tr("the update to %(version)s was stopped (a power cut?) before it could be "
                                    "confirmed", version=version))  # fmt: skip
        return self._switch_back(running, version, before, problem)

    def _backup_path(self) -> Path:
        return self.data_dir / "software" / "local.db.before"

    def _restart_and_confirm(self, version: str, record: bool = True) -> tuple[str, str] | None:
        """Restart the screens and wait for them to answer with *version*; the step and why, if they do not."""
        if record:
            self._record(version, "restart")
        if self.restart:
            try:
                self._run("restart", self.restart, 120)
            except UpdateFailed as error:
                return error.step, str(error)
        if record:
            self._record(version, "confirm")
        deadline, seen = time.monotonic() + self.confirm_seconds, "no answer"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.health_url, timeout=2) as answer:  # noqa: S310 - the kiosk's own
                    seen = json.loads(answer.read(4096)).get("version", "?")
                if seen == version:
                    return None
            except (OSError, ValueError) as error:
                seen = str(error)
            time.sleep(0.1)
        return "confirm", tr("the screens did not answer with version %(version)s within %(seconds)s s (last: "
                             "%(seen)s)", version=version, seconds=self.confirm_seconds, seen=seen)  # fmt: skip

    def _prune(self) -> None:
        """Keep the current and previous releases; remove the other releases (and nothing else)."""
        # By the folder they lead to: a technician's link may name it by its full path.
        pointed = (files.pointed(self.releases / link) for link in ("current", "previous"))
        keep = {(self.releases / name).resolve() for name in pointed if name}
        for entry in self.releases.iterdir():
            release = (entry / ".installed").is_file() or (entry / "pyvenv.cfg").is_file()
            if release and not entry.is_symlink() and entry.resolve() not in keep:
                shutil.rmtree(entry, ignore_errors=True)

    def _prune_wheels(self, keep: set[str]) -> None:
        """Keep the wheels of the release now running (the next release mostly shares them); remove the others."""
        for wheel in self._wheels().glob("*.whl"):
            if wheel.name not in keep:
                wheel.unlink(missing_ok=True)

    # --- helpers -------------------------------------------------------------------------------
    def _run(self, step: str, command: list[str], timeout: float) -> None:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,  # noqa: S603
                                  env=files.clean_environment())  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as error:
            raise UpdateFailed(step, tr("%(command)s: %(error)s", command=Path(command[0]).name, error=error)) from None
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip()[-600:]
            raise UpdateFailed(step, tr("%(command)s failed (exit %(code)s): %(said)s", command=Path(command[0]).name,
                                        code=done.returncode, said=said))  # fmt: skip

    def _record(self, version: str, step: str, **values: Any) -> None:
        """Note the step the update of *version* is at (with what a stopped update needs to be finished)."""
        self._state = {**self._state, **values, "offered": version, "step": step}
        self._write({**self._state, "at": datetime.now(UTC).isoformat(timespec="seconds")})

    def _ended(self, result: UpdateResult) -> UpdateResult:
        self._write({**asdict(result), "at": datetime.now(UTC).isoformat(timespec="seconds"), "ended": True})
        self._state = {}
        return result

    def _write(self, record: dict[str, Any]) -> None:
        try:
            (self.data_dir / "software").mkdir(parents=True, exist_ok=True)
            atomic_write(self.data_dir / "software" / "update.json", json.dumps(record, ensure_ascii=False).encode())
        except OSError as error:  # a full disk: the update itself says how it went
            log.warning("could not record the update: %s", error)
