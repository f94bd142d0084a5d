"""The staff console's admin pages through the test client: accounts, set-up links, the audit log and its CSV."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from kiosk.cli import main
from kiosk.data import accounts, audit
from kiosk.data.local_db import open_local, path_of
from kiosk.staff import create_staff_app
from sync.contract.dates import MONDAY_TO_FRIDAY
from tests.test_staff import PASSWORD, csrf_token

NEW_PASSWORD = "plum blossom lantern 7"
CHOSEN_PASSWORD = "river stones and tea"
FORM_PAGE = "/admin/accounts/new"  # any page with a form gives the session's CSRF token


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[Flask]:
    config = {"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "admin-test", "DEFAULT_LOCALE": "en"}
    app = create_staff_app(config)
    db = open_local(tmp_path)
    accounts.add(db, "anna", "admin", PASSWORD, actor="test")
    accounts.add(db, "bo", "staff", PASSWORD, actor="test")
    db.close()
    yield app


def signed_in(app: Flask, name: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    response = client.post("/sign-in", data={"name": name, "password": password, "csrf_token": csrf_token(client)})
    assert response.status_code == 302, f"{name} could not sign in"
    return client


def can_sign_in(app: Flask, name: str, password: str) -> bool:
    client = app.test_client()
    response = client.post("/sign-in", data={"name": name, "password": password, "csrf_token": csrf_token(client)})
    return response.status_code == 302


@pytest.fixture()
def admin(app: Flask) -> FlaskClient:
    return signed_in(app, "anna")


def account_id(data: Path, name: str) -> int:
    with sqlite3.connect(path_of(data)) as db:
        return int(db.execute("select id from accounts where name = ?", (name,)).fetchone()[0])


def audit_rows(data: Path, action: str | None = None) -> list[dict[str, Any]]:
    db = open_local(data)
    rows = [row for row in audit.entries(db, limit=10_000) if action is None or row["action"] == action]
    db.close()
    return rows


def post(client: FlaskClient, path: str, **fields: str) -> Any:
    return client.post(path, data={**fields, "csrf_token": csrf_token(client, FORM_PAGE)})


def link_path(page: str) -> str:
    match = re.search(r'value="https?://[^/"]+(/setup/[A-Za-z0-9_-]+)"', page)
    assert match is not None, "no set-up link on the page"
    return match.group(1)


def add_by_link(admin: FlaskClient, name: str, role: str = "staff") -> str:
    response = post(admin, "/admin/accounts/new", name=name, role=role, by="link")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return link_path(response.get_data(as_text=True))


def choose_password(app: Flask, path: str, password: str, again: str | None = None) -> Any:
    client = app.test_client()
    return client.post(path, data={"password": password, "password2": password if again is None else again,
                                   "csrf_token": csrf_token(client, "/sign-in")})  # fmt: skip


def test_the_admin_lists_the_accounts(admin: FlaskClient, tmp_path: Path) -> None:
    assert admin.get("/admin/").headers["Location"] == "/admin/accounts"
    page = admin.get("/admin/accounts").get_data(as_text=True)
    assert "anna" in page and "bo" in page and "created" in page
    assert f"/admin/accounts/{account_id(tmp_path, 'bo')}/disable" in page
    assert f"/admin/accounts/{account_id(tmp_path, 'anna')}/disable" not in page, "no button to disable oneself"


def test_the_admin_adds_an_account_with_a_password(app: Flask, admin: FlaskClient, tmp_path: Path) -> None:
    response = post(admin, "/admin/accounts/new", name="chen", role="admin", by="password",
                    password=NEW_PASSWORD, password2=NEW_PASSWORD)  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"] == "/admin/accounts"
    assert "Account chen created" in admin.get("/admin/accounts").get_data(as_text=True)
    assert can_sign_in(app, "chen", NEW_PASSWORD)
    [added] = [row for row in audit_rows(tmp_path, "account.add") if row["target_id"] == "chen"]
    assert added["actor"] == "anna" and json.loads(added["after"]) == {"name": "chen", "role": "admin"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"name": "dai", "password": "tiny-pw", "password2": "tiny-pw"}, "at least 10 characters"),
     ({"name": "dai", "password": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"}, "two passwords are not the same"),
     ({"name": "ANNA", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}, "already an account named ANNA"),
     ({"name": "abcdefghijk", "password": "ABCDEFGHIJK", "password2": "ABCDEFGHIJK"}, "must not be the account name"),
     ({"name": "dai\tx", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}, "1 to 40 characters"),
     ({"name": "dai", "role": "root", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}, "one of the roles"),
     ({"name": "dai", "role": "editor", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}, "one of the roles")],
)  # fmt: skip
def test_a_form_that_fails_keeps_what_was_typed_except_the_passwords(
    admin: FlaskClient, tmp_path: Path, fields: dict[str, str], message: str
) -> None:
    before = audit_rows(tmp_path)
    response = post(admin, "/admin/accounts/new", **{"role": "admin", "by": "password", **fields})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and message in page
    assert "nothing was saved yet" in page
    if "\t" not in fields["name"]:
        assert f'value="{fields["name"]}"' in page, "the name typed stays"
    if fields.get("role", "admin") == "admin":
        assert '<option value="admin" selected>' in page, "the role chosen stays"
    assert fields["password"] not in page.replace(f'value="{fields["name"]}"', ""), "a password is never sent back"
    assert audit_rows(tmp_path) == before, "nothing changed"


def test_disable_and_enable_an_account(app: Flask, admin: FlaskClient, tmp_path: Path) -> None:
    bo = signed_in(app, "bo")
    bo_id = account_id(tmp_path, "bo")
    response = post(admin, f"/admin/accounts/{bo_id}/disable")
    assert response.status_code == 302
    assert "bo is disabled" in admin.get("/admin/accounts").get_data(as_text=True)
    assert bo.get("/").status_code == 302, "the session of a disabled account ends"
    assert not can_sign_in(app, "bo", PASSWORD)
    [disabled] = audit_rows(tmp_path, "account.disable")
    assert disabled["actor"] == "anna" and disabled["target_id"] == "bo"
    assert (json.loads(disabled["before"]), json.loads(disabled["after"])) == ({"disabled": False}, {"disabled": True})
    assert post(admin, f"/admin/accounts/{bo_id}/disable").status_code == 302
    assert len(audit_rows(tmp_path, "account.disable")) == 1, "disabling twice changes nothing"

    assert post(admin, f"/admin/accounts/{bo_id}/enable").status_code == 302
    assert can_sign_in(app, "bo", PASSWORD)
    [enabled] = audit_rows(tmp_path, "account.enable")
    assert (json.loads(enabled["before"]), json.loads(enabled["after"])) == ({"disabled": True}, {"disabled": False})
    assert post(admin, "/admin/accounts/999/disable").status_code == 404
    assert post(admin, "/admin/accounts/999/enable").status_code == 404


def test_an_admin_cannot_disable_themself(app: Flask, admin: FlaskClient, tmp_path: Path) -> None:
    response = post(admin, f"/admin/accounts/{account_id(tmp_path, 'anna')}/disable")
    assert response.status_code == 409 and "cannot disable your own account" in response.get_data(as_text=True)
    assert admin.get("/admin/accounts").status_code == 200 and audit_rows(tmp_path, "account.disable") == []


def test_the_last_enabled_admin_cannot_be_disabled(app: Flask, admin: FlaskClient, tmp_path: Path) -> None:
    db = open_local(tmp_path)
    chen = accounts.add(db, "chen", "admin", NEW_PASSWORD, actor="test")
    anna = accounts.get(db, account_id(tmp_path, "anna"))
    assert anna is not None
    assert post(admin, f"/admin/accounts/{chen.id}/disable").status_code == 302
    # chen had the accounts page open and disables anna at the same moment: the check inside the write refuses.
    with pytest.raises(accounts.AccountError, match="last admin") as refused:
        accounts.disable(db, anna.id, actor=chen)
    assert refused.value.code == "last_admin"
    assert accounts.get(db, anna.id) is not None and len(audit_rows(tmp_path, "account.disable")) == 1
    db.close()


def test_resetting_a_password_lifts_the_lockout(app: Flask, admin: FlaskClient, tmp_path: Path) -> None:
    for _attempt in range(accounts.MAX_FAILURES):
        can_sign_in(app, "bo", "a wrong guess")
    assert "locked until" in admin.get("/admin/accounts").get_data(as_text=True)
    bo_id = account_id(tmp_path, "bo")
    assert "Reset the password of bo" in admin.get(f"/admin/accounts/{bo_id}/password").get_data(as_text=True)
    differ = post(admin, f"/admin/accounts/{bo_id}/password", by="password", password=NEW_PASSWORD, password2="x")
    assert differ.status_code == 422 and "not the same" in differ.get_data(as_text=True)
    response = post(admin, f"/admin/accounts/{bo_id}/password", by="password", password=NEW_PASSWORD,
                    password2=NEW_PASSWORD)  # fmt: skip
    assert response.status_code == 302
    assert can_sign_in(app, "bo", NEW_PASSWORD) and not can_sign_in(app, "bo", PASSWORD)
    [reset] = audit_rows(tmp_path, "account.password_reset")
    before, after = json.loads(reset["before"]), json.loads(reset["after"])
    assert before["locked_until"] is not None and before["has_password"] is True
    assert after == {"has_password": True, "failed_logins": 0, "locked_until": None}
    assert admin.get("/admin/accounts/999/password").status_code == 404


def test_no_password_or_hash_reaches_the_audit_log_or_lies_in_local_db(
    app: Flask, admin: FlaskClient, tmp_path: Path
) -> None:
    post(admin, "/admin/accounts/new", name="chen", role="staff", by="password", password=NEW_PASSWORD,
         password2=NEW_PASSWORD)  # fmt: skip
    post(admin, f"/admin/accounts/{account_id(tmp_path, 'bo')}/password", by="password", password=CHOSEN_PASSWORD,
         password2=CHOSEN_PASSWORD)  # fmt: skip
    path = add_by_link(admin, "dai")
    assert choose_password(app, path, "dai's own choice 9").status_code == 302
    logged = json.dumps(audit_rows(tmp_path), ensure_ascii=False)
    token = path.rsplit("/", 1)[1]
    for secret in (PASSWORD, NEW_PASSWORD, CHOSEN_PASSWORD, "dai's own choice 9", "$argon2", token):
        assert secret not in logged
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("local.db*"))  # with the WAL, where fresh writes are
    for secret in (PASSWORD, NEW_PASSWORD, CHOSEN_PASSWORD, "dai's own choice 9", token):
        assert secret.encode() not in stored


def test_a_set_up_link_works_once(app: Flask, admin: FlaskClient, tmp_path: Path) -> None:
    path = add_by_link(admin, "dai")
    token = path.rsplit("/", 1)[1]
    assert len(token) >= 43, "at least 256 bits"
    with sqlite3.connect(path_of(tmp_path)) as db:
        stored, hashed = db.execute("select token_hash, password_hash from setup_links join accounts"
                                    " on accounts.id = account_id").fetchone()  # fmt: skip
    assert stored == hashlib.sha256(token.encode()).hexdigest() and hashed is None
    assert not can_sign_in(app, "dai", "anything at all"), "no usable password before the link is used"
    [added] = [row for row in audit_rows(tmp_path, "account.add") if row["target_id"] == "dai"]
    assert json.loads(added["after"])["has_password"] is False and "setup_link_expires" in added["after"]

    visitor = app.test_client()
    page = visitor.get(path)
    assert page.status_code == 200 and "Choose your password" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    assert visitor.post(path, data={"password": CHOSEN_PASSWORD, "password2": CHOSEN_PASSWORD}).status_code == 400
    assert choose_password(app, path, CHOSEN_PASSWORD, again="other").status_code == 422
    short = choose_password(app, path, "short")
    assert short.status_code == 422 and "at least 10 characters" in short.get_data(as_text=True)
    done = choose_password(app, path, CHOSEN_PASSWORD)
    assert done.status_code == 302 and done.headers["Location"] == "/sign-in"
    assert can_sign_in(app, "dai", CHOSEN_PASSWORD)
    [used] = audit_rows(tmp_path, "account.setup_done")
    assert used["actor"] == "dai" and json.loads(used["after"])["has_password"] is True

    again = app.test_client().get(path)
    assert again.status_code == 410 and "already been used" in again.get_data(as_text=True)
    assert choose_password(app, path, "a takeover attempt").status_code == 410
    assert can_sign_in(app, "dai", CHOSEN_PASSWORD) and not can_sign_in(app, "dai", "a takeover attempt")


def test_an_expired_link_fails_and_changes_nothing(app: Flask, tmp_path: Path) -> None:
    db = open_local(tmp_path)
    _account, token = accounts.add_with_setup_link(db, "erin", "staff", actor="test")
    db.execute("update setup_links set expires_at = '2020-01-01T00:00:00+00:00'")
    db.close()
    response = app.test_client().get(f"/setup/{token}")
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    assert choose_password(app, f"/setup/{token}", CHOSEN_PASSWORD).status_code == 410
    assert not can_sign_in(app, "erin", CHOSEN_PASSWORD) and audit_rows(tmp_path, "account.setup_done") == []


def test_a_wrong_token_fails(app: Flask, tmp_path: Path) -> None:
    db = open_local(tmp_path)
    _account, token = accounts.add_with_setup_link(db, "erin", "staff", actor="test")
    db.close()
    for wrong in (token[:-1], "x" * 500, "nothing"):
        response = app.test_client().get(f"/setup/{wrong}")
        assert response.status_code == 404 and "not known" in response.get_data(as_text=True)
        assert choose_password(app, f"/setup/{wrong}", CHOSEN_PASSWORD).status_code == 404
    assert not can_sign_in(app, "erin", CHOSEN_PASSWORD)


def test_a_new_link_replaces_the_old_one_and_disabling_ends_it(app: Flask, admin: FlaskClient, tmp_path: Path) -> None:
    bo_id = account_id(tmp_path, "bo")
    first = post(admin, f"/admin/accounts/{bo_id}/password", by="link", password="", password2="")
    assert first.status_code == 200
    assert not can_sign_in(app, "bo", PASSWORD), "a reset by link takes the old password away"
    second = post(admin, f"/admin/accounts/{bo_id}/password", by="link")
    assert app.test_client().get(link_path(first.get_data(as_text=True))).status_code == 410
    assert app.test_client().get(link_path(second.get_data(as_text=True))).status_code == 200
    post(admin, f"/admin/accounts/{bo_id}/disable")
    assert app.test_client().get(link_path(second.get_data(as_text=True))).status_code in (404, 410)


def test_the_staff_role_gets_403_on_every_admin_page(app: Flask, tmp_path: Path) -> None:
    bo = signed_in(app, "bo")
    anna_id = account_id(tmp_path, "anna")
    token = csrf_token(bo, "/sign-in")
    for path in ("/admin/", "/admin/accounts", "/admin/accounts/new", f"/admin/accounts/{anna_id}/password",
                 "/admin/audit", "/admin/audit?page=2", "/admin/audit.csv"):  # fmt: skip
        assert bo.get(path).status_code == 403, path
    for path in ("/admin/accounts/new", f"/admin/accounts/{anna_id}/password", f"/admin/accounts/{anna_id}/disable",
                 f"/admin/accounts/{anna_id}/enable"):  # fmt: skip
        fields = {"name": "mallory", "role": "admin", "by": "link", "csrf_token": token}
        assert bo.post(path, data=fields).status_code == 403, path
    assert can_sign_in(app, "anna", PASSWORD) and len(audit_rows(tmp_path, "account.add")) == 2
    anonymous = app.test_client()
    response = anonymous.get("/admin/audit.csv")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


def test_every_admin_form_needs_its_csrf_token(admin: FlaskClient, tmp_path: Path) -> None:
    bo_id = account_id(tmp_path, "bo")
    for path in ("/admin/accounts/new", f"/admin/accounts/{bo_id}/password", f"/admin/accounts/{bo_id}/disable",
                 f"/admin/accounts/{bo_id}/enable"):  # fmt: skip
        fields = {"name": "mallory", "role": "admin", "by": "link", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}
        assert admin.post(path, data=fields).status_code == 400, path
        assert admin.post(path, data={**fields, "csrf_token": "forged"}).status_code == 400, path
    assert len(audit_rows(tmp_path)) == 2, "nothing changed"


def test_the_audit_log_page_is_newest_first_and_paged(admin: FlaskClient, tmp_path: Path) -> None:
    post(admin, f"/admin/accounts/{account_id(tmp_path, 'bo')}/disable")
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert page.index("account.disable") < page.index("account.add"), "newest first"
    assert re.search(r"<dt[^>]*>disabled</dt><dd[^>]*>no</dd>", page) and re.search(r"<dd[^>]*>yes</dd>", page)
    assert "by anna" in page
    db = open_local(tmp_path)
    for number in range(120):
        audit.record(db, "test", f"test.entry{number:03d}", "thing", str(number), reason="一条理由")
    db.close()
    first = admin.get("/admin/audit").get_data(as_text=True)
    assert first.count('<li class="staff-item">') == 50 and "test.entry119" in first and "test.entry069" not in first
    assert "Page 1 of 3" in first and "一条理由" in first
    last = admin.get("/admin/audit?page=3").get_data(as_text=True)
    assert last.count('<li class="staff-item">') == 123 - 100 and "account.add" in last
    assert "Page 3 of 3" in admin.get("/admin/audit?page=99").get_data(as_text=True)


def test_the_audit_log_exports_as_csv_that_excel_opens_safely(admin: FlaskClient, tmp_path: Path) -> None:
    post(admin, "/admin/accounts/new", name="王芳", role="staff", by="link")
    post(admin, "/admin/accounts/new", name='=HYPERLINK("http://x")', role="staff", by="link")
    db = open_local(tmp_path)
    for reason in ("+1", "-1", "@SUM(A1)", "\tx", "\rx", "fine = fine"):
        audit.record(db, "test", "test.reason", reason=reason)
    db.close()
    response = admin.get("/admin/audit.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), "the BOM"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["id", "at", "actor", "action", "target_kind", "target_id", "before", "after", "reason"]
    assert len(rows) == 1 + len(audit_rows(tmp_path)) and rows[1][3] == "account.add", "oldest first"
    targets = [row[5] for row in rows[1:]]
    assert "王芳" in targets and '\'=HYPERLINK("http://x")' in targets
    assert '=HYPERLINK("http://x")' not in targets
    assert any('"name": "王芳"' in row[7] for row in rows), "before/after whole, Chinese intact"
    reasons = [row[8] for row in rows if row[3] == "test.reason"]
    assert reasons == ["'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "fine = fine"]


def test_kiosk_staff_add_link_prints_a_link_that_works(app: Flask, tmp_path: Path) -> None:
    env = {"KIOSK_DEFAULT_LOCALE": "en", "KIOSK_STAFF_HOST": "192.168.1.20", "KIOSK_STAFF_PORT": "8099"}
    runner = CliRunner(env=env)
    added = runner.invoke(main, ["staff", "add", "fang", "--link", "--data", str(tmp_path)])  # no input: no prompt
    assert added.exit_code == 0, added.output
    assert "Account fang (staff) created." in added.output and "works once, within 24 hours" in added.output
    match = re.search(r"^http://192\.168\.1\.20:8099(/setup/[A-Za-z0-9_-]{43,})$", added.output, re.MULTILINE)
    assert match is not None, added.output
    assert app.test_client().get(match.group(1)).status_code == 200
    assert choose_password(app, match.group(1), CHOSEN_PASSWORD).status_code == 302
    assert can_sign_in(app, "fang", CHOSEN_PASSWORD)
    both = runner.invoke(main, ["staff", "add", "gao", "--link", "--password", NEW_PASSWORD, "--data", str(tmp_path)])
    assert both.exit_code == 2 and "not both" in both.output
    prompted = runner.invoke(main, ["staff", "add", "gao", "--data", str(tmp_path)],
                             input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")  # fmt: skip
    assert prompted.exit_code == 0 and can_sign_in(app, "gao", NEW_PASSWORD)


def test_hostile_text_from_any_field_is_inert_on_the_admin_pages(admin: FlaskClient, tmp_path: Path) -> None:
    from datetime import datetime

    from kiosk.data import notices

    payload = "<script>alert(1)</script>"
    db = open_local(tmp_path)
    accounts.add(db, payload, "staff", "a perfectly long password", actor="anna")
    fields = {"domain": "village", "title": payload, "body": payload, "published": "2026-11-01"}
    notice_id = notices.create(db, payload, fields, datetime(2026, 11, 2), publish=True)
    notices.withdraw(db, "anna", notice_id, datetime(2026, 11, 3), reason=payload, calendar=MONDAY_TO_FRIDAY)
    db.close()
    for path in ("/admin/accounts", "/admin/audit"):
        page = admin.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "&lt;script&gt;" in page, path
    csv_text = admin.get("/admin/audit.csv").get_data(as_text=True)
    assert payload in csv_text, "the export keeps the text as it was typed (a CSV is not a page)"
