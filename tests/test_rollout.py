"""A staged rollout seen and steered from the county's dashboard: each kiosk reports its last software update,
the releases page counts per release the kiosks offered it, that installed it, that could not download it,
that failed it (with the reason) and that switched it back; a publisher pauses it with a click, signed with
the server's keys; and a release pauses itself once RELEASE_PAUSE_AFTER kiosks failed it."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from flask.testing import FlaskClient

from kiosk.county import CountyServer, create_county_app
from kiosk.county import store as county_store
from kiosk.data import accounts
from kiosk.demo import DEMO_CONTENT
from kiosk.device.reporting import MAX_UPDATE_RECORD_BYTES, UPDATE_RECORD, last_update, send_to_county
from kiosk.staff.limiter import limiter
from sync.contract.content import load_county
from sync.publish.software import releases
from sync.receive.updater import sync_kiosk
from tests.county_repo import VILLAGE, CountyRepo
from tests.servers import serving
from tests.test_county_edges import Kiosk, signed
from tests.test_staff import PASSWORD, sign_in
from tests.test_uplink import enrolled

VILLAGES = {v["code"]: v["name"] for v in load_county(DEMO_CONTENT).villages()}
ROLES = {"anna": "admin", "pat": "publisher", "sam": "staff", "rita": "reviewer"}


@pytest.fixture()
def make_county(county_repo: CountyRepo, tmp_path: Path) -> Callable[..., Flask]:
    """A county server app over the demo county's repository, with an account of each role; *config* on top."""

    def make(**config: Any) -> Flask:
        data = tmp_path / "county-server"
        app = create_county_app({"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(data),
                                 "SECRET_KEY": "rollout", "DEFAULT_LOCALE": "en", **config})  # fmt: skip
        db = county_store.open_store(data)
        for name, role in ROLES.items():
            if db.execute("select 1 from accounts where name = ?", (name,)).fetchone() is None:
                accounts.add(db, name, role, PASSWORD, actor="test", roles=accounts.COUNTY_ROLES)
        db.close()
        limiter.reset()  # one in-memory limiter per process: each app starts with a clean count of sign-ins
        return app

    return make


def store_of(app: Flask) -> sqlite3.Connection:
    return county_store.open_store(Path(app.config["DATA_DIR"]))


def enrol_in(app: Flask, village: str) -> Kiosk:
    """A kiosk enrolled for *village*, which signs its reports itself."""
    db = store_of(app)
    kiosk_id, code = county_store.add_kiosk(db, village)
    key = Ed25519PrivateKey.generate()
    county_store.enrol(db, code, village, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex())
    db.close()
    return Kiosk(kiosk_id, key)


def report(app: Flask, kiosk: Kiosk, app_version: str = "0.1.0", **update: Any) -> None:
    """The kiosk's signed report to the kiosks' API, carrying its last software update if *update* is given."""
    body: dict[str, Any] = {"app_version": app_version, "content_version": 2, "last_outcome": "updated"}
    if update:
        body["software_update"] = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **update}
    assert signed(app.test_client(), kiosk, "/api/report", body).status_code == 204


def signed_in(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


def counts(html: str, version: str) -> dict[str, int]:
    """The counts the releases page shows for *version*, by state."""
    section = re.search(rf'data-release="{re.escape(version)}"(.*?)</section>', html, re.S)
    assert section, f"no release {version} on the page"
    found = re.findall(r'data-state="(\w+)"[^>]*>[^<]*<strong>(\d+)</strong>', section.group(1))
    return {state: int(number) for state, number in found}


def state_of(county_repo: CountyRepo, version: str) -> str:
    """The release's state as the signed repository says it (what kiosks read)."""
    return str(next(r for r in releases(county_repo.repository) if r["version"] == version)["state"])


def csv_rows(client: FlaskClient, path: str) -> list[dict[str, str]]:
    answer = client.get(path)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))


# --- what a report may carry --------------------------------------------------------------------------------------


def test_a_report_without_an_update_or_with_nonsense_in_it_is_still_taken_and_kept_plain(
    county_repo: CountyRepo, make_county: Callable[..., Flask]
) -> None:
    app = make_county()
    kiosk = enrol_in(app, VILLAGE)
    client = app.test_client()
    assert signed(client, kiosk, "/api/report", {"app_version": "0.1.0"}).status_code == 204, "a kiosk from before"
    odd = [
        "0.2.0", {"offered": {"a": 1}}, {"offered": "../../etc"},
        {"offered": "0.2.0", "outcome": "exploded", "step": "../x", "error": "e" * 5000, "at": "yesterday"},
    ]  # fmt: skip
    for update in odd:
        answer = signed(client, kiosk, "/api/report", {"app_version": "0.1.0", "software_update": update})
        assert answer.status_code == 204, update
    db = store_of(app)
    rows = db.execute("select update_offered, update_outcome, update_step, length(update_error), update_at"
                      " from reports order by id").fetchall()  # fmt: skip
    assert [tuple(r) for r in rows] == [(None,) * 5] * 4 + [("0.2.0", None, None, 500, None)]
    assert db.execute("select count(*) from release_outcomes").fetchone()[0] == 0, "no outcome: nothing ended"
    db.close()


@pytest.mark.parametrize("record", [
    None, b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'{"offered": 2}',
    b'{"offered": "0.2.0", "error": "' + b"x" * MAX_UPDATE_RECORD_BYTES + b'"}',
])  # fmt: skip
def test_a_missing_or_damaged_update_record_on_the_kiosk_never_stops_its_report(
    county_repo: CountyRepo, kiosk_data: Path, make_county: Callable[..., Flask], record: bytes | None
) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    if record is not None:
        (kiosk_data / UPDATE_RECORD).parent.mkdir(parents=True, exist_ok=True)
        (kiosk_data / UPDATE_RECORD).write_bytes(record)
    assert last_update(kiosk_data) is None
    app = make_county()
    with serving(CountyServer(county_repo.path, app)) as url:
        sent = send_to_county(kiosk_data, enrolled(kiosk_data, url, Path(app.config["DATA_DIR"])))
    assert sent.ok, sent.line
    db = store_of(app)
    assert tuple(db.execute("select app_version is not null, update_offered from reports").fetchone()) == (1, None)
    db.close()


def test_an_update_under_way_is_reported_without_an_outcome_and_long_texts_are_cut(kiosk_data: Path) -> None:
    (kiosk_data / UPDATE_RECORD).parent.mkdir(parents=True, exist_ok=True)
    (kiosk_data / UPDATE_RECORD).write_text('{"offered": "0.2.0", "step": "install", "outcome": "failed", "error": "'
                                            + "e" * 900 + '", "at": "2026-12-01T02:00:00+00:00"}')  # fmt: skip
    told = last_update(kiosk_data)
    assert told == {"offered": "0.2.0", "outcome": None, "step": "install", "error": "e" * 500,
                    "at": "2026-12-01T02:00:00+00:00"}, "not ended: under way, or cut short"  # fmt: skip
