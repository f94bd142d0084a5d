"""The studio's photos, request caps, previews and kept county, tried as a hostile or careless user would."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

from flask import Flask
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from kiosk.county import REQUEST_BYTES
from kiosk.county.studio import photos
from kiosk.staff.notice_views import MAX_PHOTOS
from sync.authoring.history import History
from sync.contract.content import load_county
from tests.county_repo import CountyRepo
from tests.test_photos import encoded
from tests.test_staff import csrf_token
from tests.test_studio import signed, studio  # noqa: F401  (the fixture)
from tests.test_studio_photos import NOTICE, save_notice


def _photo(seed: int) -> bytes:
    return encoded(Image.effect_noise((40 + seed, 30), 60).convert("RGB"), "JPEG")


def _staged(app: Flask) -> list[Path]:
    folder = Path(app.config["DATA_DIR"]) / "studio-media" / "media"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _change_ids(client: object) -> list[str]:
    return re.findall(r"/studio/changes/(\d+)", client.get("/studio/").text)  # type: ignore[attr-defined]


def test_a_large_body_sent_to_the_notice_form_without_signing_in_is_refused_unread(
    studio: Flask,  # noqa: F811
) -> None:
    stranger = studio.test_client()
    big = b"\xff\xd8\xff" + b"\0" * (REQUEST_BYTES + 1024)
    boundary, body = encode_multipart(MultiDict({"title": "大", "new_photos": FileStorage(io.BytesIO(big), "b.jpg")}))
    answer = stranger.post("/studio/notices/save", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert answer.status_code == 413, "only a signed-in session may send a notice's photos"


def test_a_form_sending_more_photos_than_a_notice_holds_stores_no_more_than_it_keeps(
    studio: Flask,  # noqa: F811
) -> None:
    wang = signed(studio, "wang")
    answer = save_notice(wang, {}, [(_photo(shade), f"{shade}.jpg") for shade in range(MAX_PHOTOS + 4)])
    assert answer.status_code == 422 and f"at most {MAX_PHOTOS} photos" in answer.text
    assert len(_staged(studio)) <= MAX_PHOTOS, "the photos past the limit are refused before they are stored"


def test_the_photo_of_a_withdrawn_draft_is_deleted_once_old(studio: Flask) -> None:  # noqa: F811
    wang = signed(studio, "wang")
    assert save_notice(wang, {}, [(_photo(1), "one.jpg")]).status_code == 302
    [kept] = _staged(studio)
    [change_id] = _change_ids(wang)
    wang.post(f"/studio/changes/{change_id}/withdraw", data={"csrf_token": csrf_token(wang, "/studio/")})
    old = time.time() - (photos.KEPT_DAYS + 1) * 86400
    os.utime(kept, (old, old))
    assert save_notice(wang, {}, [(_photo(2), "two.jpg")]).status_code == 302  # an upload cleans up
    assert not kept.exists(), "no open draft names it any more"


def test_a_notice_whose_uploaded_photo_went_missing_is_not_approved_and_the_folder_stays_valid(
    studio: Flask,  # noqa: F811
    county_repo: CountyRepo,
) -> None:
    wang, li = signed(studio, "wang"), signed(studio, "li")
    notice = county_repo.content / "notices" / f"{NOTICE}.md"
    before, head = notice.read_bytes(), History(county_repo.content).head()
    assert save_notice(wang, {"submit": "1"}, [(_photo(1), "one.jpg")]).status_code == 302
    [staged] = _staged(studio)
    staged.unlink()  # deleted meanwhile (by hand, or a disk cleaned up)
    [change_id] = _change_ids(li)
    page = li.get(f"/studio/changes/{change_id}").text
    assert f"media/{staged.name} does not exist" in page, "the reviewer sees the photo is missing"
    answer = li.post(f"/studio/changes/{change_id}/approve", data={"csrf_token": csrf_token(li, "/studio/")},
                     follow_redirects=True)  # fmt: skip
    assert staged.name in answer.text and "send" in answer.text, "the approval says which photo is missing"
    assert notice.read_bytes() == before and History(county_repo.content).head() == head, "nothing written"
    load_county(county_repo.content)  # the folder still publishes
