"""Two county server processes on one county folder, as behind nginx (issue 18): sign-in limits and lockouts,
enrolment codes, replay protection and upload idempotency hold across them, with requests alternating between
the two as a proxy would send them."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import urllib3
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kiosk.county import store as county_store
from kiosk.data import accounts
from tests.county_processes import county_servers
from tests.county_repo import VILLAGE, CountyRepo
from tests.test_staff import PASSWORD

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

PER_MINUTE = 4  # signed requests a kiosk may make in a minute, in these tests
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture()
def servers(county_repo: CountyRepo, tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    """Two `kiosk county serve` processes on one county folder; their addresses, and the folder."""
    data = tmp_path / "county"
    db = county_store.open_store(data)
    accounts.add(db, "officer", "admin", PASSWORD, actor="test", roles=accounts.COUNTY_ROLES)
    db.close()
    env = {"KIOSK_DEFAULT_LOCALE": "en", "KIOSK_COUNTY_KIOSK_REQUESTS_PER_MINUTE": str(PER_MINUTE)}
    with county_servers(county_repo.path, data, 2, env) as (urls, _processes):
        yield urls, data


class Browser:
    """One person's browser: a session cookie, sent to whichever process the proxy picks."""

    def __init__(self) -> None:
        self.pool = urllib3.PoolManager(retries=False)
        self.cookie = ""

    def request(self, method: str, url: str, **fields: str) -> urllib3.BaseHTTPResponse:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if fields:
            answer = self.pool.request(method, url, fields=fields, encode_multipart=False, headers=headers,
                                       redirect=False)  # fmt: skip
        else:
            answer = self.pool.request(method, url, headers=headers, redirect=False)
        if set_cookie := answer.headers.get("Set-Cookie"):
            self.cookie = set_cookie.split(";", 1)[0]
        return answer

    def sign_in(self, url: str, name: str, password: str) -> urllib3.BaseHTTPResponse:
        found = CSRF.search(self.request("GET", f"{url}/sign-in").data.decode())
        assert found is not None
        return self.request("POST", f"{url}/sign-in", name=name, password=password, csrf_token=found[1])


def test_sign_in_guesses_and_the_lockout_count_across_processes(servers: tuple[list[str], Path]) -> None:
    """Wrong passwords sent alternately to the two processes lock the account after five in all, and ten tries
    from one address in a minute, wherever they went, hold back the eleventh."""
    urls, data = servers
    browser = Browser()
    answers = [browser.sign_in(urls[n % 2], "officer", "guess") for n in range(accounts.MAX_FAILURES)]
    assert [a.status for a in answers] == [401] * accounts.MAX_FAILURES
    assert "locked" not in answers[-2].data.decode() and "locked for 15 more minutes" in answers[-1].data.decode()
    right = browser.sign_in(urls[1], "officer", PASSWORD)
    assert right.status == 401 and "locked" in right.data.decode(), "locked on the other process too"
    more = [browser.sign_in(urls[n % 2], f"nobody{n}", "guess").status for n in range(4)]
    assert more == [401] * 4, "ten tries in all so far"
    held = [browser.sign_in(url, "nobody", "guess") for url in urls]
    assert [a.status for a in held] == [429, 429], "the eleventh try in the minute, on either process"
    db = county_store.open_store(data)
    try:
        assert db.execute("select count(*) from audit_log where action = 'account.locked'").fetchone()[0] == 1
    finally:
        db.close()


def signed_post(url: str, kiosk_id: int, key: Ed25519PrivateKey, path: str, payload: Any) -> urllib3.BaseHTTPResponse:
    body = json.dumps(payload).encode()
    stamp = datetime.now(UTC).isoformat(timespec="microseconds")
    headers = {"Content-Type": "application/json", "X-Kiosk-Id": str(kiosk_id), "X-Kiosk-Time": stamp,
               "X-Kiosk-Signature": key.sign(county_store.signed_text(stamp, body)).hex()}  # fmt: skip
    return urllib3.request("POST", f"{url}{path}", body=body, headers=headers, retries=False)


def enrol(url: str, code: str) -> tuple[urllib3.BaseHTTPResponse, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    body = json.dumps({"code": code, "village": VILLAGE, "public_key": public}).encode()
    answer = urllib3.request("POST", f"{url}/api/enrol", body=body, headers={"Content-Type": "application/json"})
    return answer, key


def test_a_code_a_signature_and_an_upload_count_once_across_processes(servers: tuple[list[str], Path]) -> None:
    """An enrolment code used on one process is refused on the other; a signed request replayed to the other is
    refused; a batch of ratings sent again to the other (its answer lost) is counted once."""
    urls, data = servers
    db = county_store.open_store(data)
    _kiosk, code = county_store.add_kiosk(db, VILLAGE)
    db.close()
    first, key = enrol(urls[0], code)
    assert first.status == 200
    again, _other_key = enrol(urls[1], code)
    assert again.status != 200, "a code works once, on whichever process"
    kiosk_id = int(first.json()["kiosk_id"])

    day = f"{datetime.now(UTC):%Y-%m-%d}"
    rating = {"kind": "power", "item_id": "dibao-shenqing", "level": 4, "reasons": [], "day": day}
    keys = [f"rating-{n}" for n in range(5)]
    batch = {"items": [{"key": key, "kind": "feedback", "payload": rating} for key in keys]}
    body = json.dumps(batch).encode()
    stamp = datetime.now(UTC).isoformat(timespec="microseconds")
    headers = {"Content-Type": "application/json", "X-Kiosk-Id": str(kiosk_id), "X-Kiosk-Time": stamp,
               "X-Kiosk-Signature": key.sign(county_store.signed_text(stamp, body)).hex()}  # fmt: skip
    sent = urllib3.request("POST", f"{urls[0]}/api/outbox", body=body, headers=headers, retries=False)
    assert sent.status == 200 and len(sent.json()["acked"]) == 5
    replayed = urllib3.request("POST", f"{urls[1]}/api/outbox", body=body, headers=headers, retries=False)
    assert replayed.status == 403, "the same signature, on the other process: a replay"
    resent = signed_post(urls[1], kiosk_id, key, "/api/outbox", batch)  # signed afresh, as a kiosk retries
    assert resent.status == 200 and sorted(resent.json()["acked"]) == keys
    db = county_store.open_store(data)
    try:
        assert db.execute("select count(*) from uploads where kind = 'feedback'").fetchone()[0] == 5
        assert db.execute("select sum(count) from rating_counts").fetchone()[0] == 5, "each rating counted once"
    finally:
        db.close()


def test_wrong_passwords_sent_at_once_to_both_processes_all_count(servers: tuple[list[str], Path]) -> None:
    """Five wrong passwords at the same moment, some to each process, lock the account: none is lost because
    another was being checked (each failure is counted in the write, not from a count read before)."""
    urls, _data = servers
    browsers = [Browser() for _ in range(accounts.MAX_FAILURES)]
    tokens = []
    for n, browser in enumerate(browsers):
        found = CSRF.search(browser.request("GET", f"{urls[n % 2]}/sign-in").data.decode())
        assert found is not None
        tokens.append(found[1])
    with ThreadPoolExecutor(len(browsers)) as pool:
        answers = list(pool.map(lambda n: browsers[n].request("POST", f"{urls[n % 2]}/sign-in", name="officer",
                                                                password="guess", csrf_token=tokens[n]),
                                range(len(browsers))))  # fmt: skip
    assert [a.status for a in answers] == [401] * accounts.MAX_FAILURES
    right = Browser().sign_in(urls[0], "officer", PASSWORD)
    assert right.status == 401 and "locked" in right.data.decode(), "five at once lock the account"


def test_a_kiosk_s_requests_per_minute_count_across_processes(servers: tuple[list[str], Path]) -> None:
    """A kiosk's signed requests, alternating between the processes, are held back past its limit per minute."""
    urls, data = servers
    db = county_store.open_store(data)
    _kiosk, code = county_store.add_kiosk(db, VILLAGE)
    db.close()
    enrolled, key = enrol(urls[0], code)
    kiosk_id = int(enrolled.json()["kiosk_id"])
    for _ in range(30):  # not across a minute's edge: the count is per minute of the county's clock
        if datetime.now(UTC).second < 55:
            break
        time.sleep(0.2)
    answers = [signed_post(urls[n % 2], kiosk_id, key, "/api/report", {"version": "1"}) for n in range(PER_MINUTE + 2)]
    assert [a.status for a in answers] == [204] * PER_MINUTE + [429, 429]
    assert all(int(a.headers["Retry-After"]) <= 60 for a in answers[PER_MINUTE:])
