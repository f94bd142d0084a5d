"""`kiosk county migrate-db --to URL`: a county moves from its county.db to PostgreSQL whole, once (issue 18)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from kiosk.cli import main
from kiosk.county import create_county_app, postgres
from kiosk.county import store as county_store
from kiosk.data import accounts
from tests.county_repo import VILLAGE, CountyRepo
from tests.test_dashboard import enrolled_kiosk, rating
from tests.test_staff import PASSWORD, sign_in

PAGES = ("/dashboard/", "/dashboard/feedback?from=2026-11-01&to=2026-11-30", "/admin/accounts", "/admin/audit")


def migrate(data: Path, url: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["county", "migrate-db", "--to", url, "--data", str(data)],
                                env={"KIOSK_DEFAULT_LOCALE": "en"})  # fmt: skip
    return result.exit_code, result.output


def dashboard(app: Flask) -> dict[str, str]:
    """The dashboard's pages as the officer sees them, without what changes with each request (the CSRF token)."""
    client = app.test_client()
    assert sign_in(client, "officer", PASSWORD).status_code == 302
    return {path: re.sub(r'value="[^"]{40,}"', "", client.get(path).get_data(as_text=True)) for path in PAGES}


def test_a_county_moves_to_postgresql_whole_and_its_dashboard_reads_the_same(
    county_repo: CountyRepo, tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KIOSK_COUNTY_DATABASE_URL", raising=False)
    data = tmp_path / "county"
    db = county_store.open_store(data)
    accounts.add(db, "officer", "admin", PASSWORD, actor="test", roles=accounts.COUNTY_ROLES)
    kiosk, other = enrolled_kiosk(db), enrolled_kiosk(db, "liutang")
    for n in range(30):
        rating(db, kiosk if n % 3 else other, f"r{n}", f"2026-11-{n % 28 + 1:02d}", n % 5 + 1, reasons=["quick"])
    county_store.record_report(db, kiosk, {"app_version": "0.1.0", "content_version": 4, "disk_free_bytes": 5 << 30})
    counts = {table: db.execute(f"select count(*) from {table}").fetchone()[0]  # noqa: S608 - the tests' own names
              for table in ("kiosks", "accounts", "audit_log", "uploads", "rating_counts", "reports")}  # fmt: skip
    db.close()
    config = {"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(data), "SECRET_KEY": "m",
              "DEFAULT_LOCALE": "en"}  # fmt: skip
    before = dashboard(create_county_app(config))

    code, output = migrate(data, postgres_url)
    assert code == 0, output
    assert "kiosks: 2 rows" in output and "Set KIOSK_COUNTY_DATABASE_URL" in output
    moved = postgres.connect(postgres_url)
    try:
        for table, count in counts.items():
            assert [tuple(r) for r in moved.execute(f"select count(*) from {table}")] == [(count,)], table  # noqa: S608
    finally:
        moved.close()
    after = dashboard(create_county_app({**config, "COUNTY_DATABASE_URL": postgres_url}))
    assert after == before, "the dashboard reads the same from PostgreSQL"

    monkeypatch.setenv("KIOSK_COUNTY_DATABASE_URL", postgres_url)
    shared = county_store.open_store(data)
    try:
        new_id, _code = county_store.add_kiosk(shared, VILLAGE)
        assert new_id == 3, "the ids go on from the highest moved"
    finally:
        shared.close()
    code, output = migrate(data, postgres_url)
    assert code != 0 and "already holds rows" in output and "nothing was written" in output
    assert (data / county_store.FILE).is_file(), "county.db stays where it was"


def test_a_folder_without_county_db_or_a_url_that_is_not_postgresql_is_refused(tmp_path: Path) -> None:
    code, output = migrate(tmp_path, "postgresql://nobody@127.0.0.1:1/none")
    assert code != 0 and "holds no county.db" in output
    code, output = migrate(tmp_path, "sqlite:///county.db")
    assert code != 0 and "must be a PostgreSQL URL" in output
