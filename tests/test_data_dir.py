"""A relative data folder (--data or KIOSK_DATA_DIR) means the same folder to every app, job and command.

Flask resolves a relative file it sends against the kiosk package, not the working folder, so a
relative data folder once answered 朗读 with 500 and staff photos with 404.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from PIL import Image

from kiosk.cli import main
from kiosk.data.content_db import get_db
from kiosk.data.local_db import local_media_dir
from kiosk.data.photos import store_photo
from kiosk.screens import create_app
from kiosk.settings import load_settings
from tests.test_speech import espeak_ng


def _a_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def _first_notice(app: Flask) -> str:
    with app.test_request_context():
        return str(get_db().execute("select id from notices order by published_at limit 1").fetchone()[0])


def _answers(app: Flask, path: str) -> tuple[int, bytes]:
    with app.test_client().get(path) as response:
        return response.status_code, bytes(response.data)


def test_a_relative_data_folder_reads_aloud_and_shows_staff_photos(
    demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    espeak_ng()
    shutil.copytree(demo_data, tmp_path / "data", ignore=shutil.ignore_patterns("speech"))
    monkeypatch.chdir(tmp_path)
    photo = store_photo(_a_photo(), local_media_dir(tmp_path / "data"))
    app = create_app({"TESTING": True, "DATA_DIR": "data", "SECRET_KEY": "x"})

    status, audio = _answers(app, f"/speech/notice/{_first_notice(app)}.wav")
    assert status == 200 and audio[:4] == b"RIFF"
    status, image = _answers(app, f"/media/{photo}")
    assert status == 200 and image[:2] == b"\xff\xd8"
    assert app.config["DATA_DIR"] == str(tmp_path / "data"), "resolved once, when the app was built"


def test_a_relative_kiosk_data_dir_is_made_absolute_where_settings_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings({"KIOSK_DATA_DIR": "./data"})["DATA_DIR"] == str(tmp_path / "data")
    assert load_settings({"KIOSK_DATA_DIR": "~/kiosk"})["DATA_DIR"] == str(Path.home() / "kiosk")


def test_kiosk_demo_with_a_relative_data_option_serves_the_notices_photos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kiosk demo --data ./relative`: the app it serves finds the county's photos in that folder."""
    served: list[Flask] = []

    class NotListening:
        def __init__(self, app: Flask, **_options: Any) -> None:
            served.append(app)

        def run(self) -> None:
            """Return at once: the test asks the app itself."""

    monkeypatch.setattr("waitress.server.create_server", NotListening)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["demo", "--data", "./relative"], env={"KIOSK_DEFAULT_LOCALE": "en"})
    assert result.exit_code == 0, result.output
    assert f"data: {tmp_path / 'relative'}" in result.output
    [app] = served
    with app.test_request_context():
        photo = get_db().execute("select photos from notices where photos like '%.jpg%' limit 1").fetchone()
    assert photo, "the demo has a notice with a photo"
    blob = photo[0].split('"')[1]
    status, image = _answers(app, f"/media/{blob}")
    assert status == 200 and image[:2] == b"\xff\xd8"
