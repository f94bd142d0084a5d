"""The kiosk's side of the update channel: verify everything with python-tuf, fetch only what
changed, install atomically, and never lower a version or blank the screen.

Data directory:

    kiosk.json                  the village this kiosk shows and where its county publishes
    tuf/trusted-root.json       the county's root, shipped with the kiosk (read-only)
    tuf/metadata/               ngclient's verified metadata
    tuf/targets/<sha256>        verified targets, kept so an unchanged target is never fetched again
    tuf/partial/                interrupted downloads, resumed next time
    sync-status.json            last attempt, outcome, error, and the time floor
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuf.api import exceptions
from tuf.api.metadata import TargetFile

from sync.contract.channel import (
    CONTENT_FORMAT,
    SIGNED_AT,
    county_from_items,
    photo_refs,
    role_of,
    scope_of,
    shard_name,
)
from sync.contract.i18n import tr
from sync.contract.kinds import ContentInvalid
from sync.contract.media import media_digest
from sync.contract.snapshot import blob_name, media_names, village_snapshot
from sync.receive import unchanged
from sync.receive.database import database_version, installed_meta, installed_targets
from sync.receive.explain import explain
from sync.receive.install import (
    InstallError,
    current_database,
    install_patch,
    install_snapshot,
    intact,
    readable_content,
    repair_state,
)
from sync.receive.patch import NotPatchable, Survey, add_items, plan_patch, shard_items
from sync.receive.qr_codes import insert_codes
from sync.receive.setup import init_kiosk as init_kiosk
from sync.receive.signed_files import Say, SignedFiles

# Kept in status.py, where reading them needs no python-tuf; found here too, as they always were.
from sync.receive.status import CONFIG as CONFIG
from sync.receive.status import STATUS as STATUS
from sync.receive.status import SyncError as SyncError
from sync.receive.status import SyncResult as SyncResult
from sync.receive.status import read_config as read_config
from sync.receive.status import read_status as read_status
from sync.receive.status import tuf_dir, write_json
from sync.receive.time_floor import raise_floor, time_floor

logger = logging.getLogger(__name__)
Progress = Say  # (message, passing): a passing message is replaced by the next one


class NewerContent(SyncError):
    """The county's content is in a form this kiosk's software cannot read (channel.CONTENT_FORMAT)."""


class _Sync:
    def __init__(self, data_dir: Path, source: str | None, now: datetime | None, progress: Progress | None,
                 fetcher_options: dict[str, Any] | None) -> None:  # fmt: skip
        self.data_dir = Path(data_dir)
        self.checked_version: int | None = None
        self.config = read_config(self.data_dir)
        self.now = now or datetime.now(UTC)
        self.progress = progress
        self.status = read_status(self.data_dir)
        self.tuf = tuf_dir(self.data_dir)
        # Kiosk clocks can be far behind (flat CMOS battery): never judge expiry by a time older
        # than the newest signing time already verified (the time floor).
        self.floor = time_floor(self.status)
        self.reference = max(self.now, self.floor) if self.floor else self.now
        self.files = SignedFiles(self.tuf, source or self.config["repository"], self.config["village"],
                                 self.reference, self.say, fetcher_options)  # fmt: skip

    def say(self, message: str, passing: bool = False) -> None:
        if self.progress is not None:
            self.progress(message, passing)

    def run(self) -> SyncResult:
        self.say(tr("checking the county's signed metadata"))
        self.files.updater.refresh()
        trusted = self.files.trusted
        self.checked_version = trusted.snapshot.version
        signed_at = trusted.timestamp.unrecognized_fields.get(SIGNED_AT)
        if signed_at:
            raise_floor(self.status, self.now, datetime.fromisoformat(signed_at.replace("Z", "+00:00")))
        installed, reference = current_database(self.data_dir), self.reference  # a damaged one: as if none
        if installed is not None and unchanged.still_current(self.status, trusted, self.config, installed, reference):
            self.say(tr("nothing new for this village"))  # not one delegated role loaded, not one shard opened
            return self._result("unchanged", database_version(installed), installed_meta(installed, "content_date"))
        result = self._run(installed)
        if (current := current_database(self.data_dir)) is not None:  # the record that lets the next night end here
            self.status[unchanged.RECORD] = unchanged.record(trusted, self.config["village"], current)
        return result

    def _run(self, installed: Path | None) -> SyncResult:
        """Compare the village's signed files with those the installed version was built from; install what changed."""
        version, village = self.files.trusted.snapshot.version, self.config["village"]
        county_manifest = self._manifest("county")
        if county_manifest is None:
            raise SyncError(tr("the county has not published any content yet"))
        if installed is not None and intact(installed):
            township = installed_meta(installed, "township")  # unchanged while the county's scope is
            if township and installed_meta(installed, "source") == self.files.source(township):
                # Decided on the signed metadata alone: no shard is opened on a night with no change.
                self.say(tr("nothing new for this village"))
                return self._result("unchanged", database_version(installed), installed_meta(installed, "content_date"))
            if township and (patched := self._patch(installed, township)) is not None:
                return patched
        # A whole install: the shards are read twice, one at a time, so that memory holds one shard, not the county.
        survey, shards, wanted, dates = Survey(), list[Path](), list[tuple[TargetFile, Path]](), list[str]()
        township = self._scope("county", county_manifest, survey, shards, wanted, dates, village)
        for scope in (f"township/{township}", f"village/{village}"):
            manifest = self._manifest(scope)
            if manifest is None:
                self._check_nothing_published(scope)
            else:
                self._scope(scope, manifest, survey, shards, wanted, dates, village)
        photos = self._photos(survey)
        wanted += [(info, file) for info, file in photos.values()]
        files = {ref: file for ref, (_info, file) in photos.items()}
        self.say(tr("installing version %(version)s", version=version))
        shown_by_small = {ref for item in survey.small for ref in photo_refs(item)}  # the ten ones': named below
        county = county_from_items(survey.small, {ref: f for ref, f in files.items() if ref in shown_by_small})
        snapshot, _media = village_snapshot(county, village, version, max(dates))
        snapshot["source"], snapshot["township"], snapshot["targets"] = (
            self.files.source(township), township, self.files.listing(township))  # fmt: skip
        names, places, drawing = media_names(files), survey.category_places(), None
        if installed is None:  # a first install: its codes drawn on the other CPUs while it writes the rows
            from sync.receive.qr_workers import Drawing, worth_drawing_elsewhere  # only an install draws codes

            codes = survey.codes(snapshot["village"], snapshot["county"]["public_base_url"])
            drawing = Drawing(codes) if worth_drawing_elsewhere(len(codes)) else None

        def more(db: sqlite3.Connection) -> None:
            add_items(db, shard_items(shards), snapshot["village"], snapshot["contacts"], names, places)
            if drawing is not None:
                insert_codes(db, drawing.rows())

        install_snapshot(self.data_dir, snapshot, {names[ref]: file for ref, file in files.items()}, more)
        self._tidy_cache({p.name for _i, p in wanted})
        return self._result("updated", version, max(dates))

    def _patch(self, installed: Path, township: str) -> SyncResult | None:
        """Install only the items that changed, into a copy of the installed version (patch.py); None when the
        change needs the whole version written again."""
        manifests = {scope: self._manifest(scope) for scope in self.files.scopes(township)}  # refuses a newer form
        new = self.files.listing(township)
        try:
            patch = plan_patch(
                installed_targets(installed), new, self.files.scopes(township), self.files.kept, self.files.fetched
            )
        except NotPatchable as why:
            logger.info("installing the whole version: %s", why)
            return None
        refs = {ref: self.files.required(f"{scope_of(item['data']['scope'])}/{ref}")
                for item in patch.added for ref in photo_refs(item)}  # fmt: skip
        self.files.fetch(list(refs.values()))
        version = self.files.trusted.snapshot.version
        content_date = max(m["published"] for m in manifests.values() if m is not None)
        patch.meta = {"version": str(version), "content_date": content_date, "source": self.files.source(township)}
        patch.targets, patch.photos = new, {ref: file for ref, (_info, file) in refs.items()}
        changed = len({(item["kind"], item["id"]) for item in patch.removed + patch.added})
        self.say(tr("installing version %(version)s: %(count)s items changed", version=version, count=changed))
        media = {blob_name(media_digest(file), ref): file for ref, file in patch.photos.items()}
        install_patch(self.data_dir, installed, version, patch, media)
        self._tidy_cache(set(new.values()))
        return self._result("updated", version, content_date)

    def _check_nothing_published(self, scope: str) -> None:
        """Refuse a scope whose signed role lists files but no manifest: that is damage, not an empty scope.

        A scope the county emptied keeps its role with no targets (repository.publish); a role that
        lists files without this scope's manifest was made for another scope or broken on the way.
        """
        role, trusted = role_of(scope), self.files.trusted
        if role in trusted and trusted[role].targets:  # ngclient loaded it, verified, looking for the manifest
            raise SyncError(tr("the signed metadata of %(role)s lists files but not this scope's manifest "
                               "%(path)s: the repository is damaged or was tampered with; nothing was changed",
                               role=role, path=f"{scope}/manifest.json"))  # fmt: skip

    def _manifest(self, scope: str) -> dict[str, Any] | None:
        found = self.files.target(f"{scope}/manifest.json")
        if found is None:
            return None
        self.files.fetch([found])
        manifest: dict[str, Any] = json.loads(found[1].read_bytes())
        form = manifest.get("format", 1)  # content published before forms were named: the first
        if not isinstance(form, int) or form > CONTENT_FORMAT:
            raise NewerContent(tr("the county's content is in a newer form (%(form)s) than this kiosk's software reads"
                                  " (%(known)s): the kiosk keeps the content it has; install the county's newer"
                                  " kiosk software (kiosk update) and sync again",
                                  form=str(form)[:20], known=CONTENT_FORMAT))  # fmt: skip
        manifest["_target"] = found
        return manifest

    def _scope(
        self, scope: str, manifest: dict[str, Any], survey: Survey, shards: list[Path],
        wanted: list[tuple[TargetFile, Path]], dates: list[str], village: str,
    ) -> str:  # fmt: skip
        """Fetch a scope's shards and read them into *survey* (one at a time); return the village's township."""
        count = int(manifest["shard_count"])
        found = [self.files.required(f"{scope}/{shard_name(index, count)}") for index in range(count)]
        self.files.fetch(found, lambda file: survey.read(file.read_bytes(), scope))  # each read as the next downloads
        shards += [file for _info, file in found]
        wanted += [manifest["_target"], *found]
        dates.append(manifest["published"])
        townships = (t for item in survey.small if item["kind"] == "county" for t in item["data"]["townships"])
        township = next((t["code"] for t in townships if any(v["code"] == village for v in t["villages"])), None)
        if township is None:
            raise SyncError(tr("the county's content has no village %(village)s", village=village))
        return str(township)

    def _photos(self, survey: Survey) -> dict[str, tuple[TargetFile, Path]]:
        """Fetch the photos the items show, each from the scope of an item that shows it."""
        found = {ref: self.files.required(f"{scope}/{ref}") for ref, scope in sorted(survey.photos.items())}
        self.files.fetch(list(found.values()))
        return found

    def _tidy_cache(self, keep: set[str]) -> None:
        for file in (self.tuf / "targets").iterdir():
            if file.name not in keep:
                file.unlink(missing_ok=True)

    def _result(
        self, outcome: str, version: int | None, content_date: str | None, error: str | None = None
    ) -> SyncResult:
        return SyncResult(
            outcome, version, content_date, self.files.fetcher.bytes_received, self.files.fetcher.files_received, error
        )


def _failed(data_dir: Path, sync: _Sync | None, why: str) -> SyncResult:
    """The result of a sync that failed for *why*: the installed version stays, and what arrived is counted."""
    installed = readable_content(data_dir).path
    return SyncResult(
        "failed",
        database_version(installed) if installed else None,
        installed_meta(installed, "content_date") if installed else None,
        sync.files.fetcher.bytes_received if sync else 0,
        sync.files.fetcher.files_received if sync else 0,
        why,
    )


def sync_kiosk(
    data_dir: Path,
    source: str | None = None,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    fetcher_options: dict[str, Any] | None = None,
) -> SyncResult:
    """Sync once from the county (or *source*: a URL or a USB folder); never raises for a failed sync.

    A failure from a bug (an exception no check foresaw) is a failed sync too, logged with its traceback.
    """
    data_dir = Path(data_dir)
    attempt = (now or datetime.now(UTC)).isoformat()
    sync: _Sync | None = None
    try:
        repair_state(data_dir)
        sync = _Sync(data_dir, source, now, progress, fetcher_options)
        result = sync.run()
    except (SyncError, InstallError, ContentInvalid, exceptions.RepositoryError, exceptions.DownloadError,
            ValueError, KeyError, OSError, sqlite3.Error) as error:  # fmt: skip
        why = explain(error, *((sync.now, sync.floor, sync.files.fetcher.last_url) if sync else (now, None, None)))
        result = _failed(data_dir, sync, why)
        result.needs_software = isinstance(error, NewerContent)
    except Exception as error:  # a bug: the traceback goes to the log, and the caller still gets a failed sync
        logger.exception(tr("the sync failed on an unexpected error; the installed content is unchanged"))
        result = _failed(data_dir, sync, tr("unexpected error (%(kind)s: %(error)s); the kiosk's log has the details",
                                            kind=type(error).__name__, error=error))  # fmt: skip
    status = sync.status if sync else read_status(data_dir)
    status.update(last_attempt=attempt, last_outcome=result.outcome, last_error=result.error)
    if result.outcome != "failed" and sync is not None:
        # The newest county version this kiosk has checked: an unchanged village keeps an older content version.
        status.update(last_success=attempt, checked_version=sync.checked_version)
    if (data_dir / CONFIG).exists():
        try:
            write_json(data_dir / STATUS, status)
        except OSError as error:  # a full disk: the result still says how the sync went
            logger.warning("could not record the sync in %s: %s", STATUS, error)
    return result
