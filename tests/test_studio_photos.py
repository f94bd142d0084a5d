"""Photos on a notice in the studio: a clerk sends a phone photo with the form; it is cleaned (no GPS), kept
out of the content folder until the draft is approved, then written into media/ and recorded with the
notice; what is not a photo is refused at the field, and the draft keeps everything else."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import TestResponse, encode_multipart

from kiosk.county import REQUEST_BYTES
from kiosk.county.store import open_store
from sync.authoring.history import History
from sync.contract.content import load_county
from tests.county_repo import CountyRepo
from tests.test_photos import encoded, noisy_jpeg, phone_exif, red_left_blue_right
from tests.test_staff import csrf_token
from tests.test_studio import form_of, form_of_page, signed, studio  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

NOTICE = "caiwu-2026-10-taoyuan"


def save_notice(client: FlaskClient, typed: dict[str, str], photos: list[tuple[bytes, str]]) -> TestResponse:
    """Save the notice's form as it shows, with *typed* changed and *photos* (bytes, file name) sent with it."""
    fields = form_of(client, f"/studio/notices/{NOTICE}")
    sent = [(io.BytesIO(data), name) for data, name in photos]
    token = csrf_token(client, "/studio/notices")
    return client.post("/studio/notices/save", content_type="multipart/form-data",
                       data={**fields, **typed, "csrf_token": token, "new_photos": sent})  # fmt: skip


def _drafts(app: Flask) -> list[str]:
    db = open_store(Path(app.config["DATA_DIR"]))
    try:
        return [row[0] for row in db.execute("select content from studio_changes order by id")]
    finally:
        db.close()


def test_a_phone_photo_sent_with_a_notice_is_cleaned_kept_apart_and_recorded_when_approved(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang, li = signed(studio, "wang"), signed(studio, "li")
    media_before = sorted(p.name for p in (county_repo.content / "media").iterdir())
    photo = encoded(red_left_blue_right(), "JPEG", exif=phone_exif())
    assert b"WHEREABOUTS" in photo
    saved = save_notice(wang, {"reason": "附公开栏照片", "submit": "1"}, [(photo, "IMG_0001.JPG")])
    assert saved.status_code == 302, saved.text
    [draft] = _drafts(studio)
    [ref] = re.findall(r"media/[0-9a-f]{64}\.jpg", draft)
    assert sorted(p.name for p in (county_repo.content / "media").iterdir()) == media_before, "nothing in the folder"

    shown = wang.get(f"/studio/photos/{ref.removeprefix('media/')}")
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    assert b"WHEREABOUTS" not in shown.data and b"SnoopCam" not in shown.data, "no location or camera data"
    assert Image.open(io.BytesIO(shown.data)).size == (400, 200)
    shown.close()
    form = wang.get(f"/studio/notices/{NOTICE}").text
    assert f'name="photo" value="{ref}" checked' in form, "the form shows the photo, kept"

    [change_id] = re.findall(r"/studio/changes/(\d+)", li.get("/studio/").text)
    approved = li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")})
    assert approved.status_code == 302
    assert (county_repo.content / ref).read_bytes() == shown.data
    latest = History(county_repo.content).log(limit=1)[0]
    assert latest.author == "wang" and not History(county_repo.content).status(), "the photo recorded with it"
    [notice] = [n for n in load_county(county_repo.content).notices if n["id"] == NOTICE]
    assert ref in notice["photos"], "the folder validates, and the notice shows the photo"


def test_what_is_not_a_photo_is_refused_at_the_field_and_the_rest_is_saved(
    studio: Flask,  # noqa: F811
) -> None:
    wang = signed(studio, "wang")
    answer = save_notice(wang, {"title": "桃源村2026年10月财务收支公开（更正）"},
                         [(b"<svg onload=alert(1)>", "x.jpg"), (noisy_jpeg(), "ok.jpg")])  # fmt: skip
    assert answer.status_code == 422
    assert 'id="photos-error"' in answer.text and "x.jpg is a SVG picture" in answer.text
    [draft] = _drafts(studio)
    assert "（更正）" in draft and len(re.findall(r"media/[0-9a-f]{64}\.jpg", draft)) == 1, "the good photo kept"

    hostile = wang.get("/studio/photos/..%2Fcounty.yaml")
    assert hostile.status_code == 404
    save_notice(wang, {"photo": "media/../county.yaml"}, [])
    assert "county.yaml" not in _drafts(studio)[0].split("---")[1], "a photo the folder lacks is not kept"


def test_only_a_notice_form_takes_a_body_past_the_common_cap(studio: Flask) -> None:  # noqa: F811
    wang = signed(studio, "wang")
    token = csrf_token(wang, "/studio/notices")
    big = b"\xff\xd8\xff" + b"\0" * (REQUEST_BYTES + 1024)
    boundary, body = encode_multipart(
        MultiDict(
            {"csrf_token": token, "path": "", "title": "大", "new_photos": FileStorage(io.BytesIO(big), "big.jpg")}
        )
    )  # built here in memory: the test client would spool it to a file it never closes
    on_notice = wang.post("/studio/notices/save", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert on_notice.status_code == 422, "read, and refused as a photo, not as a request"
    on_power = wang.post("/studio/powers/save", data=b"a=" + b"x" * (REQUEST_BYTES + 1024),
                         content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert on_power.status_code == 413


def test_a_notice_draft_with_its_photo_and_a_contacts_draft_are_previewed_on_the_kiosk_and_the_phone(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang = signed(studio, "wang")
    saved = save_notice(wang, {"title": "桃源村2026年10月财务收支公开（预览）"}, [(noisy_jpeg(), "board.jpg")])
    assert saved.status_code == 302
    [change_id] = re.findall(r"/studio/changes/(\d+)", wang.get("/studio/").text)
    chooser = wang.get(f"/studio/preview/{change_id}").text
    frame = re.search(r'<iframe class="kiosk-frame" src="([^"]+)"', chooser)
    assert frame is not None and frame.group(1).endswith(f"/notice/{NOTICE}"), "it opens on the notice"
    page = wang.get(frame.group(1)).get_data(as_text=True)
    assert "（预览）" in page
    [photo] = re.findall(r'src="(/studio/preview/[^"]+/media/[0-9a-f]{64}\.jpg)"', page)
    shown = wang.get(photo)
    assert shown.status_code == 200 and Image.open(io.BytesIO(shown.data)).format == "JPEG", "the draft's own photo"
    shown.close()

    phone_chooser = wang.get(f"/studio/preview/{change_id}?village=taoyuan&screen=phone").text
    phone_frame = re.search(r'<iframe class="phone-frame" src="([^"]+)"', phone_chooser)
    assert phone_frame is not None and phone_frame.group(1).endswith(f"/m/taoyuan/notice/{NOTICE}")
    phone_page = wang.get(phone_frame.group(1))
    phone_text = phone_page.get_data(as_text=True)
    assert phone_page.status_code == 200 and "（预览）" in phone_text
    assert f'href="/studio/preview/phone/{change_id}/static/' in phone_text, "its stylesheet stays in the preview"
    assert wang.get(f"/studio/preview/phone/{change_id}/m/taoyuan/").status_code == 200

    contacts = form_of_page(wang, "/studio/county/contacts")
    [name_field] = [name for name, value in contacts.items() if name.endswith(".name") and value][:1]
    contacts[name_field] = "县纪委监委信访室（预览）"
    token = csrf_token(wang, "/studio/county/contacts")
    assert wang.post("/studio/county/contacts", data={**contacts, "csrf_token": token}).status_code == 302
    [contacts_change] = [c for c in re.findall(r"/studio/changes/(\d+)", wang.get("/studio/").text) if c != change_id]
    kiosk_contacts = wang.get(f"/studio/preview/{contacts_change}/taoyuan/contacts").get_data(as_text=True)
    assert "县纪委监委信访室（预览）" in kiosk_contacts, "the contacts draft on the kiosk's contacts page"
    assert "（预览）" not in (county_repo.content / "contacts.yaml").read_text(encoding="utf-8")
