"""The kiosk's uplink to the county server: enrolment, signed reports, and the outbox, store-and-forward.

Items leave local.db's outbox only after the county has acknowledged them; a batch cut off
halfway is sent again and the county, keyed by each item's idempotency key, stores it once.
Batches are bounded by items and by bytes, well under the county's cap on a request body; an
item the county refuses as too large even alone (413) is set aside so it never holds up the rest.
Requests are signed with the kiosk's own Ed25519 key (DATA_DIR/kiosk-key.pem, made at enrolment).
"""

from __future__ import annotations

import base64
import json
import logging
import random
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import urllib3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.data.clock import kiosk_utc_now, utc_now
from kiosk.data.local_db import local_media_dir, open_local, transaction
from kiosk.data.photos import is_photo_name
from kiosk.device.enrolment import KEY_FILE as KEY_FILE  # where it has always been found too
from kiosk.device.enrolment import is_enrolled
from sync.contract.files import atomic_write
from sync.contract.i18n import tr
from sync.receive.fetcher import retry_after_seconds
from sync.receive.status import CONFIG, read_config

BATCH = 500  # items per upload at most: the county's limit (reports.MAX_BATCH)
BATCH_BYTES = 512 * 1024  # bytes per upload at most: a quarter of the county's cap (reports.MAX_BODY)
TOO_LARGE = 413
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_WAIT_S = 120.0  # the longest a Retry-After is waited for within one report
log = logging.getLogger(__name__)


class UplinkError(Exception):
    """The county did not take what was sent; the message says why. Nothing was lost."""


@dataclass
class Uplink:
    """One kiosk's connection to its county server."""

    data_dir: Path
    attempts: int = 6
    backoff: float = 1.0
    timeout: float = 20.0
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.config = read_config(self.data_dir)
        self.pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=10.0, read=self.timeout))

    @property
    def enrolled(self) -> bool:
        return is_enrolled(self.data_dir, self.config)

    def _key(self) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key((self.data_dir / KEY_FILE).read_bytes(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        return key

    def _post(self, path: str, body: bytes, signed: bool = True) -> urllib3.BaseHTTPResponse:
        """POST with bounded retries, exponential backoff and jitter; return the first final answer."""
        url = self.config["county"].rstrip("/") + path
        last: str = ""
        for attempt in range(self.attempts):
            wait = 0.0  # what the county asks (Retry-After, when it is busy or a kiosk sends too fast)
            headers = {"Content-Type": "application/json"}
            if signed:  # signed afresh each time: the county refuses a signature it has seen (a replay)
                stamp = self._stamp()
                signature = self._key().sign(stamp.encode() + b"\n" + body).hex()
                headers |= {"X-Kiosk-Id": str(self.config["kiosk_id"]), "X-Kiosk-Time": stamp}
                headers["X-Kiosk-Signature"] = signature
            try:
                response = self.pool.request("POST", url, body=body, headers=headers, redirect=False)
            except urllib3.exceptions.HTTPError as error:
                last = str(error)
            else:
                if response.status not in RETRY_STATUSES:
                    return response
                last = f"{url} answered {response.status}{_said(response)}"
                wait = retry_after_seconds(response.headers.get("Retry-After")) or 0.0
            if attempt + 1 < self.attempts:
                jitter = random.uniform(0, self.backoff * 2**attempt)  # noqa: S311 - jitter, not secrecy
                self.sleep(min(MAX_WAIT_S, max(jitter, wait)))
        raise UplinkError(tr("the county server did not take the request after %(attempts)s tries: %(error)s",
                             attempts=self.attempts, error=last))  # fmt: skip

    def _stamp(self) -> str:
        """Return the time to sign with: the later of the clock and the time floor (kiosk/clock.py).

        The county refuses a time far from its own, and a kiosk with a flat battery wakes in 2000. Behind
        the floor, the clock's own microseconds keep each stamp (and so each signature) new.
        """
        now = utc_now()
        floor = kiosk_utc_now(self.data_dir)
        if floor > now:
            now = floor + timedelta(microseconds=now.microsecond + 1_000_000 * (now.second + 60 * now.minute))
        return now.isoformat(timespec="microseconds")

    def enrol(self, county_url: str, code: str) -> int:
        """Exchange a one-time code for this kiosk's own credential; return its kiosk id."""
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
        self.config["county"] = county_url
        body = json.dumps({"code": code, "village": self.config["village"], "public_key": public}).encode()
        response = self._post("/api/enrol", body, signed=False)
        if response.status != 200:
            raise UplinkError(
                tr("the county refused the enrolment code (it may be used, expired or for another village)")
            )
        kiosk_id = int(response.json()["kiosk_id"])
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        atomic_write(self.data_dir / KEY_FILE, pem, mode=0o600)
        self.config.update(county=county_url, kiosk_id=kiosk_id)
        _write_config(self.data_dir, self.config)
        return kiosk_id

    def report(self, status: dict[str, Any]) -> None:
        """Send *status* as one report, with a key of its own: sent again after an answer that was lost (to
        whichever of the county's processes answers), it is kept once."""
        body = {**status, "report_key": secrets.token_hex(16)}
        response = self._post("/api/report", json.dumps(body, ensure_ascii=False).encode())
        if response.status != 204:
            raise UplinkError(tr("the county refused the report (%(status)s)%(said)s", status=response.status,
                                 said=_said(response)))  # fmt: skip

    def upload_outbox(self, batch: int = BATCH, batch_bytes: int = BATCH_BYTES) -> int:
        """Send the outbox oldest first; delete what the county acknowledged; return how many items went.

        A batch holds at most *batch* items and *batch_bytes* bytes, and an item larger than that
        goes alone. A batch the county finds too large (413) is sent again as smaller ones; a single
        item it finds too large is set aside (outbox_set_aside), logged and counted, and the rest go on.
        Items queued while this runs wait for the next upload.
        """
        sent = 0
        db = open_local(self.data_dir)
        try:
            last, waiting = db.execute("select coalesce(max(id), 0), count(*) from outbox").fetchone()
            # Each round sends or sets aside an item at least, or halves the byte budget (at most ~20 times).
            for _round in range(waiting + 64):
                ids, body, damaged = _next_batch(db, last, batch, batch_bytes, local_media_dir(self.data_dir))
                if not ids and damaged:
                    continue
                if not ids:
                    break
                response = self._post("/api/outbox", body)
                if response.status == TOO_LARGE and len(ids) > 1:
                    batch_bytes = len(body) // 2
                    continue
                if response.status == TOO_LARGE:
                    _set_aside(db, ids[0], tr("the county refused it as too large (%(size)s bytes) even sent alone",
                                              size=len(body)))  # fmt: skip
                    continue
                if response.status != 200:
                    raise UplinkError(tr("the county refused the upload (%(status)s)%(said)s", status=response.status,
                                         said=_said(response)))  # fmt: skip
                acked = set(response.json().get("acked", []))
                with transaction(db):  # one commit (one fsync) per batch, not one per item
                    db.executemany("delete from outbox where idempotency_key = ?", [(key,) for key in acked])
                sent += len(acked)
                if not acked:
                    raise UplinkError(tr("the county acknowledged nothing of the upload"))
        finally:
            db.close()
        return sent


def _next_batch(
    db: sqlite3.Connection, last: int, batch: int, batch_bytes: int, media: Path
) -> tuple[list[int], bytes, int]:
    """Return the ids and the request body of the oldest items up to id *last* that fit in a batch.

    The first item is always taken, however large: it goes alone. Items whose stored payload is
    not JSON (a damaged row), and photos no longer in *media*, are set aside, not sent; the last
    value says how many. A notice's photo is queued by name and read from *media* here.
    """
    ids: list[int] = []
    parts: list[bytes] = []
    damaged: list[tuple[int, str]] = []
    size = len(b'{"items": []}')
    rows = db.execute(
        "select id, idempotency_key, kind, payload from outbox where id <= ? order by id limit ?", (last, batch)
    )
    for row_id, key, kind, payload in rows:  # row by row: what does not fit is never read whole
        try:
            item = {"key": key, "kind": kind, "payload": json.loads(payload)}
        except ValueError as problem:
            damaged.append((row_id, tr("its payload in local.db is not JSON: %(error)s", error=problem)))
            continue
        if kind == "notice_photo":
            try:
                item["payload"]["data"] = _photo_data(media, item["payload"]["name"])
            except (ValueError, KeyError, TypeError, OSError) as problem:
                damaged.append((row_id, tr("its photo could not be read from %(folder)s: %(error)s",
                                           folder=media, error=problem)))  # fmt: skip
                continue
        part = json.dumps(item, ensure_ascii=False).encode()
        if parts and size + len(part) + 2 > batch_bytes:
            break
        ids.append(row_id)
        parts.append(part)
        size += len(part) + 2
    rows.close()
    for row_id, why in damaged:
        _set_aside(db, row_id, why)
    return ids, b'{"items": [' + b", ".join(parts) + b"]}", len(damaged)


def _photo_data(media: Path, name: str) -> str:
    """Return a notice's photo, base64 in the JSON body: one of store_photo's names, read from *media*."""
    if not is_photo_name(name):
        raise ValueError(f"{name!r} is not the name of a stored photo")
    return base64.b64encode((media / name).read_bytes()).decode("ascii")


def _set_aside(db: sqlite3.Connection, row_id: int, reason: str) -> None:
    """Move an outbox item the county can never take to outbox_set_aside (kept, never deleted), and log it."""
    with transaction(db):
        db.execute(
            "insert into outbox_set_aside (idempotency_key, kind, payload, created_at, set_aside_at, reason)"
            " select idempotency_key, kind, payload, created_at, ?, ? from outbox where id = ?",
            (datetime.now(UTC).isoformat(timespec="seconds"), reason, row_id),
        )
        key, kind = db.execute("select idempotency_key, kind from outbox where id = ?", (row_id,)).fetchone()
        db.execute("delete from outbox where id = ?", (row_id,))
    log.warning(tr("outbox item %(key)s (%(kind)s) set aside in local.db (outbox_set_aside): %(reason)s",
                   key=key, kind=kind, reason=reason))  # fmt: skip


def _write_config(data_dir: Path, config: dict[str, Any]) -> None:
    atomic_write(Path(data_dir) / CONFIG, json.dumps(config, ensure_ascii=False, indent=2).encode())


def _said(response: urllib3.BaseHTTPResponse) -> str:
    """Return ": <the county's error>" from a JSON answer (such as a wrong clock), or nothing."""
    try:
        error = json.loads(response.data[:2000]).get("error")
    except (ValueError, AttributeError):
        return ""
    return f": {str(error)[:300]}" if error else ""
