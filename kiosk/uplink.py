"""The kiosk's uplink to the county server: enrolment, signed reports, and the outbox, store-and-forward.

Items leave local.db's outbox only after the county has acknowledged them; a batch cut off
halfway is sent again and the county, keyed by each item's idempotency key, stores it once.
Requests are signed with the kiosk's own Ed25519 key (DATA_DIR/kiosk-key.pem, made at enrolment).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import urllib3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.i18n import tr
from sync.updater import CONFIG, read_config

from .local_db import open_local

KEY_FILE = "kiosk-key.pem"
BATCH = 100
RETRY_STATUSES = {429, 500, 502, 503, 504}


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
        return bool(self.config.get("county") and self.config.get("kiosk_id") and (self.data_dir / KEY_FILE).exists())

    def _key(self) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key((self.data_dir / KEY_FILE).read_bytes(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        return key

    def _post(self, path: str, body: bytes, signed: bool = True) -> urllib3.BaseHTTPResponse:
        """POST with bounded retries, exponential backoff and jitter; return the first final answer."""
        url = self.config["county"].rstrip("/") + path
        last: str = ""
        for attempt in range(self.attempts):
            headers = {"Content-Type": "application/json"}
            if signed:  # signed afresh each time: the county refuses a signature it has seen (a replay)
                stamp = datetime.now(UTC).isoformat(timespec="microseconds")
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
                last = f"{url} answered {response.status}"
            if attempt + 1 < self.attempts:
                self.sleep(random.uniform(0, self.backoff * 2**attempt))  # noqa: S311 - jitter, not secrecy
        raise UplinkError(tr("the county server did not take the request after {attempts} tries: {error}",
                             attempts=self.attempts, error=last))  # fmt: skip

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
        _write_private(self.data_dir / KEY_FILE, pem)
        self.config.update(county=county_url, kiosk_id=kiosk_id)
        _write_config(self.data_dir, self.config)
        return kiosk_id

    def report(self, status: dict[str, Any]) -> None:
        response = self._post("/api/report", json.dumps(status, ensure_ascii=False).encode())
        if response.status != 204:
            raise UplinkError(tr("the county refused the report ({status})", status=response.status))

    def upload_outbox(self, batch: int = BATCH) -> int:
        """Send the outbox oldest first; delete what the county acknowledged; return how many left."""
        sent = 0
        db = open_local(self.data_dir)
        try:
            while True:
                rows = db.execute("select id, idempotency_key, kind, payload from outbox order by id limit ?", (batch,))
                items = [{"key": key, "kind": kind, "payload": json.loads(payload)} for _id, key, kind, payload in rows]
                if not items:
                    return sent
                response = self._post("/api/outbox", json.dumps({"items": items}, ensure_ascii=False).encode())
                if response.status != 200:
                    raise UplinkError(tr("the county refused the upload ({status})", status=response.status))
                acked = set(response.json().get("acked", []))
                db.executemany("delete from outbox where idempotency_key = ?", [(key,) for key in acked])
                sent += len(acked)
                if not acked:
                    raise UplinkError(tr("the county acknowledged nothing of the upload"))
        finally:
            db.close()


def _write_private(path: Path, data: bytes) -> None:
    import os

    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


def _write_config(data_dir: Path, config: dict[str, Any]) -> None:
    path = Path(data_dir) / CONFIG
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    temporary.replace(path)


def outbox_depth(data_dir: Path) -> int:
    db = open_local(Path(data_dir))
    try:
        return int(db.execute("select count(*) from outbox").fetchone()[0])
    finally:
        db.close()
