"""The studio's photos, request caps, previews and kept county, tried as a hostile or careless user would."""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from kiosk.county import REQUEST_BYTES
from kiosk.county.studio import photos
from kiosk.demo import DEMO_CONTENT
from kiosk.staff.notice_views import MAX_PHOTOS
from sync.authoring.folder_county import FolderCounty
from sync.authoring.history import History
from sync.contract.content import ContentInvalid, load_county
from tests.county_repo import CountyRepo
from tests.test_photos import encoded
from tests.test_staff import csrf_token
from tests.test_studio import signed, studio  # noqa: F401  (the fixture)
from tests.test_studio_photos import NOTICE, save_notice

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL


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


def _kept_folder(tmp_path: Path) -> tuple[Path, FolderCounty]:
    folder = Path(shutil.copytree(DEMO_CONTENT, tmp_path / "content"))
    History(folder).start()
    kept = FolderCounty(folder)
    kept.current()
    return folder, kept


def _as_loaded(folder: Path, kept: FolderCounty) -> None:
    """The kept county is what load_county reads in the folder now, or both refuse it."""
    try:
        loaded = load_county(folder)
    except ContentInvalid:
        with pytest.raises(ContentInvalid):
            kept.current()
        return
    county = kept.current()[1]
    assert sorted(county.powers, key=lambda p: p["id"]) == sorted(loaded.powers, key=lambda p: p["id"])
    assert sorted(county.notices, key=lambda n: n["id"]) == sorted(loaded.notices, key=lambda n: n["id"])
    assert (county.catalogue, county.contacts, county.duties, county.ten_ones, county.media) == (
        loaded.catalogue, loaded.contacts, loaded.duties, loaded.ten_ones, loaded.media)  # fmt: skip


def test_a_file_renamed_to_another_items_name_is_read_as_a_full_load_reads_it(tmp_path: Path) -> None:
    folder, kept = _kept_folder(tmp_path)
    (folder / "powers" / "caiwu-shouzhi-gongkai.yaml").rename(folder / "powers" / "aaa-caiwu.yaml")
    _as_loaded(folder, kept)  # its id is still caiwu-shouzhi-gongkai: it was dropped
    (folder / "powers" / "aaa-caiwu.yaml").write_text(
        (folder / "powers" / "aaa-caiwu.yaml").read_text(encoding="utf-8").replace("name: ", "name: 改", 1),
        encoding="utf-8",
    )
    _as_loaded(folder, kept)


def test_an_item_copied_under_another_name_is_refused_as_validate_refuses_it(tmp_path: Path) -> None:
    folder, kept = _kept_folder(tmp_path)
    shutil.copy(folder / "powers" / "dibao-shenqing.yaml", folder / "powers" / "dibao-copy.yaml")
    _as_loaded(folder, kept)  # its id twice


def test_a_duty_renamed_that_a_notice_names_is_refused_as_validate_refuses_it(tmp_path: Path) -> None:
    folder, kept = _kept_folder(tmp_path)
    notice = folder / "notices" / f"{NOTICE}.md"
    text = notice.read_text(encoding="utf-8")
    notice.write_text(text.replace("published:", "duty: caiwu-shouzhi\nperiod: 2026-10\npublished:", 1), "utf-8")
    History(folder).record_hand_edits()
    _as_loaded(folder, kept)
    duties = folder / "duties.yaml"
    duties.write_text(duties.read_text(encoding="utf-8").replace("id: caiwu-shouzhi\n", "id: caiwu-x\n"), "utf-8")
    _as_loaded(folder, kept)


def test_a_photo_taken_off_a_notice_leaves_the_kept_county_too(tmp_path: Path) -> None:
    folder, kept = _kept_folder(tmp_path)
    notice = folder / "notices" / f"{NOTICE}.md"
    notice.write_text(re.sub(r"photos:\n(  - .*\n)+", "", notice.read_text(encoding="utf-8")), "utf-8")
    _as_loaded(folder, kept)


def test_files_load_county_refuses_are_refused_by_the_kept_county_too(tmp_path: Path) -> None:
    folder, kept = _kept_folder(tmp_path)
    shutil.copy(folder / "powers" / "dibao-shenqing.yaml", folder / "powers" / "dibao-shenqing.yaml.bak")
    _as_loaded(folder, kept)
    (folder / "powers" / "dibao-shenqing.yaml.bak").unlink()
    _as_loaded(folder, kept)
    (folder / "notices" / "old").mkdir()
    shutil.copy(folder / "notices" / f"{NOTICE}.md", folder / "notices" / "old" / f"{NOTICE}.md")
    _as_loaded(folder, kept)
    shutil.copy(folder / "powers" / "dibao-shenqing.yaml", folder / "powers" / "dibao-shenqing.yaml~")
    _as_loaded(folder, kept)  # git ignores an editor's backup; load_county reads it (and refuses it)


def test_an_item_a_gitignore_keeps_out_of_the_history_is_read_as_a_full_load_reads_it(tmp_path: Path) -> None:
    folder, kept = _kept_folder(tmp_path)
    (folder / ".gitignore").write_text("powers/local-*.yaml\n", encoding="utf-8")
    text = (folder / "powers" / "dibao-shenqing.yaml").read_text(encoding="utf-8")
    local = folder / "powers" / "local-dibao.yaml"
    local.write_text(text.replace("id: dibao-shenqing", "id: local-dibao"), encoding="utf-8")
    _as_loaded(folder, kept)
    local.write_text(text.replace("id: dibao-shenqing", "id: local-dibao").replace("name: ", "name: 改", 1), "utf-8")
    os.utime(local, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))  # a later time, whatever the clock's grain
    _as_loaded(folder, kept)


def test_a_file_edited_twice_by_hand_is_read_again_each_time(tmp_path: Path) -> None:
    folder, kept = _kept_folder(tmp_path)
    power = folder / "powers" / "dibao-shenqing.yaml"
    text = power.read_text(encoding="utf-8")
    power.write_text(text.replace("name: ", "name: 一", 1), encoding="utf-8")
    _as_loaded(folder, kept)
    power.write_text(text.replace("name: ", "name: 二", 1), encoding="utf-8")  # git status says the same
    _as_loaded(folder, kept)
    added = folder / "powers" / "dibao-new.yaml"  # a new file, not yet recorded, edited again
    added.write_text(text.replace("id: dibao-shenqing", "id: dibao-new"), encoding="utf-8")
    _as_loaded(folder, kept)
    added.write_text(text.replace("id: dibao-shenqing", "id: dibao-new").replace("name: ", "name: 三", 1), "utf-8")
    _as_loaded(folder, kept)
