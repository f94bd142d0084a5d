"""The staff console's notice pages through the test client: write, preview, publish, edit, withdraw."""

from __future__ import annotations

import io
import os
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import stream_encode_multipart

from kiosk.data import accounts
from kiosk.data.local_db import open_local
from kiosk.demo import install_demo
from kiosk.screens import create_app
from kiosk.staff import create_staff_app
from sync.contract.dates import local_now
from tests.test_screens import text_of
from tests.test_staff import PASSWORD, csrf_token

XSS = '<script>alert("x")</script>'


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    install_demo(tmp_path)
    db = open_local(tmp_path)
    accounts.add(db, "bo", "staff", PASSWORD, actor="test")
    db.close()
    return tmp_path


@pytest.fixture()
def staff(data: Path) -> FlaskClient:
    config = {"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "t", "DEFAULT_LOCALE": "en"}
    client = create_staff_app(config).test_client()
    client.post("/sign-in", data={"name": "bo", "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert client.get("/").status_code == 200
    return client


def villager(data: Path) -> FlaskClient:
    client = create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "x"}).test_client()
    client.get("/lang/en")
    return client


def form(client: FlaskClient, path: str, **fields: str) -> dict[str, Any]:
    today = local_now("Asia/Shanghai").date()
    base = {"domain": "village", "title": "关于村道维修的通知", "body": "本周六**维修**村道。", "expires": "",
            "published": f"{today - timedelta(days=1):%Y-%m-%d} 08:00", "min_posting_days": ""}  # fmt: skip
    return {**base, **fields, "csrf_token": csrf_token(client, path)}


def new_notice(client: FlaskClient, **fields: str) -> str:
    response = client.post("/notices/new", data=form(client, "/notices/new", **fields))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    match = re.match(r"/notices/([^/]+)/preview", response.headers["Location"])
    assert match is not None
    return match.group(1)


def test_write_preview_and_publish_a_notice(staff: FlaskClient, data: Path) -> None:
    notice_id = new_notice(staff)
    preview = staff.get(f"/notices/{notice_id}/preview")
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Draft: not on the kiosk yet." in body
    assert f'src="/notices/{notice_id}/preview/screen"' in body, "the kiosk's page, framed"
    screen = staff.get(f"/notices/{notice_id}/preview/screen").get_data(as_text=True)
    assert "<strong>维修</strong>" in screen and 'class="detail-body"' in screen, "the kiosk's own notice page"
    assert villager(data).get(f"/notice/{notice_id}").status_code == 404, "a draft is not on the kiosk"
    published = staff.post(f"/notices/{notice_id}/publish", data={"csrf_token": csrf_token(staff, "/notices/")})
    assert published.status_code == 302
    assert "关于村道维修的通知" in text_of(villager(data).get("/notices/village"))
    assert "published" in text_of(staff.get("/notices/"))


def test_the_preview_frame_answering_after_a_publish_does_not_lose_the_published_message(
    staff: FlaskClient, data: Path
) -> None:
    """On a slow kiosk board staff may tap 发布 while the preview's frame still loads. The frame was asked for
    with the session as it was; its answer, arriving after the publish's, must not put that session back (it
    carried no "Published" message, and the list then showed none)."""
    notice_id = new_notice(staff)
    assert staff.get(f"/notices/{notice_id}/preview").status_code == 200
    before = staff.get_cookie("kiosk_staff")
    assert before is not None
    token = csrf_token(staff, "/notices/")
    assert staff.post(f"/notices/{notice_id}/publish", data={"csrf_token": token}).status_code == 302
    published = staff.get_cookie("kiosk_staff")
    assert published is not None and published.value != before.value, "the message travels in the session"
    # The frame's request, sent before the publish with the session as it was, answered now.
    staff.set_cookie("kiosk_staff", before.value)
    frame = staff.get(f"/notices/{notice_id}/preview/screen")
    assert frame.status_code == 200 and "Set-Cookie" not in frame.headers, "the frame leaves the session alone"
    # And so do what the frame asks for after it: its stylesheet and scripts (found by their address), and
    # anything a browser says is a picture, a stylesheet or a frame (Sec-Fetch-Dest).
    html = frame.get_data(as_text=True)
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert any(".css" in a for a in assets) and any(".js" in a for a in assets), assets
    for asset in assets:
        with staff.get(asset) as answer:  # a file's answer: closed after
            assert answer.status_code == 200 and "Set-Cookie" not in answer.headers, asset
    for destination in ("image", "style", "script", "iframe"):
        answer = staff.get("/notices/", headers={"Sec-Fetch-Dest": destination})
        assert "Set-Cookie" not in answer.headers, destination
    staff.set_cookie("kiosk_staff", published.value)  # what the browser holds: the frame sent nothing to replace it
    listing = staff.get("/notices/").get_data(as_text=True)
    assert "Published: the notice is on the kiosk now." in listing
    assert "Set-Cookie" in staff.get("/notices/").headers, "other pages still slide the session's idle expiry"
    assert "Set-Cookie" in staff.get("/notices/", headers={"Sec-Fetch-Dest": "document"}).headers
    assert "Set-Cookie" in staff.get("/notices/", headers={"Sec-Fetch-Dest": "empty"}).headers, "a fetch() may sign out"


def test_a_form_that_fails_keeps_what_was_typed(staff: FlaskClient) -> None:
    fields = form(staff, "/notices/new", title="", body="写了很长的正文，不能丢。", expires="2020-01-01")
    response = staff.post("/notices/new", data=fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Give the notice a title." in page and "must come down after it goes up" in page
    assert "写了很长的正文，不能丢。" in page and 'value="2020-01-01"' in page


def test_hostile_text_is_inert_in_the_console_too(staff: FlaskClient) -> None:
    notice_id = new_notice(staff, title=XSS, body=XSS)
    for path in (
        "/notices/",
        f"/notices/{notice_id}/edit",
        f"/notices/{notice_id}/preview",
        f"/notices/{notice_id}/preview/screen",
    ):
        page = staff.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "&lt;script&gt;" in page, path


def test_withdrawing_inside_the_posting_period_asks_for_a_reason(staff: FlaskClient, data: Path) -> None:
    notice_id = new_notice(staff, min_posting_days="7")
    staff.post(f"/notices/{notice_id}/publish", data={"csrf_token": csrf_token(staff, "/notices/")})
    asked = staff.get(f"/notices/{notice_id}/withdraw").get_data(as_text=True)
    assert "needs a reason" in asked
    token = csrf_token(staff, f"/notices/{notice_id}/withdraw")
    refused = staff.post(f"/notices/{notice_id}/withdraw", data={"csrf_token": token, "reason": " "})
    assert refused.status_code == 422 and villager(data).get(f"/notice/{notice_id}").status_code == 200
    done = staff.post(f"/notices/{notice_id}/withdraw", data={"csrf_token": token, "reason": "内容有误"})
    assert done.status_code == 302 and villager(data).get(f"/notice/{notice_id}").status_code == 404


def test_notice_forms_without_a_csrf_token_are_refused(staff: FlaskClient) -> None:
    notice_id = new_notice(staff)
    fields = {"domain": "village", "title": "伪造", "body": "x", "published": "2026-11-01"}
    assert staff.post("/notices/new", data=fields).status_code == 400
    assert staff.post(f"/notices/{notice_id}/publish").status_code == 400
    assert staff.post(f"/notices/{notice_id}/withdraw", data={"reason": "x"}).status_code == 400


def test_notice_pages_need_a_signed_in_account(data: Path) -> None:
    client = create_staff_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "t"}).test_client()
    for path in ("/notices/", "/notices/new"):
        assert client.get(path).status_code == 302, path


def jpeg_with_gps() -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 28.0)}  # GPS: where it was taken
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 120, 40)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def test_a_photo_of_the_paper_notice_is_stored_without_its_location_and_shown(staff: FlaskClient, data: Path) -> None:
    fields: dict[str, object] = form(staff, "/notices/new")
    fields["new_photos"] = (io.BytesIO(jpeg_with_gps()), "IMG_0001.jpg")
    response = staff.post("/notices/new", data=fields, content_type="multipart/form-data")
    assert response.status_code == 302
    notice_id = response.headers["Location"].split("/")[2]
    staff.post(f"/notices/{notice_id}/publish", data={"csrf_token": csrf_token(staff, "/notices/")})
    page = villager(data).get(f"/notice/{notice_id}").get_data(as_text=True)
    blob = re.search(r'src="/media/([0-9a-f]{64}\.jpg)"', page)
    assert blob is not None, "the photo is on the kiosk's page"
    stored = (data / "local-media" / blob.group(1)).read_bytes()
    assert b"Exif" not in stored
    with villager(data).get(f"/media/{blob.group(1)}") as served:
        assert served.data == stored


def test_a_file_that_is_not_a_photo_is_refused_and_nothing_typed_is_lost(staff: FlaskClient) -> None:
    fields: dict[str, object] = form(staff, "/notices/new", body="正文保留")
    fields["new_photos"] = (io.BytesIO(b"MZ\x90\x00 not a photo at all"), "photo.jpg")
    response = staff.post("/notices/new", data=fields, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "photo.jpg is not a photo, or it is damaged." in page
    assert "正文保留" in page and "关于村道维修的通知" in page


def test_a_photo_already_sent_is_kept_when_the_form_fails(staff: FlaskClient) -> None:
    fields: dict[str, object] = form(staff, "/notices/new", title="")
    fields["new_photos"] = (io.BytesIO(jpeg_with_gps()), "IMG_0002.jpg")
    page = staff.post("/notices/new", data=fields, content_type="multipart/form-data").get_data(as_text=True)
    kept = re.search(r'name="photo" value="([0-9a-f]{64}\.jpg)" checked', page)
    assert kept is not None, "the stored photo comes back with the form, no need to choose it again"
    again = staff.post("/notices/new", data={**form(staff, "/notices/new"), "photo": kept.group(1)})
    assert again.status_code == 302


def test_an_oversized_photo_is_refused_saying_why(staff: FlaskClient) -> None:
    fields: dict[str, object] = form(staff, "/notices/new")
    fields["new_photos"] = FileStorage(io.BytesIO(b"\xff\xd8\xff\xe0" + b"\0" * 12_000_000), "huge.jpg")
    # Encoded in memory: the test client would spool a body this large to a file it never closes.
    body, length, boundary = stream_encode_multipart(MultiDict(fields), use_tempfile=False)
    response = staff.post("/notices/new", input_stream=body, content_length=length,
                          content_type=f'multipart/form-data; boundary="{boundary}"')  # fmt: skip
    assert response.status_code == 422
    assert "huge.jpg is larger than 12 MB: send a smaller photo." in response.get_data(as_text=True)


def test_a_picture_with_too_many_pixels_is_refused_saying_the_limit_and_nothing_typed_is_lost(
    staff: FlaskClient,
) -> None:
    from tests.test_photos import png_of_size

    fields: dict[str, object] = form(staff, "/notices/new", body="正文保留")
    fields["new_photos"] = (io.BytesIO(png_of_size(7_000, 7_000)), "scan.png")  # 49 M pixels in 11 KB
    response = staff.post("/notices/new", data=fields, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "scan.png has too many pixels: at most 40 million are taken." in page
    assert "正文保留" in page and "关于村道维修的通知" in page


def test_moving_the_publication_date_of_a_running_posting_asks_why_and_posts_it_again(
    staff: FlaskClient, data: Path
) -> None:
    notice_id = new_notice(staff, min_posting_days="7")
    staff.post(f"/notices/{notice_id}/publish", data={"csrf_token": csrf_token(staff, "/notices/")})
    edit = f"/notices/{notice_id}/edit"
    assert "takes it down early or shortens its public notice period" in staff.get(edit).get_data(as_text=True)
    next_week = f"{local_now('Asia/Shanghai').date() + timedelta(days=7):%Y-%m-%d} 08:00"

    refused = staff.post(edit, data=form(staff, edit, min_posting_days="7", published=next_week, body="改过的正文"))

    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "say why, as for a withdrawal" in page and "改过的正文" in page
    assert villager(data).get(f"/notice/{notice_id}").status_code == 200, "still on the kiosk"
    done = staff.post(edit, data=form(staff, edit, min_posting_days="7", published=next_week, reason="会议改期"))
    assert done.status_code == 302 and notice_id not in done.headers["Location"]
    preview = staff.get(done.headers["Location"]).get_data(as_text=True)
    assert "that posting is withdrawn with your reason" in preview
    assert "withdrawn" in text_of(staff.get("/notices/")) and "会议改期" in text_of(staff.get("/notices/"))


def aged(path: Path, days: float = 2) -> None:
    long_ago = time.time() - days * 24 * 3600
    os.utime(path, (long_ago, long_ago))


def test_photos_no_notice_uses_are_removed_after_a_day_and_those_in_use_stay(staff: FlaskClient, data: Path) -> None:
    media = data / "local-media"
    kept_photo = noisy_jpeg(1)
    fields: dict[str, object] = form(staff, "/notices/new")
    fields["new_photos"] = (io.BytesIO(kept_photo), "kept.jpg")
    notice_id = staff.post("/notices/new", data=fields, content_type="multipart/form-data").headers["Location"]
    in_use = {path.name for path in media.iterdir()}
    fields = form(staff, "/notices/new", title="")  # refused: and then never sent again
    fields["new_photos"] = (io.BytesIO(noisy_jpeg(2)), "abandoned.jpg")
    assert staff.post("/notices/new", data=fields, content_type="multipart/form-data").status_code == 422
    abandoned = {path.name for path in media.iterdir()} - in_use
    assert len(abandoned) == 1
    for path in media.iterdir():
        aged(path)
    fields = form(staff, "/notices/new", title="")  # a form being filled in now: its photo must stay
    fields["new_photos"] = (io.BytesIO(noisy_jpeg(3)), "in-progress.jpg")
    staff.post("/notices/new", data=fields, content_type="multipart/form-data")
    in_progress = {path.name for path in media.iterdir()} - in_use - abandoned

    assert new_notice(staff, title="另一条通知")  # any save prunes

    assert {path.name for path in media.iterdir()} == in_use | in_progress
    assert "/notices/" in notice_id and staff.get(notice_id).status_code == 200


def test_a_photo_that_would_overfill_the_photo_store_is_refused_saying_so(
    staff: FlaskClient, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiosk.data import photos

    monkeypatch.setattr(photos, "MAX_STORE_BYTES", 2_000_000)
    (data / "local-media").mkdir(exist_ok=True)
    (data / "local-media" / f"{'a' * 64}.jpg").write_bytes(b"\0" * 1_990_000)  # a notice's photo, just stored
    fields: dict[str, object] = form(staff, "/notices/new", body="正文保留")
    fields["new_photos"] = (io.BytesIO(noisy_jpeg(4)), "one-too-many.jpg")
    response = staff.post("/notices/new", data=fields, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "正文保留" in page
    assert "one-too-many.jpg was not taken: the notices&#39; photos already take all the room" in page
    assert "(2 MB)" in page


def noisy_jpeg(seed: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.effect_noise((200 + seed, 150), 60).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_the_kiosks_home_and_its_guides_open_in_the_console_as_in_the_preview(staff: FlaskClient) -> None:
    """A tap in the preview's frame leads to the kiosk's own pages under /kiosk, the home screen's 我要办 too."""
    home = staff.get("/kiosk/")
    assert home.status_code == 200, home.get_data(as_text=True)[-800:]
    link = re.search(r'class="guide-entry" href="([^"]+)"', home.get_data(as_text=True))
    assert link is not None and link.group(1).startswith("/kiosk/")
    guides = staff.get(link.group(1))
    assert guides.status_code == 200 and "frame-ancestors 'self'" in guides.headers["Content-Security-Policy"]
