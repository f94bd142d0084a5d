"""The county's register of kiosks, for `kiosk county add-kiosk` and `revoke-kiosk`."""

from __future__ import annotations

from pathlib import Path

from kiosk.county.content import NothingPublished, PublishedCounty
from kiosk.county.store import add_kiosk, open_store, revoke
from sync.contract.i18n import tr
from sync.publish.repository import RepositoryError


def register_kiosk(data_dir: Path, village: str, repo: Path | None = None) -> tuple[int, str]:
    """Register a kiosk for *village*; return its id and one-time enrolment code.

    :param repo: when given, *village* must be a village of the content published there.
    :raises RepositoryError: nothing is published in *repo*, or it has no such village.
    """
    if repo is not None:
        try:
            villages = [v["code"] for v in PublishedCounty(repo).current().county.villages()]
        except NothingPublished:
            raise RepositoryError(tr("%(path)s holds no published county content", path=repo)) from None
        if village not in villages:
            raise RepositoryError(tr("the county has no village %(village)s; its villages: %(villages)s",
                                     village=village, villages=", ".join(villages)))  # fmt: skip
    db = open_store(data_dir)
    try:
        return add_kiosk(db, village)
    finally:
        db.close()


def revoke_kiosk(data_dir: Path, kiosk_id: int) -> None:
    """Shut kiosk *kiosk_id* out: its reports and uploads are refused from now on.

    :raises RepositoryError: there is no such kiosk, or it is revoked already.
    """
    db = open_store(data_dir)
    try:
        done = revoke(db, kiosk_id)
    finally:
        db.close()
    if not done:
        raise RepositoryError(tr("there is no kiosk %(id)s that is not revoked already", id=kiosk_id))
