"""The official calendar in the studio: a year made from the holidays package with a button becomes a draft
(never a file at once), is corrected by hand in its form and approved like the county's other files; a
date that does not exist, or a make-up working day on a weekday, is refused at its field; only accounts
of the whole county see it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from kiosk.county.store import open_store
from sync.contract.content import load_county
from tests.county_repo import CountyRepo
from tests.test_staff import csrf_token
from tests.test_studio import form_of_page, signed, studio  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL


def _make(client: FlaskClient, year: int, statutory_only: bool = False) -> TestResponse:
    data = {"year": str(year), "csrf_token": csrf_token(client, "/studio/")}
    return client.post(
        "/studio/county/calendar/make", data={**data, **({"statutory_only": "1"} if statutory_only else {})}
    )


def _save(client: FlaskClient, year: int, fields: dict[str, str]) -> TestResponse:
    page = f"/studio/county/calendar/{year}"
    return client.post(page, data={**fields, "csrf_token": csrf_token(client, page)})


def _changes(app: Flask) -> list[tuple[str, str, str]]:
    db = open_store(Path(app.config["DATA_DIR"]))
    try:
        return [tuple(row) for row in db.execute("select path, state, content from studio_changes order by id")]
    finally:
        db.close()


def test_making_2027_from_the_package_gives_a_draft_corrected_in_its_form_and_approved(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang, li = signed(studio, "wang"), signed(studio, "li")
    file = county_repo.content / "calendar" / "2027.yaml"
    before = file.read_text(encoding="utf-8")
    years = wang.get("/studio/county/calendar").text
    assert 'href="/studio/county/calendar/2026"' in years and 'href="/studio/county/calendar/2027"' in years
    assert "only the holidays the law fixes" in years, "2027 is the statutory holidays only"

    refused = wang.get(_make(wang, 2027).headers["Location"]).text
    assert "does not have 国务院办公厅关于2027年部分节假日安排的通知" in refused, "the package has no 2027 notice yet"
    assert _changes(studio) == []
    made = _make(wang, 2027, statutory_only=True)
    assert made.headers["Location"].endswith("/studio/county/calendar/2027")
    [(path, state, content)] = _changes(studio)
    assert (path, state) == ("calendar/2027.yaml", "draft") and "statutory_only: true" in content
    assert file.read_text(encoding="utf-8") == before, "a draft: the folder's year is untouched"

    fields = form_of_page(wang, "/studio/county/calendar/2027")
    assert fields["year"] == "2027" and fields["statutory_only"] == "on"
    [national] = [name.rsplit(".", 1)[0] for name, value in fields.items() if value == "国庆节"]
    assert fields[f"{national}.first"] == "2027-10-01" and fields[f"{national}.last"] == "2027-10-03"
    typed = {**fields, f"{national}.last": "2027-10-07", "reason": "按国务院通知", "submit": "1"}
    assert _save(wang, 2027, typed).status_code == 302
    [change_id] = re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)
    assert "last: 2027-10-07" in li.get(f"/studio/changes/{change_id}").text
    li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    [year] = [y for y in load_county(county_repo.content).calendar if y["year"] == 2027]
    assert {"name": "国庆节", "first": "2027-10-01", "last": "2027-10-07"} in year["holidays"]


def test_a_date_that_does_not_exist_or_a_weekday_worked_is_refused_at_its_field(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang = signed(studio, "wang")
    file = county_repo.content / "calendar" / "2026.yaml"
    before = file.read_text(encoding="utf-8")
    fields = form_of_page(wang, "/studio/county/calendar/2026")
    assert fields["checked"] == "on" and fields["working_days.0.date"]
    wrong = {**fields, "holidays.0.first": "2026-02-30", "working_days.0.date": "2026-10-08", "submit": "1"}
    answer = _save(wang, 2026, wrong)
    page = answer.text
    assert answer.status_code == 422
    assert re.search(r'id="holidays.0.first-error">2026-02-30 is not a date that exists<', page)
    assert re.search(r'id="working_days.0.date-error">2026-10-08 is a Thursday: a make-up working day', page)
    assert 'type="date" id="holidays.0.first"' in page, "a date is chosen on a calendar, not typed"
    assert re.search(r'name="working_days.0.date" value="2026-10-08"[^>]*>\s*<p class="field-help">Thursday<', page)
    draft = form_of_page(wang, "/studio/county/calendar/2026")  # the draft as saved, with its revision
    assert draft["holidays.0.first"] == "2026-02-30", "kept as typed, for the clerk to mend"
    unwritten = _save(wang, 2026, {**draft, "holidays.0.first": "2026-2-1", "working_days.0.date": "", "submit": "1"})
    assert 'id="holidays.0.first-error"' in unwritten.text
    assert {state for _path, state, _content in _changes(studio)} == {"draft"}, "never submitted"
    assert file.read_text(encoding="utf-8") == before


def test_a_new_year_is_made_as_a_draft_and_only_accounts_of_the_whole_county_see_the_calendar(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    sun = signed(studio, "sun")  # an editor of one township
    assert sun.get("/studio/county/calendar").status_code == 403
    assert sun.get("/studio/county/calendar/2028").status_code == 403
    assert _make(sun, 2028, statutory_only=True).status_code == 403
    wang, li = signed(studio, "wang"), signed(studio, "li")
    assert wang.get("/studio/county/calendar/1900").status_code == 404
    _make(wang, 2028, statutory_only=True)
    assert "a new year, not yet approved" in wang.get("/studio/county/calendar").text
    [change_id] = re.findall(r"/studio/changes/(\d+)", wang.get("/studio/").text)
    wang.post(f"/studio/changes/{change_id}/submit", data={"csrf_token": csrf_token(wang, "/studio/")})
    li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    assert (county_repo.content / "calendar" / "2028.yaml").is_file()
    assert 2028 in {year["year"] for year in load_county(county_repo.content).calendar}
