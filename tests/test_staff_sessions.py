"""A session ends for good: a copied cookie is worthless after sign-out or a new password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.county import create_county_app
from kiosk.county import store as county_store
from kiosk.data import accounts
from kiosk.data.local_db import open_local
from kiosk.staff import create_staff_app
from tests.county_repo import CountyRepo
from tests.test_staff import PASSWORD, csrf_token
from tests.test_staff_admin import NEW_PASSWORD, account_id, choose_password, link_path, post, signed_in


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[Flask]:
    config = {"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "session-test", "DEFAULT_LOCALE": "en"}
    app = create_staff_app(config)
    db = open_local(tmp_path)
    accounts.add(db, "anna", "admin", PASSWORD, actor="test")
    accounts.add(db, "bo", "staff", PASSWORD, actor="test")
    db.close()
    yield app


def stolen_cookie(client: FlaskClient, name: str = "kiosk_staff") -> str:
    cookie = client.get_cookie(name)
    assert cookie is not None, "signed in, so there is a session cookie"
    return cookie.value


def replayed(app: Flask, cookie: str, name: str = "kiosk_staff", page: str = "/") -> int:
    """Show *page* to someone else's browser carrying a copy of the cookie; return the status."""
    thief = app.test_client()
    thief.set_cookie(name, cookie)
    return thief.get(page).status_code


def test_a_copied_cookie_stops_working_when_its_owner_signs_out(app: Flask) -> None:
    bo = signed_in(app, "bo")
    copy = stolen_cookie(bo)
    assert replayed(app, copy) == 200, "while bo is signed in, the copy works (that is what a cookie is)"
    other_device = signed_in(app, "bo")

    out = bo.post("/sign-out", data={"csrf_token": csrf_token(bo, "/")})

    assert out.status_code == 302
    assert replayed(app, copy) == 302, "the copy is signed out with its owner"
    assert other_device.get("/").status_code == 302, "signing out ends every session of the account"
    assert signed_in(app, "anna").get("/").status_code == 200, "other accounts stay signed in"
    assert signed_in(app, "bo").get("/").status_code == 200, "and bo can sign in again"


def test_an_admins_password_reset_ends_every_session_of_the_account(app: Flask, tmp_path: Path) -> None:
    bo = signed_in(app, "bo")
    copy = stolen_cookie(bo)
    admin = signed_in(app, "anna")

    reset = post(admin, f"/admin/accounts/{account_id(tmp_path, 'bo')}/password", by="password",
                 password=NEW_PASSWORD, password2=NEW_PASSWORD)  # fmt: skip

    assert reset.status_code == 302
    assert replayed(app, copy) == 302 and bo.get("/").status_code == 302
    assert admin.get("/admin/accounts").status_code == 200, "the admin's own session goes on"
    assert signed_in(app, "bo", NEW_PASSWORD).get("/").status_code == 200


def test_a_set_up_link_ends_the_old_sessions_and_choosing_the_password_too(app: Flask, tmp_path: Path) -> None:
    bo = signed_in(app, "bo")
    copy = stolen_cookie(bo)
    admin = signed_in(app, "anna")
    page = post(admin, f"/admin/accounts/{account_id(tmp_path, 'bo')}/password", by="link")
    assert replayed(app, copy) == 302, "the password is taken away, and with it every session"
    assert choose_password(app, link_path(page.get_data(as_text=True)), NEW_PASSWORD).status_code == 302
    db = open_local(tmp_path)
    epochs = []
    for _step in range(2):
        epochs.append(db.execute("select session_epoch from accounts where name = 'bo'").fetchone()[0])
        token = accounts.issue_setup_link(db, account_id(tmp_path, "bo"), accounts.Account(0, "anna", "admin"))
        accounts.use_setup_link(db, token, NEW_PASSWORD + "!")
    db.close()
    assert epochs[1] == epochs[0] + 2, "taking the password away and choosing a new one each end the sessions"


def test_changing_ones_own_password_ends_the_other_sessions_and_keeps_this_one(app: Flask, tmp_path: Path) -> None:
    bo = signed_in(app, "bo")
    copy = stolen_cookie(bo)
    assert "Change my password" in bo.get("/").get_data(as_text=True)
    wrong = bo.post("/my-password", data={"current": "not it", "password": NEW_PASSWORD, "password2": NEW_PASSWORD,
                                          "csrf_token": csrf_token(bo, "/my-password")})  # fmt: skip
    assert wrong.status_code == 422 and "The current password is wrong." in wrong.get_data(as_text=True)
    assert replayed(app, copy) == 200, "nothing changed"

    token = csrf_token(bo, "/my-password")
    changed = bo.post("/my-password", data={"current": PASSWORD, "password": NEW_PASSWORD,
                                            "password2": NEW_PASSWORD, "csrf_token": token})  # fmt: skip

    assert changed.status_code == 302
    assert replayed(app, copy) == 302, "the copied cookie is signed out"
    assert "signed out now" in bo.get("/").get_data(as_text=True), "the owner's own session goes on"
    assert signed_in(app, "bo", NEW_PASSWORD).get("/").status_code == 200


def test_the_county_dashboard_ends_its_sessions_the_same_way(county_repo: CountyRepo, tmp_path: Path) -> None:
    data = tmp_path / "county-server"
    app = create_county_app({"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(data),
                             "SECRET_KEY": "c", "DEFAULT_LOCALE": "en"})  # fmt: skip
    db = county_store.open_store(data)  # the dashboard's accounts are in county.db
    accounts.add(db, "anna", "admin", PASSWORD, actor="test")
    bo = accounts.add(db, "bo", "staff", PASSWORD, actor="test")
    db.close()
    officer = signed_in(app, "bo")
    page = "/dashboard/"
    assert officer.get(page).status_code == 200
    copy = stolen_cookie(officer, "kiosk_county")

    officer.post("/sign-out", data={"csrf_token": csrf_token(officer, "/sign-in")})

    assert replayed(app, copy, "kiosk_county", page) == 302
    again = signed_in(app, "bo")
    copy = stolen_cookie(again, "kiosk_county")
    admin = signed_in(app, "anna")
    post(admin, f"/admin/accounts/{bo.id}/password", by="password", password=NEW_PASSWORD,
         password2=NEW_PASSWORD)  # fmt: skip
    assert replayed(app, copy, "kiosk_county", page) == 302
