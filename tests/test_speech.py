"""Read aloud (朗读): polyphonic characters, text to pinyin, the cached WAV, and the button in Chromium."""

from __future__ import annotations

import io
import shlex
import shutil
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from playwright.sync_api import Page, expect

from kiosk.data import queries
from kiosk.data.content_db import get_db
from kiosk.screens import create_app
from kiosk.screens.speech import (
    TEXT_LIMIT,
    VOICE,
    first_part,
    html_text,
    power_text,
    speakable_pinyin,
    spoken_numbers,
)
from sync.contract.pinyin import initials, tone_syllables
from tests.county_files import install_with_a_notice_out_tomorrow


def espeak_ng() -> str:
    """Return Debian's espeak-ng; `scripts/test` installs it."""
    found = shutil.which("espeak-ng")
    assert found, "no espeak-ng on PATH: apt-get install espeak-ng (scripts/test does)"
    return found


# --- Polyphonic characters in titles villagers read --------------------------------------------------


@pytest.mark.parametrize(
    ("title", "character", "reading"),
    [
        ("村级重大事项决策", "重", "zhong4"),
        ("重新申请低保", "重", "chong2"),
        ("重阳节慰问高龄老人", "重", "chong2"),
        ("村会计委托代理服务", "会", "kuai4"),
        ("村民代表会议", "会", "hui4"),
        ("上月末银行存款余额", "行", "hang2"),
        ("行政村合并", "行", "xing2"),
        ("扶贫小额贷款还款", "还", "huan2"),
        ("退还多收费用", "还", "huan2"),
        ("还有疑问请来电", "还", "hai2"),
        ("长期护理保险", "长", "chang2"),
        ("村长任期", "长", "zhang3"),
        ("建设单位", "单", "dan1"),
        ("集体土地承包经营权", "包", "bao1"),
    ],
)
def test_polyphonic_characters_in_common_titles_read_right(title: str, character: str, reading: str) -> None:
    syllables = tone_syllables(title)
    assert syllables[title.index(character)] == reading, f"{title}: {syllables}"


def test_initials_follow_the_same_readings() -> None:
    assert initials("重大事项") == "zdsx"
    assert initials("重新申请") == "cxsq"
    assert initials("村会计") == "ckj"
    assert initials("银行存款") == "yhck"
    assert initials("长期") == "cq" and initials("村长") == "cz"


# --- Text to what espeak-ng's pinyin voice reads --------------------------------------------------


def test_text_becomes_tone_numbered_pinyin_with_pauses() -> None:
    assert speakable_pinyin("重新申请，3天。") == "chong2 xin1 shen1 qing3, san1 tian1."
    assert speakable_pinyin("村长（会计）：“还款”！") == "cun1 zhang3, kuai4 ji4, huan2 kuan3."
    assert speakable_pinyin("提出申请\n张榜公示") == "ti2 chu1 shen1 qing3. zhang1 bang3 gong1 shi4"
    assert speakable_pinyin("，。A级 报告") == "A ji2 bao4 gao4", "no pause before the first word; Latin stays"
    assert speakable_pinyin("《条例》——") == "tiao2 li4", "book-title marks are not read"


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("2026年11月5日", "二零二六年十一月五日"),
        ("36,000.00元", "三万六千元"),
        ("2,385.50", "二千三百八十五点五"),
        ("318,906.72", "三十一万八千九百零六点七二"),
        ("10015", "一万零一十五"),
        ("1001人", "一千零一人"),
        ("15日内", "十五日内"),
        ("12000元", "一万二千元"),
        ("50%", "百分之五十"),
        ("0.5亩", "零点五亩"),
        ("库存现金：0", "库存现金：零"),
        ("0000-12388", "零零零零-幺二三八八"),
        ("13800138000", "幺三八零零幺三八零零零"),
        ("拨打12345", "拨打幺二三四五"),
    ],
)
def test_numbers_are_said_as_people_say_them(written: str, said: str) -> None:
    assert spoken_numbers(written) == said


def test_notice_html_reads_as_lines_and_cells() -> None:
    fragment = (
        "<p>公开如下（单位：元）。</p>\n<table>\n<tr>\n<th>项目</th>\n<th>金额</th>\n</tr>\n"
        "<tr><td>A &amp; B</td><td>8</td></tr></table>\n<ul>\n<li>余额</li>\n</ul>"
    )
    assert html_text(fragment) == "公开如下（单位：元）。\n项目，金额，\nA & B，8，\n余额"


def test_long_text_is_cut_at_a_sentence_so_generation_stays_quick() -> None:
    long = "村民代表会议审议通过。" * 400
    cut = first_part(long)
    assert len(cut) <= TEXT_LIMIT and cut.endswith("。") and long.startswith(cut)
    assert first_part("短文") == "短文"
    assert first_part("无标点" * 1000) == ("无标点" * 1000)[:TEXT_LIMIT]


def test_a_power_item_is_read_with_its_official_number_after_its_name(tmp_path: Path) -> None:
    item: dict[str, Any] = {"name": "最低生活保障申请", "number": "QHXW-07", "summary": "困难家庭申请低保",
                            "time_limit": None, "fee": None, "responsible": None, "materials": None, "steps": [],
                            "supervisors": []}  # fmt: skip
    with create_app({"TESTING": True, "DATA_DIR": str(tmp_path)}).test_request_context(), force_locale("zh"):
        assert power_text(item).split("\n")[:3] == ["最低生活保障申请", "编号：QHXW-07", "困难家庭申请低保"]
        assert "编号" not in power_text({**item, "number": None}), "no number, nothing said of one"


# --- The audio route ------------------------------------------------------------------------------


@pytest.fixture()
def speech_data(demo_data: Path, tmp_path: Path) -> Path:
    """The demo kiosk's data with an empty speech cache of its own."""
    data = tmp_path / "data"
    shutil.copytree(demo_data, data, ignore=shutil.ignore_patterns("speech"))
    return data


@pytest.fixture()
def counting_espeak(tmp_path: Path) -> tuple[Path, Path]:
    """A wrapper that logs each run's arguments to a file, then runs the real espeak-ng."""
    calls = tmp_path / "espeak-calls"
    script = tmp_path / "espeak-counting"
    script.write_text(f'#!/bin/sh\necho "$@" >> {shlex.quote(str(calls))}\nexec {shlex.quote(espeak_ng())} "$@"\n')
    script.chmod(0o755)
    return script, calls


def speaking_app(data: Path, command: str) -> Flask:
    return create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "x", "SPEECH_COMMAND": command})


def first_power_id(app: Flask) -> str:
    with app.test_request_context():
        order = queries.power_categories(get_db())[0]["category_order"]
        return str(queries.powers_in_category(get_db(), order, 1, 1).items[0]["id"])


def fetch(client: FlaskClient, path: str) -> tuple[int, str, bytes]:
    """GET *path*: status, media type and body (the file the app sent is closed again)."""
    with client.get(path) as response:
        return response.status_code, str(response.mimetype), bytes(response.data)


def seconds_of(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav)) as audio:
        assert audio.getnchannels() == 1 and audio.getsampwidth() == 2
        return float(audio.getnframes() / audio.getframerate())


def test_power_page_speaks_a_real_wav_made_once_then_cached(
    speech_data: Path, counting_espeak: tuple[Path, Path]
) -> None:
    script, calls = counting_espeak
    app = speaking_app(speech_data, str(script))
    power = first_power_id(app)
    client = app.test_client()
    page = client.get(f"/powers/{power}").get_data(as_text=True)
    assert f'data-speech-src="/speech/power/{power}.wav"' in page and "朗读" in page and "/static/speech.js" in page

    status, media_type, first = fetch(client, f"/speech/power/{power}.wav")
    assert status == 200 and media_type == "audio/wav"
    assert first[:4] == b"RIFF" and first[8:12] == b"WAVE"
    assert seconds_of(first) > 10, "the title, the key facts and the procedure take more than ten seconds"
    assert f"-v {VOICE}" in calls.read_text()

    assert fetch(client, f"/speech/power/{power}.wav") == (200, "audio/wav", first)
    assert len(calls.read_text().splitlines()) == 1, "the second request is served from the cache"
    cached = list((speech_data / "speech").iterdir())
    assert len(cached) == 1 and cached[0].suffix == ".wav" and len(cached[0].stem) == 64


def test_every_kind_of_detail_page_speaks_and_unknown_ones_are_not_found(speech_data: Path) -> None:
    app = speaking_app(speech_data, "espeak-ng")
    espeak_ng()
    with app.test_request_context():
        db = get_db()
        notice = db.execute("select id from notices order by published_at limit 1").fetchone()[0]
        catalogue = db.execute("select id from catalogue limit 1").fetchone()[0]
    client = app.test_client()
    for path in (f"/speech/notice/{notice}.wav", f"/speech/catalogue/{catalogue}.wav"):
        status, _media_type, wav = fetch(client, path)
        assert status == 200 and wav[:4] == b"RIFF", path
        assert seconds_of(wav) > 3, path
    for path in ("/speech/power/no-such.wav", "/speech/notice/no-such.wav", "/speech/contacts/x.wav"):
        assert client.get(path).status_code == 404, path


def test_many_requests_for_new_audio_at_once_all_get_the_whole_file(
    speech_data: Path, counting_espeak: tuple[Path, Path]
) -> None:
    app = speaking_app(speech_data, str(counting_espeak[0]))
    path = f"/speech/power/{first_power_id(app)}.wav"
    with ThreadPoolExecutor(max_workers=6) as pool:
        bodies = list(pool.map(lambda _n: fetch(app.test_client(), path)[2], range(6)))
    assert len(set(bodies)) == 1 and bodies[0][:4] == b"RIFF"
    assert [p.suffix for p in (speech_data / "speech").iterdir()] == [".wav"], "one file, no temporary ones left"


def test_old_audio_is_pruned_when_the_cache_is_full(speech_data: Path) -> None:
    espeak_ng()
    app = speaking_app(speech_data, "espeak-ng")
    app.config["SPEECH_CACHE_BYTES"] = 1  # whatever is made last is kept
    old = speech_data / "speech" / f"{'0' * 64}.wav"
    old.parent.mkdir()
    old.write_bytes(b"RIFF old version of the text")
    assert fetch(app.test_client(), f"/speech/power/{first_power_id(app)}.wav")[0] == 200
    assert not old.exists() and len(list(old.parent.iterdir())) == 1


def test_without_espeak_ng_there_is_no_button_and_no_audio(speech_data: Path, tmp_path: Path) -> None:
    app = speaking_app(speech_data, str(tmp_path / "no-espeak-ng"))
    power = first_power_id(app)
    client = app.test_client()
    page = client.get(f"/powers/{power}").get_data(as_text=True)
    assert "speak-button" not in page and "speech.js" not in page and "朗读" not in page
    assert client.get(f"/speech/power/{power}.wav").status_code == 404


def test_a_failing_espeak_ng_answers_503_and_caches_nothing(speech_data: Path, tmp_path: Path) -> None:
    broken = tmp_path / "espeak-broken"
    broken.write_text("#!/bin/sh\necho 'voice not found' >&2\nexit 1\n")
    broken.chmod(0o755)
    app = speaking_app(speech_data, str(broken))
    assert app.test_client().get(f"/speech/power/{first_power_id(app)}.wav").status_code == 503
    assert list((speech_data / "speech").iterdir()) == []


def test_a_notice_not_yet_published_is_not_read_aloud(tmp_path: Path) -> None:
    espeak_ng()
    client = speaking_app(install_with_a_notice_out_tomorrow(tmp_path), "espeak-ng").test_client()
    assert client.get("/speech/notice/finance-10.wav").status_code == 404


# --- In Debian's Chromium, tapped like a villager would ---------------------------------------------

PLAYING = "() => { const a = document.querySelector('.speak-audio'); return !a.paused && a.currentTime > 0.2; }"


def tap_read_aloud_then_stop(page: Page, power: str) -> None:
    page.goto(f"/powers/{power}")
    read = page.get_by_role("button", name="朗读")
    box = read.bounding_box()
    assert box is not None and box["width"] >= 60 and box["height"] >= 60, box

    read.tap()  # a real tap is the user gesture autoplay rules ask for: no Chromium flag needed
    stop = page.get_by_role("button", name="停止")
    expect(stop).to_be_visible()
    page.wait_for_function(PLAYING)

    stop.tap()
    expect(page.get_by_role("button", name="朗读")).to_be_visible()
    assert page.evaluate("document.querySelector('.speak-audio').paused")

    page.get_by_role("button", name="朗读").tap()  # and again from the start
    page.wait_for_function(PLAYING)
    expect(page.get_by_role("button", name="停止")).to_be_visible()


def test_tap_read_aloud_plays_the_page_and_tap_again_stops(page: Page, app: Flask) -> None:
    espeak_ng()
    tap_read_aloud_then_stop(page, first_power_id(app))
