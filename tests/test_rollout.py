"""A staged rollout seen and steered from the county's dashboard: each kiosk reports its last software update,
the releases page counts per release the kiosks offered it, that installed it, that could not download it,
that failed it (with the reason) and that switched it back; a publisher pauses it with a click, signed with
the server's keys; and a release pauses itself once RELEASE_PAUSE_AFTER kiosks failed it."""

from __future__ import annotations

import csv
import io
import logging
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, expect

from kiosk.county import CountyServer, create_county_app
from kiosk.county import store as county_store
from kiosk.data import accounts
from kiosk.demo import DEMO_CONTENT
from kiosk.device.reporting import MAX_UPDATE_RECORD_BYTES, UPDATE_RECORD, last_update, send_to_county
from kiosk.device.update import Updater
from sync.contract import software
from sync.contract.content import load_county
from sync.publish.software import publish_release, releases
from sync.receive.updater import sync_kiosk
from tests.browser import guarded
from tests.county_repo import VILLAGE, CountyRepo
from tests.servers import serving
from tests.test_county_edges import Kiosk, signed
from tests.test_dashboard import table
from tests.test_software_channel import wheelhouse
from tests.test_software_update import fake_wheel
from tests.test_staff import PASSWORD, csrf_token, sign_in
from tests.test_uplink import enrolled

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

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


# --- a kiosk's real update, through its real report -------------------------------------------------------------


def test_a_kiosks_update_switched_back_reaches_the_releases_page_through_its_signed_report(
    county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path, make_county: Callable[..., Flask]
) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    publish_release(county_repo.repository, fake_wheel(tmp_path / "w1", "0.2.0", healthy=False), notes="修正通知列表")
    # Nothing answers where the screens should: the new release is switched back, local.db restored.
    updater = Updater(kiosk_data, tmp_path / "releases", [], "http://127.0.0.1:9/healthz", confirm_seconds=1)
    updated = updater.run(current="0.1.0")
    assert (updated.outcome, updated.step) == ("rolled_back", "confirm"), updated

    app = make_county(RELEASE_PAUSE_AFTER=3)
    with serving(CountyServer(county_repo.path, app)) as url:
        uplink = enrolled(kiosk_data, url, Path(app.config["DATA_DIR"]))
        sent = send_to_county(kiosk_data, uplink)
    assert sent.ok, sent.line

    officer = signed_in(app, "sam")
    page = officer.get("/dashboard/releases")
    assert page.status_code == 200 and "Software releases" in page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert counts(html, "0.2.0") == {"rolled_back": 1, "failed": 0, "not_downloaded": 0, "offered": 0,
                                     "installed": 0}  # fmt: skip
    assert "修正通知列表" in html and "every village" in html
    assert "screens answering: the screens did not answer with version 0.2.0" in html, "the commonest reason"
    rows = csv_rows(officer, "/dashboard/releases/0.2.0/kiosks.csv?show=rolled_back")
    assert len(rows) == 1 and rows[0]["Village"] == f"{VILLAGES[VILLAGE]} ({VILLAGE})"
    assert rows[0]["This release"] == "Rolled back" and rows[0]["Step"] == "screens answering"
    assert "did not answer with version 0.2.0" in rows[0]["Reason"] and rows[0]["App version"] == "0.1.0"
    assert state_of(county_repo, "0.2.0") == "active", "one kiosk is below the threshold of 3"


# --- the counts ---------------------------------------------------------------------------------------------------


def test_a_share_of_villages_is_counted_kiosk_by_kiosk_offered_installed_failed_and_rolled_back(
    county_repo: CountyRepo, tmp_path: Path, make_county: Callable[..., Flask]
) -> None:
    publish_release(county_repo.repository, wheelhouse(tmp_path / "w1", "0.2.0"), villages=["liutang", "shiqiao"])
    publish_release(county_repo.repository, wheelhouse(tmp_path / "w2", "0.3.0"), percent=60)
    reached = [v for v in VILLAGES if software.reaches({"version": "0.3.0", "percent": 60}, v)]
    beyond = [v for v in VILLAGES if v not in reached]
    assert len(reached) >= 3 and beyond, "the share reaches some of the demo county's villages and not others"
    app = make_county(RELEASE_PAUSE_AFTER=0)  # counted, never paused: this test is about the counts
    kiosks = {name: enrol_in(app, village) for name, village in (
        ("installed", reached[0]), ("switched back", reached[0]), ("waiting", reached[1]), ("never seen", reached[1]),
        ("no network", reached[2]), ("failed check", reached[2]), ("newer", reached[1]), ("revoked", reached[1]),
        ("not in the share", beyond[0]),
    )}  # fmt: skip
    report(app, kiosks["installed"], "0.3.0", offered="0.3.0", outcome="installed", step=None, error=None)
    report(app, kiosks["switched back"], offered="0.3.0", outcome="rolled_back", step="confirm",
           error="the screens did not answer with version 0.3.0 within 60 s")  # fmt: skip
    report(app, kiosks["waiting"])
    report(app, kiosks["no network"], offered="0.3.0", outcome="failed", step="fetch", error="connection refused")
    report(app, kiosks["failed check"], offered="0.3.0", outcome="failed", step="check",
           error="kiosk failed (exit 1): selfcheck: the migrations failed\nTraceback …")  # fmt: skip
    report(app, kiosks["newer"], "1.0.0")
    report(app, kiosks["revoked"], offered="0.3.0", outcome="failed", step="install", error="pip failed")
    report(app, kiosks["not in the share"])
    db = store_of(app)
    county_store.revoke(db, kiosks["revoked"].id)
    db.close()

    officer = signed_in(app, "sam")
    html = officer.get("/dashboard/releases").get_data(as_text=True)
    assert html.index('data-release="0.3.0"') < html.index('data-release="0.2.0"'), "newest first"
    assert counts(html, "0.3.0") == {"rolled_back": 1, "failed": 1, "not_downloaded": 1, "offered": 2,
                                     "installed": 1}  # fmt: skip
    assert "60% of villages" in html
    assert f"{VILLAGES['liutang']} (liutang), {VILLAGES['shiqiao']} (shiqiao)" in html, "0.2.0's villages by name"
    assert "self-check: kiosk failed (exit 1): selfcheck: the migrations failed ×1" in html

    failed = csv_rows(officer, "/dashboard/releases/0.3.0/kiosks.csv?show=failed")
    assert [(r["Kiosk"], r["Step"]) for r in failed] == [(str(kiosks["failed check"].id), "self-check")]
    assert failed[0]["Village"] == f"{VILLAGES[reached[2]]} ({reached[2]})"
    assert "migrations failed" in failed[0]["Reason"]
    every = csv_rows(officer, "/dashboard/releases/0.3.0/kiosks.csv")
    assert [r["This release"] for r in every] == ["Rolled back", "Failed", "Not yet downloaded", "Offered, waiting",
                                                  "Offered, waiting", "Installed"], "problems first"  # fmt: skip
    listed = {int(r["Kiosk"]) for r in every}
    assert not listed & {kiosks[k].id for k in ("newer", "revoked", "not in the share")}
    detail = officer.get("/dashboard/releases/0.3.0?show=not_downloaded").get_data(as_text=True)
    [waiting] = table(detail, "release-kiosks")
    assert (waiting["This release"], waiting["Step"], waiting["Reason"]) == ("Not yet downloaded", "download",
                                                                             "connection refused")  # fmt: skip
    assert officer.get("/dashboard/releases/7.7.7").status_code == 404


# --- pause and resume on a click ----------------------------------------------------------------------------------


def test_a_publisher_pauses_and_resumes_a_release_with_a_click_and_nobody_else_can(
    county_repo: CountyRepo, tmp_path: Path, make_county: Callable[..., Flask]
) -> None:
    publish_release(county_repo.repository, wheelhouse(tmp_path / "w1", "0.2.0"))
    app = make_county(KEYS_DIR=str(county_repo.keys))
    for path in ("/dashboard/releases", "/dashboard/releases/0.2.0", "/dashboard/releases/0.2.0/kiosks.csv"):
        anonymous = app.test_client().get(path)
        assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/sign-in"), path
    for name in ("sam", "rita"):  # the dashboard's staff, and a reviewer of the studio
        client = signed_in(app, name)
        assert "Pause this release" not in client.get("/dashboard/releases").get_data(as_text=True)
        token = csrf_token(client, "/dashboard/releases")
        refused = client.post("/dashboard/releases/0.2.0/state", data={"state": "paused", "csrf_token": token})
        assert refused.status_code == 403, name
    publisher = signed_in(app, "pat")
    page = publisher.get("/dashboard/releases").get_data(as_text=True)
    assert "Pause this release" in page
    no_token = publisher.post("/dashboard/releases/0.2.0/state", data={"state": "paused"})
    assert no_token.status_code == 400 and state_of(county_repo, "0.2.0") == "active", "CSRF enforced"

    token = csrf_token(publisher, "/dashboard/releases")
    paused = publisher.post("/dashboard/releases/0.2.0/state", data={"state": "paused", "csrf_token": token})
    assert paused.status_code == 302 and paused.headers["Location"].endswith("/dashboard/releases/0.2.0")
    assert state_of(county_repo, "0.2.0") == "paused", "signed into the repository kiosks read"
    shown = publisher.get("/dashboard/releases/0.2.0").get_data(as_text=True)
    assert "Release 0.2.0 is paused: no kiosk is offered it now." in shown and "Offer it again" in shown
    resumed = publisher.post("/dashboard/releases/0.2.0/state", data={"state": "active", "csrf_token": token})
    assert resumed.status_code == 302 and state_of(county_repo, "0.2.0") == "active"
    db = store_of(app)
    logged = db.execute("select actor, action, target_id from audit_log where target_kind = 'release' order by id")
    assert [tuple(row) for row in logged] == [("pat", "release.paused", "0.2.0"), ("pat", "release.resumed", "0.2.0")]
    db.close()


def test_without_keys_the_button_says_why_and_a_clock_behind_the_last_signature_is_refused(
    county_repo: CountyRepo, tmp_path: Path, make_county: Callable[..., Flask]
) -> None:
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)  # signed by a clock that was ahead
    publish_release(county_repo.repository, wheelhouse(tmp_path / "w1", "0.2.0"), now=ahead)
    without = signed_in(make_county(), "anna")
    page = without.get("/dashboard/releases").get_data(as_text=True)
    assert re.search(r"<button[^>]* disabled[^>]*>Pause this release", page)
    assert "started without its signing keys (kiosk county serve --keys)" in page
    token = csrf_token(without, "/dashboard/releases")
    refused = without.post("/dashboard/releases/0.2.0/state", data={"state": "paused", "csrf_token": token})
    assert refused.status_code == 503 and "Nothing was signed" in refused.get_data(as_text=True)

    with_keys = signed_in(make_county(KEYS_DIR=str(county_repo.keys)), "anna")
    token = csrf_token(with_keys, "/dashboard/releases")
    clock = with_keys.post("/dashboard/releases/0.2.0/state", data={"state": "paused", "csrf_token": token})
    said = clock.get_data(as_text=True)
    assert clock.status_code == 409 and "earlier than the repository&#39;s last signature" in said
    assert state_of(county_repo, "0.2.0") == "active", "nothing signed either way"


def test_a_publisher_pauses_a_release_on_a_phone_in_chinese(
    browser: Browser, county_repo: CountyRepo, tmp_path: Path, make_county: Callable[..., Flask]
) -> None:
    """Debian's Chromium on the real server, at a phone's width: from the dashboard's navigation to the pause."""
    publish_release(county_repo.repository, wheelhouse(tmp_path / "w1", "0.2.0"), notes="修正通知列表")
    app = make_county(KEYS_DIR=str(county_repo.keys), DEFAULT_LOCALE="zh")
    with serving(CountyServer(county_repo.path, app)) as url:
        context, outside, errors = guarded(browser, url, base_url=url, locale="zh-CN",
                                           viewport={"width": 390, "height": 844}, has_touch=True)  # fmt: skip
        page = context.new_page()
        page.goto("/sign-in")
        page.get_by_label("账号名").fill("pat")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.get_by_role("link", name="软件版本").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("软件版本")
        expect(page.locator('[data-release="0.2.0"]')).to_contain_text("修正通知列表")
        page.get_by_role("button", name="暂停此版本").tap()
        expect(page.get_by_role("status").first).to_have_text("版本 0.2.0 已暂停：现在不再向任何查询机推送。")
        expect(page.get_by_role("button", name="恢复推送")).to_be_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, "nothing wider than the phone"
        context.close()
    assert outside == [] and errors == []
    assert state_of(county_repo, "0.2.0") == "paused"


# --- the automatic pause ------------------------------------------------------------------------------------------


def test_a_release_pauses_itself_at_the_threshold_not_below_it_and_download_failures_do_not_count(
    county_repo: CountyRepo, tmp_path: Path, make_county: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    publish_release(county_repo.repository, wheelhouse(tmp_path / "w1", "0.2.0"))
    app = make_county(KEYS_DIR=str(county_repo.keys), RELEASE_PAUSE_AFTER=2)
    kiosks = [enrol_in(app, village) for village in list(VILLAGES)[:5]]
    for kiosk in kiosks[:3]:
        report(app, kiosk, offered="0.2.0", outcome="failed", step="fetch", error="connection refused")
    assert state_of(county_repo, "0.2.0") == "active", "three downloads failed: the network, not the release"
    report(app, kiosks[3], offered="0.2.0", outcome="failed", step="check", error="selfcheck failed")
    report(app, kiosks[3], offered="0.2.0", outcome="failed", step="check", error="selfcheck failed")
    assert state_of(county_repo, "0.2.0") == "active", "one kiosk, reported twice, is one kiosk"
    with caplog.at_level(logging.WARNING, logger="kiosk.county.rollout"):
        report(app, kiosks[4], offered="0.2.0", outcome="rolled_back", step="confirm", error="no answer")
    assert state_of(county_repo, "0.2.0") == "paused"
    assert any("0.2.0 paused itself" in r.getMessage() for r in caplog.records)
    officer = signed_in(app, "anna")
    assert "Paused by itself on" in officer.get("/dashboard/releases").get_data(as_text=True)

    token = csrf_token(officer, "/dashboard/releases")
    officer.post("/dashboard/releases/0.2.0/state", data={"state": "active", "csrf_token": token})
    assert state_of(county_repo, "0.2.0") == "active"
    another = enrol_in(app, VILLAGE)
    report(app, another, offered="0.2.0", outcome="failed", step="install", error="pip failed")
    assert state_of(county_repo, "0.2.0") == "active", "resumed: the count begins afresh, one is below 2"
    report(app, kiosks[0], offered="0.2.0", outcome="failed", step="install", error="pip failed")
    assert state_of(county_repo, "0.2.0") == "paused", "two new failures since the resumption"


def test_a_pause_that_cannot_be_signed_is_logged_and_shown_and_the_kiosks_report_is_still_taken(
    county_repo: CountyRepo, tmp_path: Path, make_county: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    publish_release(county_repo.repository, wheelhouse(tmp_path / "w1", "0.2.0"))
    app = make_county(RELEASE_PAUSE_AFTER=1)  # started without --keys
    kiosk = enrol_in(app, VILLAGE)
    with caplog.at_level(logging.ERROR, logger="kiosk.county.rollout"):
        report(app, kiosk, offered="0.2.0", outcome="rolled_back", step="confirm", error="no answer")  # 204
    assert state_of(county_repo, "0.2.0") == "active"
    assert any("should pause itself, but could not" in r.getMessage() for r in caplog.records)
    page = signed_in(app, "sam").get("/dashboard/releases").get_data(as_text=True)
    assert "It should have paused itself on" in page and "started without its signing keys" in page
    db = store_of(app)
    assert db.execute("select update_outcome from reports").fetchone()[0] == "rolled_back", "the report was kept"
    db.close()


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
    assert signed_in(app, "sam").get("/dashboard/releases").status_code == 200


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
