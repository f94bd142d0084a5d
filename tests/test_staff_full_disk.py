"""The staff console on a full disk: a save that cannot be written keeps what was typed and says why.

The data folder is a small ext4 file system of its own (a loop mount: the tests run as root), filled
to the last block, so SQLite and the photo store meet the real ENOSPC.
"""

from __future__ import annotations

import errno
import io
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from kiosk.data import accounts
from kiosk.data.local_db import open_local
from kiosk.demo import install_demo
from kiosk.staff import create_staff_app
from tests.test_staff import PASSWORD, csrf_token
from tests.test_staff_notices import form, jpeg_with_gps

LONG_TEXT = "村委会定于本月召开村民代表会议，讨论村道维修经费的使用。" * 200  # about 18 KB of UTF-8


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MB ext4 file system mounted on a folder of its own; unmounted afterwards."""
    image, folder = tmp_path / "disk.img", tmp_path / "disk"
    folder.mkdir()
    with image.open("wb") as file:
        file.truncate(32 * 1024 * 1024)
    made = subprocess.run(["mkfs.ext4", "-q", "-m", "0", str(image)], capture_output=True, text=True, check=False)
    assert made.returncode == 0, f"mkfs.ext4 failed: {made.stderr}"
    mounted = subprocess.run(["mount", "-o", "loop", str(image), str(folder)], capture_output=True, text=True,
                             check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.fail(f"could not loop-mount a small ext4 file system (the test needs root): {mounted.stderr}")
    try:
        yield folder
    finally:
        unmounted = subprocess.run(["umount", str(folder)], capture_output=True, text=True, check=False)
        if unmounted.returncode != 0:  # a file still open: detach now, freed when it closes
            subprocess.run(["umount", "--lazy", str(folder)], check=True)


def fill(folder: Path) -> Path:
    """Fill the file system holding *folder* to its last block; return the file that does it."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as file:
        for chunk in (1024 * 1024, 4096, 512):
            while True:  # ends at ENOSPC, at most the file system's 32 MB later
                try:
                    file.write(b"\0" * chunk)
                except OSError as error:
                    assert error.errno == errno.ENOSPC
                    break
    return filler


@pytest.fixture()
def staff(small_disk: Path) -> FlaskClient:
    install_demo(small_disk)
    db = open_local(small_disk)
    accounts.add(db, "bo", "staff", PASSWORD, actor="test")
    db.close()
    client = create_staff_app({"TESTING": True, "DATA_DIR": str(small_disk), "SECRET_KEY": "t",
                               "DEFAULT_LOCALE": "en"}).test_client()  # fmt: skip
    client.post("/sign-in", data={"name": "bo", "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert client.get("/").status_code == 200
    return client


def notices_saved(data: Path) -> int:
    with sqlite3.connect(f"file:{data / 'local.db'}?mode=ro", uri=True) as db:
        return int(db.execute("select count(*) from village_notices").fetchone()[0])


def test_a_notice_saved_on_a_full_disk_comes_back_with_its_text_and_saves_once_there_is_room(
    staff: FlaskClient, small_disk: Path
) -> None:
    filler = fill(small_disk)
    fields = form(staff, "/notices/new", title="村民代表会议通知", body=LONG_TEXT)

    full = staff.post("/notices/new", data=fields)

    page = full.get_data(as_text=True)
    assert full.status_code == 507, page[:3000]
    assert "disk is full, so nothing was saved. What you typed is still below" in page
    assert LONG_TEXT in page and 'value="村民代表会议通知"' in page, "what was typed is all there"
    assert notices_saved(small_disk) == 0
    filler.unlink()
    again = staff.post("/notices/new", data={**fields, "csrf_token": csrf_token(staff, "/notices/new")})
    assert again.status_code == 302 and notices_saved(small_disk) == 1


def test_a_photo_that_cannot_be_written_keeps_the_form_and_says_why_in_chinese_too(
    staff: FlaskClient, small_disk: Path
) -> None:
    (small_disk / "local-media").mkdir()  # photos were stored before: this one fails as it is written
    fill(small_disk)
    fields: dict[str, object] = form(staff, "/notices/new", body="照片没存上，正文还在。")
    fields["new_photos"] = (io.BytesIO(jpeg_with_gps()), "IMG_0003.jpg")

    full = staff.post("/notices/new", data=fields, content_type="multipart/form-data")

    page = full.get_data(as_text=True)
    assert full.status_code == 507 and "disk is full" in page and "照片没存上，正文还在。" in page
    assert not any(name.endswith(".tmp") for name in os.listdir(small_disk / "local-media")), "no half-written photo"
    staff.get("/kiosk/lang/zh?next=/")
    fields = {**fields, "new_photos": (io.BytesIO(jpeg_with_gps()), "IMG_0003.jpg")}
    chinese = staff.post("/notices/new", data=fields, content_type="multipart/form-data").get_data(as_text=True)
    assert "磁盘已满" in chinese and "照片没存上，正文还在。" in chinese


def test_any_other_save_on_a_full_disk_says_so_instead_of_failing(staff: FlaskClient, small_disk: Path) -> None:
    notice = staff.post("/notices/new", data=form(staff, "/notices/new", min_posting_days="5"))
    notice_id = notice.headers["Location"].split("/")[2]
    fill(small_disk)

    published = staff.post(f"/notices/{notice_id}/publish", data={"csrf_token": csrf_token(staff, "/notices/")})

    assert published.status_code == 507 and "Back button" in published.get_data(as_text=True)
    withdraw = f"/notices/{notice_id}/withdraw"
    kept = staff.post(withdraw, data={"csrf_token": csrf_token(staff, withdraw), "reason": "写好的理由"})
    assert kept.status_code == 507 and 'value="写好的理由"' in kept.get_data(as_text=True)
    signed_out = staff.post("/sign-out", data={"csrf_token": csrf_token(staff, "/")})
    assert signed_out.status_code == 302 and staff.get("/").status_code == 302, "signing out works all the same"
