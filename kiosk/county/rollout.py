"""How each kiosk software release is rolling out, from the kiosks' reports; and its pause, by a person or by itself.

A release reaches the villages it names or a share of them (sync.contract.software.reaches). For each
release, each enrolled kiosk is in one state:

    installed        its latest report says it runs the release
    rolled_back      it installed the release, whose screens did not answer: it switched back
    failed           the release failed on it (its install, or its own self-check; or another step there)
    not_downloaded   its download failed at the offer or fetch: the network or the disk, not the release
    offered          the release reaches it and it runs an older version it may upgrade from: waiting

The outcome of each kiosk's last update of a release is kept in release_outcomes (store.record_report).
A release pauses itself once RELEASE_PAUSE_AFTER kiosks failed its install or self-check or switched it
back: checked when such a report arrives, signed with the server's online keys. Its failing to sign
is logged and kept (release_watch) for the releases page, and never changes the kiosk's answer.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.version import Version

from sync.contract import software
from sync.contract.i18n import tr
from sync.publish import keys as keyfiles
from sync.publish.keys import SigningKeyError
from sync.publish.lock import RepositoryBusy
from sync.publish.repository import Repository, RepositoryError
from sync.publish.software import releases, set_state

log = logging.getLogger(__name__)
STATES = ("rolled_back", "failed", "not_downloaded", "offered", "installed")  # as the page lists them
DOWNLOAD_STEPS = ("offer", "fetch")  # a failure here is the network's or the disk's
RELEASE_STEPS = ("install", "check")  # a failure here is the release's own
WAIT_SECONDS = 5.0  # a report waits at most this long for another signing before its pause is left for the next
# The keys a pause signs with: the software role, then the snapshot and timestamp naming it.
PAUSE_KEYS = (keyfiles.SOFTWARE, "snapshot", "timestamp")

_KIOSKS = """
select k.id, k.village, r.app_version, r.received_at
from kiosks k left join reports r on r.id = (select max(id) from reports where kiosk_id = k.id)
where k.public_key is not null and k.revoked_at is null
order by k.village, k.id"""


def published(repo: Path) -> list[dict[str, Any]]:
    """Every release published in the repository *repo*, newest first ([] before the first, or no repository)."""
    try:
        listed = releases(Repository(Path(repo)))
    except RepositoryError:
        return []
    return sorted(listed, key=lambda release: software.version_of(str(release["version"])) or Version("0"),
                  reverse=True)  # fmt: skip


def kiosks(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every enrolled kiosk (revoked ones aside) with the app version and time of its latest report."""
    return [dict(row) for row in db.execute(_KIOSKS)]


def outcomes(db: sqlite3.Connection, version: str | None = None) -> dict[tuple[int, str], dict[str, Any]]:
    """The last update that ended, by kiosk and release (of one release, or of all)."""
    where, values = ("where version = ?", [version]) if version is not None else ("", [])
    rows = db.execute(f"select * from release_outcomes {where}", values)  # noqa: S608 - a fixed clause
    return {(row["kiosk_id"], row["version"]): dict(row) for row in rows}


@functools.lru_cache(maxsize=1024)
def _version(text: str) -> Version | None:
    """A version read once: 2,000 kiosks run a handful of versions, asked about for every release."""
    return software.version_of(text)


def state_of(release: dict[str, Any], kiosk: dict[str, Any], outcome: dict[str, Any] | None) -> str | None:
    """The kiosk's state in *release*'s rollout (STATES), or None when the release is not for it."""
    version, have = _version(str(release["version"])), _version(str(kiosk["app_version"]))
    if have is not None and have == version:
        return "installed"
    if outcome is not None and outcome["outcome"] == "rolled_back":
        return "rolled_back"
    if outcome is not None and outcome["outcome"] == "failed":
        return "not_downloaded" if outcome["step"] in DOWNLOAD_STEPS else "failed"
    floor = _version(str(release.get("upgrade_from", "0")))
    if not software.reaches(release, kiosk["village"]) or version is None:
        return None
    if have is not None and (have > version or (floor is not None and have < floor)):
        return None  # past it, or too old to be offered it
    return "offered"


def rollout(release: dict[str, Any], every_kiosk: list[dict[str, Any]],
            known: dict[tuple[int, str], dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """The kiosks in *release*'s rollout, each with its state and its last update of it; problems first."""
    found = []
    for kiosk in every_kiosk:
        outcome = known.get((kiosk["id"], str(release["version"])))
        state = state_of(release, kiosk, outcome)
        if state is not None:
            found.append({**kiosk, "state": state, "step": (outcome or {}).get("step"),
                          "error": (outcome or {}).get("error"), "at": (outcome or {}).get("at")})  # fmt: skip
    return sorted(found, key=lambda kiosk: STATES.index(kiosk["state"]))


def counted(rows: list[dict[str, Any]]) -> Counter[str]:
    return Counter(row["state"] for row in rows)


def reasons(rows: list[dict[str, Any]], most: int = 3) -> list[tuple[str, str, int]]:
    """The commonest (step, first line of the error) of the kiosks that failed or switched the release back."""
    said = Counter(
        (str(row["step"] or ""), str(row["error"] or "").strip().splitlines()[0][:200] if row["error"] else "")
        for row in rows if row["state"] in ("failed", "rolled_back")
    )  # fmt: skip
    return [(step, error, count) for (step, error), count in said.most_common(most)]


# --- the pause --------------------------------------------------------------------------------------------------


def counts_against(update: dict[str, Any] | None) -> bool:
    """Whether a reported update is one the automatic pause counts: the release's own failure."""
    return update is not None and (
        update["outcome"] == "rolled_back" or (update["outcome"] == "failed" and update["step"] in RELEASE_STEPS)
    )


def failures(db: sqlite3.Connection, version: str) -> int:
    """The enrolled kiosks whose last update of *version* failed its install or self-check or switched it back,
    received since the count last began (the release paused by itself, or resumed on the dashboard)."""
    (count,) = db.execute(
        "select count(*) from release_outcomes o join kiosks k on k.id = o.kiosk_id where o.version = ?"
        " and k.revoked_at is null and (o.outcome = 'rolled_back' or (o.outcome = 'failed' and o.step in (?, ?)))"
        " and o.received_at > coalesce((select counted_from from release_watch where version = ?), '')",
        (version, *RELEASE_STEPS, version),
    ).fetchone()
    return int(count)


def watch(db: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """What the automatic pause did about each release (release_watch), by version."""
    return {row["version"]: dict(row) for row in db.execute("select * from release_watch")}


def count_from_now(db: sqlite3.Connection, version: str) -> None:
    """Begin the count of *version*'s failures afresh (it was resumed): those before do not pause it again."""
    db.execute(
        "insert into release_watch (version, counted_from) values (?, ?) on conflict (version) do update set"
        " counted_from = excluded.counted_from, problem = null, problem_at = null",
        (version, _now()),
    )


def signing_problem(keys: str | None) -> str | None:
    """Why this server cannot sign a release's pause with the keys folder *keys*, or None when it can."""
    if not keys:
        return tr("this server was started without its signing keys (kiosk county serve --keys): pause it with "
                  "kiosk county release --pause on the machine that holds them")  # fmt: skip
    for role in PAUSE_KEYS:
        if not (path := keyfiles.online_key_path(Path(keys), role)).is_file():
            return tr("the key %(path)s is not on this server: pause it with kiosk county release --pause on the "
                      "machine that holds it", path=path)  # fmt: skip
    return None


def change_state(config: dict[str, Any], version: str, state: str, wait: float | None = None) -> dict[str, Any]:
    """Pause (paused) or resume (active) *version*, signed with the server's online keys; return the release.

    :raises RepositoryError: no keys here, the clock refused, no such release, and the like (saying so).
    :raises SigningKeyError: a key file is unreadable. :raises RepositoryBusy: *wait* passed.
    """
    if problem := signing_problem(config.get("KEYS_DIR")):
        raise RepositoryError(problem)
    return set_state(Repository(Path(config["REPO"]), Path(config["KEYS_DIR"])), version, state, wait=wait)


def pause_if_failing(db: sqlite3.Connection, config: dict[str, Any], update: dict[str, Any] | None) -> None:
    """After a kiosk's report: pause its update's release if that failure brings it to RELEASE_PAUSE_AFTER.

    Never raises: whatever goes wrong is logged and kept for the releases page, and the report stands.
    """
    threshold = int(config.get("RELEASE_PAUSE_AFTER") or 0)
    if not counts_against(update) or threshold <= 0:
        return
    assert update is not None
    version = str(update["offered"])
    try:
        listed = releases(Repository(Path(config["REPO"])))
        if not any(r["version"] == version and r["state"] == "active" for r in listed):
            return
        failing = failures(db, version)
        if failing < threshold:
            return
        change_state(config, version, "paused", wait=WAIT_SECONDS)
    except (RepositoryError, SigningKeyError, RepositoryBusy, OSError, ValueError) as error:
        _could_not_pause(db, version, str(error))
        return
    except Exception as error:  # a bug: the kiosk's report was kept all the same
        log.exception("could not pause release %s", version)
        _could_not_pause(db, version, repr(error))
        return
    db.execute(
        "insert into release_watch (version, counted_from, paused_at, paused_kiosks) values (?, ?, ?, ?) on conflict"
        " (version) do update set counted_from = excluded.counted_from, paused_at = excluded.paused_at,"
        " paused_kiosks = excluded.paused_kiosks, problem = null, problem_at = null",
        (version, now := _now(), now, failing),
    )
    log.warning(tr("release %(version)s paused itself: %(count)s kiosks failed to install it or switched it back "
                   "(KIOSK_RELEASE_PAUSE_AFTER=%(threshold)s)", version=version, count=failing,
                   threshold=threshold))  # fmt: skip


def _could_not_pause(db: sqlite3.Connection, version: str, problem: str) -> None:
    log.error(tr("release %(version)s should pause itself, but could not: %(problem)s", version=version,
                 problem=problem))  # fmt: skip
    try:
        db.execute(
            "insert into release_watch (version, problem, problem_at) values (?, ?, ?) on conflict (version)"
            " do update set problem = excluded.problem, problem_at = excluded.problem_at",
            (version, problem, _now()),
        )
    except sqlite3.Error:
        log.exception("could not note why release %s did not pause", version)


def _now() -> str:
    """Now, to the microsecond as release_outcomes.received_at: the failure that paused a release came before it."""
    return datetime.now(UTC).isoformat(timespec="microseconds")
