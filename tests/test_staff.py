"""The staff console's door: accounts, signing in, CSRF, throttling, lockout, idle sessions."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from kiosk.cli import main
from kiosk.data import accounts, sign_in_tries
from kiosk.data.local_db import open_local, path_of
from kiosk.screens import create_app
from kiosk.staff import create_staff_app
from kiosk.staff.limiter import limiter, parse_rule

PASSWORD = "correct horse battery"


@pytest.fixture()
def staff_app(tmp_path: Path) -> Iterator[Flask]:
    config = {"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "staff-test", "DEFAULT_LOCALE": "en"}
    app = create_staff_app(config)
    db = open_local(tmp_path)
    accounts.add(db, "anna", "admin", PASSWORD, actor="test")
    accounts.add(db, "bo", "staff", PASSWORD + "!", actor="test")
    db.close()
    yield app


@pytest.fixture()
def client(staff_app: Flask) -> FlaskClient:
    return staff_app.test_client()


def csrf_token(client: FlaskClient, path: str = "/sign-in") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page)
    assert match is not None, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def sign_in(client: FlaskClient, name: str = "anna", password: str = PASSWORD, **extra: str) -> TestResponse:
    return client.post("/sign-in", data={"name": name, "password": password, "csrf_token": csrf_token(client), **extra})


def test_staff_add_asks_for_the_password_and_keeps_only_an_argon2_hash(tmp_path: Path) -> None:
    runner = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"})
    added = runner.invoke(main, ["staff", "add", "chen", "--role", "admin", "--data", str(tmp_path)],
                          input="a good long password\na good long password\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Account chen (admin) created." in added.output and "a good long password" not in added.output
    with sqlite3.connect(path_of(tmp_path)) as db:
        stored = db.execute("select password_hash from accounts where name = 'chen'").fetchone()[0]
    assert stored.startswith("$argon2id$") and "m=65536" in stored, "memory-hard: 64 MiB per hash"
    assert b"a good long password" not in path_of(tmp_path).read_bytes()
    listed = runner.invoke(main, ["staff", "list", "--data", str(tmp_path)])
    assert "chen\tadmin" in listed.output


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [("dai", "short", "at least 10 characters"), ("anna", "another good one", "already an account named anna"),
     ("abcdefghijk", "abcdefghijk", "must not be the account name")],
)  # fmt: skip
def test_bad_accounts_are_refused_clearly(
    staff_app: Flask, tmp_path: Path, name: str, password: str, message: str
) -> None:
    runner = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"})
    added = runner.invoke(main, ["staff", "add", name, "--data", str(tmp_path)], input=f"{password}\n{password}\n")
    assert added.exit_code != 0 and message in added.output


def test_every_page_needs_a_signed_in_account(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?next=/")


def test_sign_in_and_out(client: FlaskClient) -> None:
    response = sign_in(client)
    assert response.status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert "anna" in home
    cookie = client.get_cookie("kiosk_staff")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    out = client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    assert out.status_code == 302 and client.get("/").status_code == 302


def test_a_wrong_password_keeps_the_name_typed_and_says_nothing_about_which_was_wrong(client: FlaskClient) -> None:
    wrong = sign_in(client, password="not the password")
    unknown = sign_in(client, name="nobody", password="not the password")
    for response in (wrong, unknown):
        body = response.get_data(as_text=True)
        assert response.status_code == 401
        assert "account name or the password is wrong" in body
        assert "not the password" not in body, "the password is never sent back"
    assert 'value="anna"' in wrong.get_data(as_text=True)


def test_a_form_without_a_valid_csrf_token_is_refused(client: FlaskClient) -> None:
    assert client.post("/sign-in", data={"name": "anna", "password": PASSWORD}).status_code == 400
    forged = client.post("/sign-in", data={"name": "anna", "password": PASSWORD, "csrf_token": "forged"})
    assert forged.status_code == 400
    assert client.get("/").status_code == 302, "not signed in"


def test_an_account_locks_after_five_wrong_passwords(client: FlaskClient, tmp_path: Path) -> None:
    for _attempt in range(accounts.MAX_FAILURES - 1):
        assert sign_in(client, password="guess").status_code == 401
    locked = sign_in(client, password="guess")
    assert "locked for 15 more minutes" in locked.get_data(as_text=True)
    right = sign_in(client)
    assert right.status_code == 401 and "locked" in right.get_data(as_text=True)
    other = sign_in(client, name="bo", password=PASSWORD + "!")
    assert other.status_code == 302, "other accounts are not locked"
    with sqlite3.connect(path_of(tmp_path)) as db:
        assert db.execute("select count(*) from audit_log where action = 'account.locked'").fetchone()[0] == 1


def test_guessing_is_throttled_per_address(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten tries in any minute, fifty in any hour, per address; a refused try says when to come back."""
    clock = [1000.0]
    monkeypatch.setattr(limiter, "clock", lambda: clock[0])
    answers = [sign_in(client, name=f"nobody{n}", password="guess") for n in range(12)]
    assert [a.status_code for a in answers[:10]] == [401] * 10 and [a.status_code for a in answers[10:]] == [429, 429]
    assert answers[10].headers["Retry-After"] == "60"
    clock[0] += 45
    assert sign_in(client, password="guess").headers["Retry-After"] == "15", "a moving window: the first try's minute"
    other = client.post("/sign-in", environ_base={"REMOTE_ADDR": "192.0.2.7"},
                        data={"name": "anna", "password": PASSWORD, "csrf_token": csrf_token(client)})  # fmt: skip
    assert other.status_code == 302, "another address is not held back"
    for _minute in range(4):  # forty more tries over four minutes: fifty in all
        clock[0] += 61
        assert [sign_in(client, name="nobody", password="guess").status_code for _ in range(10)] == [401] * 10
    clock[0] += 61
    held = sign_in(client, name="nobody", password="guess")
    assert held.status_code == 429, "fifty in the hour"
    assert held.headers["Retry-After"] == str(1000 + 3600 - int(clock[0])), "the first of fifty leaves"


def test_a_rate_limit_is_read_or_refused_and_its_tries_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert parse_rule("10 per minute;50 per hour") == [(10, 60), (50, 3600)]
    for bad in ("10 a minute", "0 per minute", "10 per minute;", "ten per hour"):
        with pytest.raises(ValueError, match="not a rate limit"):
            parse_rule(bad)
    db = open_local(tmp_path)
    monkeypatch.setattr(sign_in_tries, "MAX_KEPT", 100)
    for n in range(250):  # an attacker with many addresses
        assert sign_in_tries.take(db, "sign_in", f"10.0.{n // 256}.{n % 256}", [(1, 60)], 5.0 + n / 1000) is None
    kept = [row[0] for row in db.execute("select address from sign_in_tries order by at")]
    assert kept == [f"10.0.0.{n}" for n in range(150, 250)], "the oldest tries are forgotten"
    assert sign_in_tries.take(db, "sign_in", "10.0.0.249", [(1, 60)], 6.0) == 60
    assert sign_in_tries.take(db, "sign_in", "10.0.0.249", [(1, 60)], 5.25 + 60) is None, "a minute later"
    later = 5.25 + 60 + sign_in_tries.LONGEST + 1
    assert sign_in_tries.take(db, "sign_in", "10.0.0.1", [(1, 60)], later) is None
    assert db.execute("select count(*) from sign_in_tries").fetchone()[0] == 1, "a day later, the old ones are gone"
    db.close()


def test_an_idle_session_ends(staff_app: Flask, client: FlaskClient) -> None:
    sign_in(client)
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - staff_app.config["STAFF_IDLE_MINUTES"] * 60 - 1
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    assert "signed out after a while" in client.get("/sign-in").get_data(as_text=True)


def test_sign_in_goes_back_only_to_a_page_of_the_console(client: FlaskClient) -> None:
    for target, expected in (("/", "/"), ("https://evil.example/", "/"), ("//evil.example", "/")):
        client.post("/sign-out", data={"csrf_token": csrf_token(client)})
        response = client.post(f"/sign-in?next={target}", data={"name": "anna", "password": PASSWORD,
                                                                  "csrf_token": csrf_token(client)})  # fmt: skip
        assert response.headers["Location"] == expected


def test_the_villager_screens_have_no_staff_pages(tmp_path: Path) -> None:
    villager = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "x"}).test_client()
    for path in ("/sign-in", "/sign-out", "/staff", "/notices/new"):
        assert villager.get(path).status_code in (404, 503), path


def test_the_audit_log_is_append_only(staff_app: Flask, tmp_path: Path) -> None:
    db = open_local(tmp_path)
    assert db.execute("select count(*) from audit_log where action = 'account.add'").fetchone()[0] == 2
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("update audit_log set actor = 'someone else'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("delete from audit_log")
    db.close()


def test_the_console_speaks_chinese_by_default_and_english_on_request(tmp_path: Path) -> None:
    client = create_staff_app({"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "t"}).test_client()
    assert "登录" in client.get("/sign-in").get_data(as_text=True)
    switched = client.get("/kiosk/lang/en?next=/sign-in")  # the kiosk's own switch, on the console's session
    assert switched.status_code == 302 and switched.headers["Location"] == "/sign-in"
    assert "Sign in" in client.get("/sign-in").get_data(as_text=True)
    assert client.get("/kiosk/lang/fr").status_code == 404


def test_kiosk_serve_runs_the_console_on_its_own_port(tmp_path: Path) -> None:
    from kiosk.demo import install_demo

    install_demo(tmp_path)
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    env = {**os.environ, "KIOSK_PORT": str(ports[0]), "KIOSK_STAFF_PORT": str(ports[1]), "KIOSK_SYNC_NIGHTLY": "0"}
    server = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "serve", "--data", str(tmp_path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        screens, console = (f"http://127.0.0.1:{port}" for port in ports)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{console}/sign-in", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "kiosk serve did not start"
                time.sleep(0.2)
        with urllib.request.urlopen(f"{screens}/", timeout=5) as home:
            assert home.status == 200 and "staff" not in home.read().decode()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{screens}/sign-in", timeout=5)
        assert missing.value.code == 404, "the villager port has no staff pages"
        missing.value.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
        assert server.stdout is not None
        server.stdout.close()
