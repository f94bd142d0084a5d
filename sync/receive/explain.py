"""One sentence for staff on why a sync failed, from what python-tuf or the fetcher raised."""

from __future__ import annotations

from datetime import UTC, datetime

from tuf.api import exceptions

from sync.contract.dates import utc_minute
from sync.contract.i18n import tr
from sync.receive.fetcher import DeadlinePassed
from sync.receive.time_floor import CLOCK_SLACK


def explain(
    error: BaseException, now: datetime | None = None, floor: datetime | None = None, file: str | None = None
) -> str:
    """Turn what went wrong into one sentence for staff.

    :param now: the kiosk clock; *floor*: its time floor; *file*: the last file asked for (a URL).
    """
    if isinstance(error, DeadlinePassed):
        return tr("the sync ran past its deadline of %(seconds)s seconds (KIOSK_SYNC_DEADLINE) and was stopped; "
                  "what arrived is kept and the next sync goes on from there",
                  seconds=f"{error.seconds:g}")  # fmt: skip
    if isinstance(error, exceptions.ExpiredMetadataError) and now and floor and floor > now + CLOCK_SLACK:
        return tr("the county's signed metadata has expired (%(error)s). Kiosk clock: %(now)s; newest signing time "
                  "this kiosk has verified: %(floor)s, ahead of the clock. If the kiosk clock is right, a county "
                  "clock that was ahead raised that time: run kiosk reset-time-floor; if not, set the clock right",
                  error=error, now=utc_minute(now), floor=utc_minute(floor))  # fmt: skip
    if isinstance(error, exceptions.ExpiredMetadataError):
        return tr("the county's signed metadata has expired (%(error)s). Kiosk clock: %(now)s; newest signing time "
                  "this kiosk has verified: %(floor)s. If the kiosk clock is right, the county server has stopped "
                  "refreshing its metadata", error=error, now=utc_minute(now or datetime.now(UTC)),
                  floor=utc_minute(floor) if floor else tr("none yet"))  # fmt: skip
    if isinstance(error, exceptions.BadVersionNumberError):
        return tr("metadata of the wrong version was refused: older than this kiosk already trusts, or not the "
                  "version the signed snapshot names: %(error)s", error=error)  # fmt: skip
    name = _file_name(file)
    if isinstance(error, exceptions.LengthOrHashMismatchError):
        return tr("a downloaded file (%(file)s) did not match its signed hash and was refused: %(error)s",
                  file=name, error=error)  # fmt: skip
    if isinstance(error, exceptions.DownloadLengthMismatchError):
        return tr("a download (%(file)s) grew longer than its signed length (or the size limit for metadata) and "
                  "was cut off: %(error)s", file=name, error=error)  # fmt: skip
    if isinstance(error, exceptions.UnsignedMetadataError):
        return tr("metadata not signed by the county's keys was refused: %(error)s", error=error)
    if isinstance(error, exceptions.RepositoryError):
        return tr("the repository's metadata failed verification: %(error)s", error=error)
    if isinstance(error, exceptions.DownloadError):
        return tr("could not download from the county: %(error)s", error=error)
    return str(error)


def _file_name(url: str | None) -> str:
    """Name a fetched file as the repository lays it out (metadata/2.county.json), not by its full URL."""
    if not url:
        return "?"
    parts = url.rstrip("/").split("/")
    for top in ("metadata", "targets"):
        if top in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(top) :])
    return parts[-1]
