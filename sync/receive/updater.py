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

import hashlib
import json
import logging
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuf.api import exceptions
from tuf.api.metadata import TargetFile
from tuf.ngclient import Updater, UpdaterConfig

from sync.contract.channel import (
    CONTENT_FORMAT,
    SIGNED_AT,
    county_from_items,
    media_role_of,
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
from sync.receive.fetcher import ResumableFetcher
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

# Kept in status.py, where reading them needs no python-tuf; found here too, as they always were.
from sync.receive.status import CONFIG as CONFIG
from sync.receive.status import STATUS as STATUS
from sync.receive.status import SyncError as SyncError
from sync.receive.status import SyncResult as SyncResult
from sync.receive.status import read_config as read_config
from sync.receive.status import read_status as read_status
from sync.receive.status import tuf_dir, write_json
from sync.receive.target_lookup import NOT_LOADED, looked_up
from sync.receive.time_floor import raise_floor, time_floor

DISK_MARGIN = 50 * 1024 * 1024
logger = logging.getLogger(__name__)
Progress = Callable[[str, bool], None]  # (message, passing): a passing message is replaced by the next one


class NewerContent(SyncError):
    """The county's content is in a form this kiosk's software cannot read (channel.CONTENT_FORMAT)."""


def _urls(source: str) -> tuple[str, str]:
    base = source.rstrip("/") if source.startswith(("http://", "https://")) else Path(source).resolve().as_uri()
    return f"{base}/metadata/", f"{base}/targets/"


def _trusted(updater: Updater) -> Any:
    # ngclient (tuf 7.x) has no public way to set the reference time or read the trusted
    # snapshot; pyproject pins tuf<8 and the tests exercise both.
    return updater._trusted_set


class _Sync:
    def __init__(self, data_dir: Path, source: str | None, now: datetime | None, progress: Progress | None,
                 fetcher_options: dict[str, Any] | None) -> None:  # fmt: skip
        self.data_dir = Path(data_dir)
        self.checked_version: int | None = None
        self._sources: dict[str, str] = {}  # _source by township: computed once a sync
        self._listings: dict[str, dict[str, str]] = {}  # _listing by township
        self.config = read_config(self.data_dir)
        self.source = source or self.config["repository"]
        self.now = now or datetime.now(UTC)
        self.progress = progress
        self.status = read_status(self.data_dir)
        self.tuf = tuf_dir(self.data_dir)
        metadata_url, self.targets_url = _urls(self.source)
        self.fetcher = ResumableFetcher(self.tuf / "partial", self.targets_url, **(fetcher_options or {}))
        cached_root = self.tuf / "metadata" / "root.json"
        bootstrap = (cached_root if cached_root.exists() else self.tuf / "trusted-root.json").read_bytes()
        self.updater = Updater(
            str(self.tuf / "metadata"), metadata_url, str(self.tuf / "targets"), self.targets_url,
            fetcher=self.fetcher, config=UpdaterConfig(), bootstrap=bootstrap,
        )  # fmt: skip
        # Kiosk clocks can be far behind (flat CMOS battery): never judge expiry by a time older
        # than the newest signing time already verified (the time floor).
        self.floor = time_floor(self.status)
        self.reference = max(self.now, self.floor) if self.floor else self.now
        _trusted(self.updater).reference_time = self.reference

    def say(self, message: str, passing: bool = False) -> None:
        if self.progress is not None:
            self.progress(message, passing)

    def target(self, path: str) -> tuple[TargetFile, Path] | None:
        info = looked_up(_trusted(self.updater), path)
        if info is NOT_LOADED:
            info = self.updater.get_targetinfo(path)
        if info is None:
            return None
        assert isinstance(info, TargetFile)
        return info, self.tuf / "targets" / info.hashes["sha256"]

    def fetch(self, wanted: list[tuple[TargetFile, Path]]) -> None:
        missing = [(i, p) for i, p in wanted if self.updater.find_cached_target(i, str(p)) is None]
        if not missing:
            return
        need = sum(info.length for info, _path in missing)
        free = shutil.disk_usage(self.data_dir).free
        if need * 3 + DISK_MARGIN > free:
            raise SyncError(tr("not enough free disk: %(need)s MB needed, %(free)s MB free",
                               need=(need * 3 + DISK_MARGIN) // 2**20, free=free // 2**20))  # fmt: skip
        if len(missing) > 1:
            self.say(tr("downloading %(count)s files, %(size)s KB", count=len(missing), size=round(need / 1024)))
        for number, (info, path) in enumerate(missing, start=1):
            self.say(tr("downloading %(number)s/%(count)s: %(path)s (%(size)s bytes)",
                        number=number, count=len(missing), path=info.path, size=info.length), True)  # fmt: skip
            url = self._target_url(info)
            try:
                self.updater.download_target(info, str(path))
            except (exceptions.RepositoryError, exceptions.DownloadLengthMismatchError):
                self.fetcher.forget(url)  # held bytes failed verification: fetch afresh next time
                path.unlink(missing_ok=True)
                raise
            self.fetcher.forget(url)

    def _target_url(self, info: TargetFile) -> str:
        directory, separator, name = info.path.rpartition("/")
        return f"{self.targets_url}{directory}{separator}{info.hashes['sha256']}.{name}"

    def run(self) -> SyncResult:
        self.say(tr("checking the county's signed metadata"))
        self.updater.refresh()
        trusted = _trusted(self.updater)
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
        version, village = _trusted(self.updater).snapshot.version, self.config["village"]
        county_manifest = self._manifest("county")
        if county_manifest is None:
            raise SyncError(tr("the county has not published any content yet"))
        if installed is not None and intact(installed):
            township = installed_meta(installed, "township")  # unchanged while the county's scope is
            if township and installed_meta(installed, "source") == self._source(township):
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
            self._source(township), township, self._listing(township))  # fmt: skip
        names, places, drawing = media_names(files), survey.category_places(), None
        if installed is None:  # a first install: its codes drawn on the other CPUs while it writes the rows
            from sync.receive.qr_workers import Drawing, worth_drawing_elsewhere  # only an install draws codes

            codes = survey.codes(snapshot["village"], snapshot["county"]["public_base_url"])
            drawing = Drawing(codes) if worth_drawing_elsewhere(len(codes)) else None

        def more(db: sqlite3.Connection) -> None:
            add_items(db, shard_items(shards), snapshot["village"], snapshot["contacts"], names, places, staged=True)
            if drawing is not None:
                insert_codes(db, drawing.rows())

        install_snapshot(self.data_dir, snapshot, {names[ref]: file for ref, file in files.items()}, more)
        self._tidy_cache({p.name for _i, p in wanted})
        return self._result("updated", version, max(dates))

    def _source(self, township: str) -> str:
        """The digest of what the village's content is built from (_listing). Of the targets, only the manifests
        are read (a few hundred bytes each)."""
        if township not in self._sources:
            listing = self._listing(township)
            listed = [f"{path}:{sha256}" for path, sha256 in listing.items()]
            listed += [f"{scope}: none" for scope in self._scopes(township) if f"{scope}/manifest.json" not in listing]
            self._sources[township] = hashlib.sha256("\n".join(sorted(listed)).encode()).hexdigest()
        return self._sources[township]

    def _scopes(self, township: str) -> tuple[str, str, str]:
        return "county", f"township/{township}", f"village/{self.config['village']}"

    def _listing(self, township: str) -> dict[str, str]:
        """Each file the village's content is built from, with its SHA-256, as the signed metadata lists it: its three
        scopes' manifests and shards, and their photos as each scope's signed list of photos has them (a photo keeps
        its name in the shards when its bytes change)."""
        if township in self._listings:
            return self._listings[township]
        listed: dict[str, str] = {}
        for scope in self._scopes(township):
            listed.update(self._photos_listed(scope))
            found = self.target(f"{scope}/manifest.json")
            if found is None:
                continue
            self.fetch([found])
            count = int(json.loads(found[1].read_bytes())["shard_count"])
            for path in (f"{scope}/manifest.json", *(f"{scope}/{shard_name(k, count)}" for k in range(count))):
                info = self._required(path)[0]
                listed[info.path] = info.hashes["sha256"]
        self._listings[township] = listed
        return listed

    def _photos_listed(self, scope: str) -> dict[str, str]:
        """Each photo of *scope* with its SHA-256, from the scope's signed list of photos (loaded and verified)."""
        role = media_role_of(scope)
        if f"{role}.json" not in _trusted(self.updater).snapshot.meta:
            return {}
        self.updater.get_targetinfo(f"{scope}/media/-")  # no such photo: only loads the list, as a lookup does
        try:
            photos = _trusted(self.updater)[role].targets
        except KeyError:  # listed in the snapshot but not delegated this scope's photos: none to trust
            return {}
        return {path: info.hashes["sha256"] for path, info in photos.items()}

    def _patch(self, installed: Path, township: str) -> SyncResult | None:
        """Install only the items that changed, into a copy of the installed version (patch.py); None when the
        change needs the whole version written again."""
        manifests = {scope: self._manifest(scope) for scope in self._scopes(township)}  # refuses a newer form
        new = self._listing(township)
        try:
            patch = plan_patch(installed_targets(installed), new, self._scopes(township), self._kept, self._fetched)
        except NotPatchable as why:
            logger.info("installing the whole version: %s", why)
            return None
        refs = {ref: self._required(f"{scope_of(item['data']['scope'])}/{ref}")
                for item in patch.added for ref in photo_refs(item)}  # fmt: skip
        self.fetch(list(refs.values()))
        version = _trusted(self.updater).snapshot.version
        content_date = max(m["published"] for m in manifests.values() if m is not None)
        patch.meta = {"version": str(version), "content_date": content_date, "source": self._source(township)}
        patch.targets, patch.photos = new, {ref: file for ref, (_info, file) in refs.items()}
        changed = len({(item["kind"], item["id"]) for item in patch.removed + patch.added})
        self.say(tr("installing version %(version)s: %(count)s items changed", version=version, count=changed))
        media = {blob_name(media_digest(file), ref): file for ref, file in patch.photos.items()}
        install_patch(self.data_dir, installed, version, patch, media)
        self._tidy_cache(set(new.values()))
        return self._result("updated", version, content_date)

    def _kept(self, sha256: str) -> bytes:
        """Return a file the installed version was built from, kept in the targets folder (patch.plan_patch)."""
        return (self.tuf / "targets" / sha256).read_bytes()

    def _fetched(self, paths: list[str]) -> list[bytes]:
        """Fetch (or find already fetched) and verify the signed files *paths*; return their bytes."""
        found = [self._required(path) for path in paths]
        self.fetch(found)
        return [file.read_bytes() for _info, file in found]

    def _check_nothing_published(self, scope: str) -> None:
        """Refuse a scope whose signed role lists files but no manifest: that is damage, not an empty scope.

        A scope the county emptied keeps its role with no targets (repository.publish); a role that
        lists files without this scope's manifest was made for another scope or broken on the way.
        """
        role, trusted = role_of(scope), _trusted(self.updater)
        if role in trusted and trusted[role].targets:  # ngclient loaded it, verified, looking for the manifest
            raise SyncError(tr("the signed metadata of %(role)s lists files but not this scope's manifest "
                               "%(path)s: the repository is damaged or was tampered with; nothing was changed",
                               role=role, path=f"{scope}/manifest.json"))  # fmt: skip

    def _manifest(self, scope: str) -> dict[str, Any] | None:
        found = self.target(f"{scope}/manifest.json")
        if found is None:
            return None
        self.fetch([found])
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
        found = [self._required(f"{scope}/{shard_name(index, count)}") for index in range(count)]
        self.fetch(found)
        for _info, file in found:
            survey.read(file.read_bytes(), scope)
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
        found = {ref: self._required(f"{scope}/{ref}") for ref, scope in sorted(survey.photos.items())}
        self.fetch(list(found.values()))
        return found

    def _required(self, path: str) -> tuple[TargetFile, Path]:
        found = self.target(path)
        if found is None:
            raise SyncError(tr("the signed metadata does not list %(path)s", path=path))
        return found

    def _tidy_cache(self, keep: set[str]) -> None:
        for file in (self.tuf / "targets").iterdir():
            if file.name not in keep:
                file.unlink(missing_ok=True)

    def _result(
        self, outcome: str, version: int | None, content_date: str | None, error: str | None = None
    ) -> SyncResult:
        return SyncResult(
            outcome, version, content_date, self.fetcher.bytes_received, self.fetcher.files_received, error
        )


def _failed(data_dir: Path, sync: _Sync | None, why: str) -> SyncResult:
    """The result of a sync that failed for *why*: the installed version stays, and what arrived is counted."""
    installed = readable_content(data_dir).path
    return SyncResult(
        "failed",
        database_version(installed) if installed else None,
        installed_meta(installed, "content_date") if installed else None,
        sync.fetcher.bytes_received if sync else 0,
        sync.fetcher.files_received if sync else 0,
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
        why = explain(error, *((sync.now, sync.floor, sync.fetcher.last_url) if sync else (now, None, None)))
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
