"""The county server's dashboard accounts live in county.db: none of the kiosk's tables in its data
folder, the same sign-in code as the staff console, and an older county folder keeps its accounts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlite_utils import Database

from kiosk.cli import main
from kiosk.county import create_county_app
from kiosk.county import store as county_store
from kiosk.data import accounts
from kiosk.data.local_db import open_local
from tests.county_repo import CountyRepo
from tests.test_staff import PASSWORD, csrf_token, sign_in

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

KIOSK_TABLES = {"village_notices", "outbox", "feedback", "outbox_set_aside", "local_duties", "display_log_days"}
ACCOUNT_TABLES = ("accounts", "setup_links", "audit_log")


def tables_in(folder: Path) -> dict[str, set[str]]:
    """Every SQLite file anywhere under *folder*, with its tables."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*"):
        if path.is_file() and path.read_bytes()[:16] == b"SQLite format 3\x00":
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                found[path.name] = {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
            finally:
                db.close()
    return found


def county(repo: CountyRepo, data: Path) -> Flask:
    app = create_county_app({"TESTING": True, "REPO": str(repo.path), "DATA_DIR": str(data), "SECRET_KEY": "a",
                             "DEFAULT_LOCALE": "en"})  # fmt: skip
    return app


def add_account(data: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["county", "add-account", *args, "--data", str(data)],
                                env={"KIOSK_DEFAULT_LOCALE": "en"})  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.county_sqlite_only  # SQLite's own file or history
def test_the_county_folder_holds_none_of_the_kiosks_tables(county_repo: CountyRepo, tmp_path: Path) -> None:
    data = tmp_path / "county-server"
    app = county(county_repo, data)
    assert "Account anna (admin) created." in add_account(data, "anna", "--role", "admin", "--password", PASSWORD)
    assert "/setup/" in add_account(data, "bo", "--link")
    client = app.test_client()
    assert sign_in(client).status_code == 302
    page = client.get("/admin/accounts")
    assert page.status_code == 200 and "anna" in page.text and "bo" in page.text
    assert client.get("/dashboard/").status_code == 200
    listed = CliRunner().invoke(main, ["county", "accounts", "--data", str(data)], env={"KIOSK_DEFAULT_LOCALE": "en"})
    assert [line.split("\t")[:2] for line in listed.output.splitlines()] == [["anna", "admin"], ["bo", "staff"]]

    found = tables_in(data)
    assert set(found) == {"county.db"}, f"no local.db in the county's folder: {found}"
    assert not KIOSK_TABLES & found["county.db"]
    assert set(ACCOUNT_TABLES) <= found["county.db"]


@pytest.mark.county_sqlite_only  # SQLite's own file or history
def test_kiosk_staff_add_refuses_a_county_folder_and_says_what_to_use(county_repo: CountyRepo, tmp_path: Path) -> None:
    data = tmp_path / "county-server"
    county(county_repo, data)
    result = CliRunner().invoke(main, ["staff", "add", "anna", "--password", PASSWORD, "--data", str(data)],
                                env={"KIOSK_DEFAULT_LOCALE": "en"})  # fmt: skip
    assert result.exit_code != 0 and "kiosk county add-account" in result.output
    assert not (data / "local.db").exists()


@pytest.mark.county_sqlite_only  # SQLite's own file or history
def test_a_county_folder_from_before_keeps_its_accounts_and_audit_log(county_repo: CountyRepo, tmp_path: Path) -> None:
    data = tmp_path / "county-server"
    old = open_local(data)  # how a county server kept its accounts before: the kiosk's local.db
    accounts.add(old, "anna", "admin", PASSWORD, actor="(command line)")
    bo = accounts.add(old, "bo", "staff", PASSWORD + "!", actor="(command line)")
    accounts.disable(old, bo.id, accounts.Account(1, "anna", "admin"))
    old.close()
    before = county_store.open_store(data, migrate=False)  # and county.db as it was, before m010
    county_store.migrations.apply(Database(before), stop_before="m010_dashboard_accounts")
    before.close()

    app = county(county_repo, data)
    client = app.test_client()
    assert sign_in(client).status_code == 302, "the old admin signs in with the old password"
    assert sign_in(app.test_client(), "bo", PASSWORD + "!").status_code == 401, "bo stays disabled"
    audit = client.get("/admin/audit").text
    assert "account.disable" in audit and "accounts.moved" in audit
    add_account(data, "chen", "--password", PASSWORD)  # a second start or command copies nothing twice
    county(county_repo, data)
    db = county_store.open_store(data)
    try:
        names = [row["name"] for row in accounts.all_accounts(db)]
        assert names == ["anna", "bo", "chen"]
        assert db.execute("select count(*) from audit_log where action = 'accounts.moved'").fetchone()[0] == 1
    finally:
        db.close()


@pytest.mark.county_sqlite_only  # SQLite's own file or history
def test_county_db_holds_the_account_tables_as_local_db_has_them(tmp_path: Path) -> None:
    local, store = open_local(tmp_path / "kiosk"), county_store.open_store(tmp_path / "county")
    county_only = {"accounts": ["township"]}  # the studio keeps an editor or reviewer to one township
    try:
        for table in ACCOUNT_TABLES:
            in_county = [tuple(r)[1:] for r in store.execute(f"pragma table_info({table})")]
            assert [tuple(r)[1:] for r in local.execute(f"pragma table_info({table})")] == [
                column for column in in_county if column[0] not in county_only.get(table, [])
            ], table
            assert set(county_only.get(table, [])) <= {column[0] for column in in_county}, table
    finally:
        local.close()
        store.close()


@pytest.mark.county_sqlite_only  # SQLite's own file or history
def test_an_unreadable_old_local_db_stops_the_start_and_says_what_to_do(
    county_repo: CountyRepo, tmp_path: Path
) -> None:
    data = tmp_path / "county-server"
    data.mkdir()
    (data / "local.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)  # damaged: its accounts cannot be read
    with pytest.raises(sqlite3.DatabaseError) as refused:
        county(county_repo, data)
    assert str(data / "local.db") in str(refused.value) and "kiosk county add-account" in str(refused.value)
    (data / "local.db").rename(data / "local.db.damaged")  # what the message says to do
    county(county_repo, data)
    db = county_store.open_store(data, migrate=False)
    try:
        assert accounts.all_accounts(db) == [], "the migration that failed is made at the next start"
    finally:
        db.close()


def test_the_studios_roles_are_given_with_a_township_for_editors_and_reviewers(
    county_repo: CountyRepo, tmp_path: Path
) -> None:
    data = tmp_path / "county-server"
    app = county(county_repo, data)
    add_account(data, "anna", "--role", "admin", "--password", PASSWORD)
    made = add_account(data, "wang", "--role", "reviewer", "--township", "qingshan", "--password", PASSWORD)
    assert "Account wang (reviewer of the township qingshan) created." in made
    add_account(data, "li", "--role", "publisher", "--password", PASSWORD)
    refused = CliRunner().invoke(main, ["county", "add-account", "zhao", "--role", "publisher", "--township",
                                        "qingshan", "--password", PASSWORD, "--data", str(data)],
                                 env={"KIOSK_DEFAULT_LOCALE": "en"})  # fmt: skip
    assert refused.exit_code == 1 and "only an editor or a reviewer is kept to one township" in refused.output
    listed = CliRunner().invoke(main, ["county", "accounts", "--data", str(data)], env={"KIOSK_DEFAULT_LOCALE": "en"})
    assert [line.split("\t")[:2] for line in listed.output.splitlines()] == [
        ["anna", "admin"], ["li", "publisher"], ["wang", "reviewer:qingshan"]
    ]  # fmt: skip

    client = app.test_client()
    assert sign_in(client).status_code == 302
    form = client.get("/admin/accounts/new").text
    assert all(f'value="{role}"' in form for role in accounts.COUNTY_ROLES) and 'name="township"' in form
    token = csrf_token(client, "/admin/accounts/new")
    typed = {"name": "zhou", "role": "editor", "by": "password", "password": PASSWORD, "password2": PASSWORD}
    bad = client.post("/admin/accounts/new", data={**typed, "township": "Qing Shan", "csrf_token": token})
    assert bad.status_code == 422 and "is not a township&#39;s code" in bad.text and 'value="Qing Shan"' in bad.text
    made_here = client.post("/admin/accounts/new", data={**typed, "township": "shiqiao", "csrf_token": token})
    assert made_here.status_code == 302
    listing = client.get("/admin/accounts").text
    assert "reviewer · township qingshan" in listing and "editor · township shiqiao" in listing
    db = county_store.open_store(data)
    try:
        [row] = db.execute("select after from audit_log where action = 'account.add' and target_id = 'zhou'")
        assert '"township": "shiqiao"' in row[0] and '"role": "editor"' in row[0]
        zhou = accounts.get(db, next(int(str(a["id"])) for a in accounts.all_accounts(db) if a["name"] == "zhou"))
        assert zhou is not None and (zhou.role, zhou.township) == ("editor", "shiqiao")
    finally:
        db.close()
