"""Simulated kiosks for bench/county.py and the county's failover test: enrolled in the county's database directly,
signing and posting as kiosk/device/uplink.py does.

Each kiosk is enrolled in county.db (or the county's PostgreSQL database) with a fresh Ed25519 key, written as
store.enrol leaves an enrolled kiosk. A KioskClient holds one keep-alive HTTP/1.1
connection to each of the county's server processes and sends a kiosk's requests to one of them, as a load
balancer would; with more than one try, a request that got no answer (or a 5xx, or 429) is signed afresh and
sent to the next process, as a kiosk's retry through the load balancer would reach one that is up.
"""

from __future__ import annotations

import http.client
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

FEEDBACK_PER_KIOSK = 10
NOTICES_ON_SHOW = 40  # in each kiosk's display log, five of them with a 公示期
UPLOADS_PER_KIOSK = FEEDBACK_PER_KIOSK + 1  # and the display log
HTTP_TIMEOUT_S = 30.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})  # as kiosk/device/uplink.py
RETRY_PAUSE_S = 0.05  # times the try's number, between tries


@dataclass
class SimulatedKiosk:
    kiosk_id: int
    village: str
    key: Ed25519PrivateKey


@dataclass
class Tally:
    """What one client thread saw: latencies (seconds) of acknowledged requests, failures, and requests sent again."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    retried: dict[str, int] = field(default_factory=dict)

    def fail(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def retry(self, what: str) -> None:
        self.retried[what] = self.retried.get(what, 0) + 1


def enrol_kiosks(data_dir: Path, villages: list[str], count: int, url: str | None = None) -> list[SimulatedKiosk]:
    """Enrol *count* kiosks in the county's database (county.db in *data_dir*, or the PostgreSQL database *url*:
    store.open_store), each with its own Ed25519 key, in one transaction: as store.enrol leaves them."""
    from kiosk.county import store
    from kiosk.data.transactions import transaction

    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    keys = [Ed25519PrivateKey.generate() for _ in range(count)]
    db = store.open_store(data_dir, url=url)
    try:
        with transaction(db):
            kiosks = []
            for n, key in enumerate(keys):
                village = villages[n % len(villages)]
                public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
                [(kiosk_id,)] = db.execute(
                    "insert into kiosks (village, public_key, enrolled_at, created_at) values (?, ?, ?, ?)"
                    " returning id",
                    (village, public.hex(), stamp, stamp),
                ).fetchall()
                kiosks.append(SimulatedKiosk(int(kiosk_id), village, key))
    finally:
        db.close()
    return kiosks


def report_body(kiosk: SimulatedKiosk, sequence: int) -> bytes:
    """A report like kiosk/device/reporting.py's: the kiosk's state, two overdue disclosures and its own key."""
    today = datetime.now(UTC).date().isoformat()
    report = {
        "app_version": "0.9.0",
        "content_version": 42 + sequence % 3,
        "content_date": today,
        "last_outcome": "updated",
        "last_error": None,
        "disk_free_bytes": 12_345_678_912 - sequence,
        "outbox_depth": FEEDBACK_PER_KIOSK,
        "overdue": [
            {"duty": "finance-quarterly", "title": "村级财务季度公开", "what": "2024 Q3", "due": today},
            {"duty": "subsidy-list", "title": "惠农补贴名单公示", "what": "耕地地力保护补贴", "due": today},
        ],
        "report_key": secrets.token_hex(16),
    }
    return json.dumps(report, ensure_ascii=False).encode()


def outbox_body(kiosk: SimulatedKiosk) -> bytes:
    """One upload of FEEDBACK_PER_KIOSK feedback items and the day's display log, each with its own key."""
    day = datetime.now(UTC).date().isoformat()
    items = [
        {
            "key": f"feedback-{kiosk.kiosk_id}-{day}-{n}",
            "kind": "feedback",
            "payload": {"kind": "power", "item_id": f"p{n:04d}", "level": n % 5 + 1, "reasons": ["slow"], "day": day},
        }
        for n in range(FEEDBACK_PER_KIOSK)
    ]
    shown = [f"n{n:03d}" for n in range(NOTICES_ON_SHOW)]
    facts = {"title": "低保对象名单公示", "published_at": f"{day} 00:00:00", "days": 7}
    posting = {notice: facts for notice in shown[:5]}
    log = {"day": day, "at": f"{day} 02:30:00", "notices": shown, "posting": posting}
    items.append({"key": f"display:{kiosk.kiosk_id}:{day}", "kind": "display_log", "payload": log})
    return json.dumps({"items": items}, ensure_ascii=False).encode()


class KioskClient:
    """Keep-alive HTTP/1.1 connections to the county's processes on *ports*, signing as each kiosk would.

    A kiosk's requests go to ``ports[kiosk_id % len(ports)]``; with *tries* > 1, a request that fails is sent
    again, signed afresh, to the next port in turn.
    """

    def __init__(self, ports: list[int], tries: int = 1) -> None:
        self.tries = tries
        self.connections = [http.client.HTTPConnection("127.0.0.1", p, timeout=HTTP_TIMEOUT_S) for p in ports]

    def post(self, kiosk: SimulatedKiosk, path: str, body: bytes, tally: Tally) -> bytes | None:
        """Sign and POST *body*; add the latency to *tally* and return the answer, or count a failure."""
        expected = 204 if path == "/api/report" else 200
        failure = ""
        for attempt in range(self.tries):
            if attempt:
                tally.retry(f"{path}: {failure}")
                time.sleep(RETRY_PAUSE_S * attempt)
            connection = self.connections[(kiosk.kiosk_id + attempt) % len(self.connections)]
            stamp = datetime.now(UTC).isoformat(timespec="microseconds")  # as kiosk/uplink.py: a signature is used once
            headers = {
                "Content-Type": "application/json",
                "X-Kiosk-Id": str(kiosk.kiosk_id),
                "X-Kiosk-Time": stamp,
                "X-Kiosk-Signature": kiosk.key.sign(stamp.encode() + b"\n" + body).hex(),
            }
            started = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as error:
                failure = type(error).__name__
                connection.close()  # http.client reconnects on the next request
                continue
            if response.status == expected:
                tally.latencies.append(time.perf_counter() - started)
                return answer
            failure = f"HTTP {response.status}"
            if response.status not in RETRY_STATUSES:
                break
        tally.fail(f"{path}: {failure}")
        return None

    def close(self) -> None:
        for connection in self.connections:
            connection.close()
