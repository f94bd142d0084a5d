"""The county's signed files, as the kiosk's sync reads them through python-tuf's ngclient (updater.py).

ngclient verifies every role and every target; this class finds targets in the roles it verified
(target_lookup.py), fetches them with the resumable fetcher once there is room on the disk, and lists
what a village's content is built from: its three scopes' manifests, shards and photos, each with its
SHA-256 as the signed metadata gives it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from tuf.api import exceptions
from tuf.api.metadata import TargetFile
from tuf.ngclient import Updater, UpdaterConfig

from sync.contract.channel import media_role_of, shard_name
from sync.contract.i18n import tr
from sync.receive.fetcher import ResumableFetcher, Stopped
from sync.receive.status import SyncError
from sync.receive.target_lookup import NOT_LOADED, looked_up

DISK_MARGIN = 50 * 1024 * 1024
Say = Callable[[str, bool], None]  # (message, passing): a passing message is replaced by the next one


FETCHES = 4  # files downloaded at once


def _first_failure(downloads: list[Future[None]]) -> BaseException | None:
    """The failure to report of downloads that ended: the first that failed for its own sake, not one stopped."""
    failures = [d.exception() for d in downloads if d.done() and not d.cancelled() and d.exception() is not None]
    return next((f for f in failures if not isinstance(f, Stopped)), failures[0] if failures else None)


def _hand_on(wanted: list[tuple[TargetFile, Path]], downloads: dict[str, Future[None]],
             arrived: Callable[[Path], None] | None) -> None:  # fmt: skip
    """Hand each file of *wanted* to *arrived*, in order, once it is downloaded; return at the first that failed.

    A failed download stops the others (SignedFiles._download), so none is waited for long. (A function of its own:
    a failure's traceback holds no frame that holds the downloads.)
    """
    for _info, path in wanted:
        download = downloads.get(str(path))
        if download is not None and download.exception() is not None:
            return
        if arrived is not None:
            arrived(path)


def _urls(source: str) -> tuple[str, str]:
    base = source.rstrip("/") if source.startswith(("http://", "https://")) else Path(source).resolve().as_uri()
    return f"{base}/metadata/", f"{base}/targets/"


class SignedFiles:
    """The signed repository at *source* (a URL or a folder), for the kiosk whose tuf folder is *tuf* and whose
    village is *village*; expiry is judged at *reference* (never earlier than the kiosk's time floor)."""

    def __init__(self, tuf: Path, source: str, village: str, reference: datetime, say: Say,
                 fetcher_options: dict[str, Any] | None) -> None:  # fmt: skip
        self.tuf, self.village, self.say = tuf, village, say
        self._sources: dict[str, str] = {}  # source by township: computed once a sync
        self._listings: dict[str, dict[str, str]] = {}  # listing by township
        metadata_url, self.targets_url = _urls(source)
        options = {"connections": FETCHES, **(fetcher_options or {})}
        self.fetcher = ResumableFetcher(tuf / "partial", self.targets_url, **options)
        cached_root = tuf / "metadata" / "root.json"
        bootstrap = (cached_root if cached_root.exists() else tuf / "trusted-root.json").read_bytes()
        self.updater = Updater(
            str(tuf / "metadata"), metadata_url, str(tuf / "targets"), self.targets_url,
            fetcher=self.fetcher, config=UpdaterConfig(), bootstrap=bootstrap,
        )  # fmt: skip
        self.trusted.reference_time = reference

    @property
    def trusted(self) -> Any:
        """ngclient's verified metadata. ngclient (tuf 7.x) has no public way to set the reference time or read the
        trusted snapshot; pyproject pins tuf<8 and the tests exercise both."""
        return self.updater._trusted_set

    def target(self, path: str) -> tuple[TargetFile, Path] | None:
        info = looked_up(self.trusted, path)
        if info is NOT_LOADED:
            info = self.updater.get_targetinfo(path)
        if info is None:
            return None
        assert isinstance(info, TargetFile)
        return info, self.tuf / "targets" / info.hashes["sha256"]

    def fetch(self, wanted: list[tuple[TargetFile, Path]], arrived: Callable[[Path], None] | None = None) -> None:
        """Download the files of *wanted* not already held (verified against the signed metadata).

        :param arrived: called with each file of *wanted*, in order, as soon as it and those before it are here
            (in this thread): a first install reads its shards while the next ones download.
        """
        held = self.updater.find_cached_target
        missing = list({str(p): (i, p) for i, p in wanted if held(i, str(p)) is None}.values())  # each file once
        if not missing:
            if arrived is not None:
                for _info, path in wanted:
                    arrived(path)
            return
        need = sum(info.length for info, _path in missing)
        free = shutil.disk_usage(self.tuf).free
        if need * 3 + DISK_MARGIN > free:
            raise SyncError(tr("not enough free disk: %(need)s MB needed, %(free)s MB free",
                               need=(need * 3 + DISK_MARGIN) // 2**20, free=free // 2**20))  # fmt: skip
        if len(missing) > 1:
            self.say(tr("downloading %(count)s files, %(size)s KB", count=len(missing), size=round(need / 1024)), False)
        # A few at once: a first install's thousands of small files wait on the link's round trips, not its bytes.
        pool = ThreadPoolExecutor(min(FETCHES, len(missing)), thread_name_prefix="fetch")
        try:
            downloads = {str(file[1]): pool.submit(self._download, n, file, len(missing))
                         for n, file in enumerate(missing, 1)}  # fmt: skip
            _hand_on(wanted, downloads, arrived)
        except BaseException:  # an interrupt (Ctrl+C), or *arrived* failed: the downloads stop now
            self._stop(pool)
            raise
        if _first_failure(list(downloads.values())) is None:
            pool.shutdown()
            return
        self._stop(pool)  # the others end, stopped: then the failure to name is known
        failure = _first_failure(list(downloads.values()))
        assert failure is not None
        try:
            raise failure
        finally:  # the failure's traceback holds this frame: no cycle through it, or the failed download's
            del failure, downloads  # connection would stay open until Python's next collection

    def _stop(self, pool: ThreadPoolExecutor) -> None:
        """Stop every download: those in flight end at once, their connections cut; those not begun never begin."""
        self.fetcher.stop()
        pool.shutdown(cancel_futures=True)
        self.fetcher.close()

    def _download(self, number: int, wanted: tuple[TargetFile, Path], count: int) -> None:
        info, path = wanted
        self.say(tr("downloading %(number)s/%(count)s: %(path)s (%(size)s bytes)",
                    number=number, count=count, path=info.path, size=info.length), True)  # fmt: skip
        url = self._target_url(info)
        try:
            self.updater.download_target(info, str(path))
        except Stopped:
            raise  # another download failed first: that one is named
        except BaseException as error:
            self.fetcher.blame(url)
            self.fetcher.stop()  # the sync has failed: the other downloads end now
            if isinstance(error, exceptions.RepositoryError | exceptions.DownloadLengthMismatchError):
                self.fetcher.forget(url)  # held bytes failed verification: fetch afresh next time
                path.unlink(missing_ok=True)
            raise
        self.fetcher.forget(url)

    def _target_url(self, info: TargetFile) -> str:
        directory, separator, name = info.path.rpartition("/")
        return f"{self.targets_url}{directory}{separator}{info.hashes['sha256']}.{name}"

    def required(self, path: str) -> tuple[TargetFile, Path]:
        found = self.target(path)
        if found is None:
            raise SyncError(tr("the signed metadata does not list %(path)s", path=path))
        return found

    def kept(self, sha256: str) -> bytes:
        """Return a file the installed version was built from, kept in the targets folder (patch.plan_patch)."""
        return (self.tuf / "targets" / sha256).read_bytes()

    def fetched(self, paths: list[str]) -> list[bytes]:
        """Fetch (or find already fetched) and verify the signed files *paths*; return their bytes."""
        found = [self.required(path) for path in paths]
        self.fetch(found)
        return [file.read_bytes() for _info, file in found]

    def source(self, township: str) -> str:
        """The digest of what the village's content is built from (listing). Of the targets, only the manifests
        are read (a few hundred bytes each)."""
        if township not in self._sources:
            listing = self.listing(township)
            listed = [f"{path}:{sha256}" for path, sha256 in listing.items()]
            listed += [f"{scope}: none" for scope in self.scopes(township) if f"{scope}/manifest.json" not in listing]
            self._sources[township] = hashlib.sha256("\n".join(sorted(listed)).encode()).hexdigest()
        return self._sources[township]

    def scopes(self, township: str) -> tuple[str, str, str]:
        return "county", f"township/{township}", f"village/{self.village}"

    def listing(self, township: str) -> dict[str, str]:
        """Each file the village's content is built from, with its SHA-256, as the signed metadata lists it: its three
        scopes' manifests and shards, and their photos as each scope's signed list of photos has them (a photo keeps
        its name in the shards when its bytes change)."""
        if township in self._listings:
            return self._listings[township]
        listed: dict[str, str] = {}
        for scope in self.scopes(township):
            listed.update(self._photos_listed(scope))
            found = self.target(f"{scope}/manifest.json")
            if found is None:
                continue
            self.fetch([found])
            count = int(json.loads(found[1].read_bytes())["shard_count"])
            for path in (f"{scope}/manifest.json", *(f"{scope}/{shard_name(k, count)}" for k in range(count))):
                info = self.required(path)[0]
                listed[info.path] = info.hashes["sha256"]
        self._listings[township] = listed
        return listed

    def _photos_listed(self, scope: str) -> dict[str, str]:
        """Each photo of *scope* with its SHA-256, from the scope's signed list of photos (loaded and verified)."""
        role = media_role_of(scope)
        if f"{role}.json" not in self.trusted.snapshot.meta:
            return {}
        self.updater.get_targetinfo(f"{scope}/media/-")  # no such photo: only loads the list, as a lookup does
        try:
            photos = self.trusted[role].targets
        except KeyError:  # listed in the snapshot but not delegated this scope's photos: none to trust
            return {}
        return {path: info.hashes["sha256"] for path, info in photos.items()}
