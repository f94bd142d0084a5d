"""Read a detail page aloud (朗读): its text as tone-numbered pinyin, spoken by espeak-ng, cached as WAV.

espeak-ng's plain `cmn` voice misreads many characters; its `cmn-latn-pinyin` voice reads pinyin with
tone numbers exactly, and pypinyin picks the reading of a polyphonic character from the phrase around
it (sync/pinyin.py). Everything runs on the kiosk: no network, and no button where espeak-ng is missing.
"""

from __future__ import annotations

import errno
import hashlib
import html
import io
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, send_file
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _

from kiosk.screens.cache_files import prune_oldest
from kiosk.screens.views import shown_or_404
from sync.contract.pinyin import tone_syllables

VOICE = "cmn-latn-pinyin"
TEXT_LIMIT = 1500  # characters read at most: about eight minutes of speech, made in well under a second
GENERATE_TIMEOUT = 30  # seconds
CACHE_BYTES = 300 * 1024 * 1024  # WAV is about 2.6 MB a minute; the least recently played go first
CACHE_FREE_BYTES = 64 * 1024 * 1024  # below this much free disk, audio is not kept: a long text makes ~21 MB

bp = Blueprint("speech", __name__)


@bp.record_once
def _find_speech_command(state: BlueprintSetupState) -> None:
    """Look for espeak-ng once per app: without it there is no button and no audio (404)."""
    state.app.config.setdefault("SPEECH_COMMAND", "espeak-ng")
    state.app.config.setdefault("SPEECH_CACHE_BYTES", CACHE_BYTES)
    state.app.extensions["speech"] = shutil.which(state.app.config["SPEECH_COMMAND"])


@bp.app_context_processor
def _read_aloud_context() -> dict[str, Any]:
    return {"read_aloud": current_app.extensions.get("speech") is not None}


@bp.route("/speech/<kind>/<item_id>.wav")
def detail_audio(kind: str, item_id: str) -> ResponseReturnValue:
    command = current_app.extensions.get("speech")
    if command is None or kind not in _TEXT_OF:
        abort(404)
    item = shown_or_404(kind, item_id)  # nobody may hear a notice before its publication time
    with force_locale("zh"):  # the voice speaks Mandarin, whatever language the screen is in
        text = _TEXT_OF[kind](item)
    audio = cached_speech(command, speakable_pinyin(first_part(text)))
    return send_file(io.BytesIO(audio) if isinstance(audio, bytes) else audio, mimetype="audio/wav")


# --- What each detail page reads: title first, then its key facts and body --------------------------


def _fact(label: str, value: str | None) -> str:
    return f"{label}：{value}" if value else ""


def _spoken_day(text: str | None) -> str:
    """Say a content date as people write it in Chinese: '2026-11-05' -> '2026年11月5日'."""
    if not text:
        return ""
    year, month, day = text[:10].split("-")
    return f"{year}年{int(month)}月{int(day)}日"


def power_text(item: dict[str, Any]) -> str:
    steps = [f"{number}、{step['title']}" for number, step in enumerate(item["steps"] or [], start=1)]
    return "\n".join(
        [
            item["name"],
            _fact(_("Official number"), item.get("number")),
            item["summary"] or "",
            _fact(_("Time limit"), item["time_limit"]),
            _fact(_("Fee"), item["fee"]),
            _fact(_("Responsible body"), item["responsible"]),
            _fact(_("Materials to bring"), "；".join(item["materials"] or [])),
            _fact(_("Procedure"), "；".join(steps)),
            _fact(_("Supervision"), "；".join(f"{s['body']}，{s['phone']}" for s in item["supervisors"])),
        ]
    )


def notice_text(item: dict[str, Any]) -> str:
    until = _spoken_day(item["expires"]) or _("no end date")
    heading = [item["title"], _fact(_("Published"), _spoken_day(item["published"])), _fact(_("Posted until"), until)]
    return "\n".join([*heading, html_text(item["body_html"] or "")])


def catalogue_text(item: dict[str, Any]) -> str:
    return "\n".join(
        [
            "，".join(filter(None, [item["level1"], item["level2"]])),
            _fact(_("What is published"), "；".join(item["content"])),
            _fact(_("Disclosure time limit"), item["time_limit"]),
            _fact(_("Published by"), item["body"]),
            _fact(_("Channels"), "、".join(item["channels"] or [])),
        ]
    )


_TEXT_OF: dict[str, Callable[[dict[str, Any]], str]] = {
    "power": power_text,
    "notice": notice_text,
    "catalogue": catalogue_text,
}

_BLOCK_END = re.compile(r"<br\s*/?>|</(?:p|h\d|li|tr|div|table|ul|ol|blockquote)>", re.IGNORECASE)
_CELL_END = re.compile(r"</t[dh]>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def html_text(fragment: str) -> str:
    """Return a notice's sanitised HTML as plain text: a line per block or table row, a comma after each cell."""
    fragment = _BLOCK_END.sub("\n", _CELL_END.sub("，", re.sub(r">\s+<", "><", fragment)))
    lines = (line.strip() for line in html.unescape(_TAG.sub("", fragment)).splitlines())
    return "\n".join(line for line in lines if line)


def first_part(text: str, limit: int = TEXT_LIMIT) -> str:
    """Return the first *limit* characters of *text*, ending at a sentence where one ends late enough."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(mark) for mark in "。！？\n")
    return cut[: end + 1] if end > limit // 2 else cut


# --- Text to pinyin the cmn-latn-pinyin voice reads well ----------------------------------------------

_DIGITS = "零一二三四五六七八九"
# Said digit by digit, 1 as 幺: phone numbers (0571-88886666, 13800138000), codes with a leading 0,
# and the 123xx/95xxx service hotlines (12388), unless a unit (元, 万) makes them an amount.
_CODE = re.compile(r"(?<![\d,.])(?:0\d*-)?(?:0\d*|\d{7,}|12\d{3}|95\d{3})(?![\d,.%元万亿])")
_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(%?)")
_SYLLABLE = re.compile(r"[a-z]+[1-5]")
_FULL_STOP = set("。！？；!?;\n")
_COMMA = set("，、：,:（）()—…-/")


def _below_ten_thousand(number: int) -> str:
    said, zero = "", False
    for place, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = number // place % 10
        if digit:
            said += ("零" if zero else "") + _DIGITS[digit] + unit
            zero = False
        elif said:
            zero = True
    return said


def _count(number: int) -> str:
    for size, unit in ((100_000_000, "亿"), (10_000, "万")):
        if number >= size:
            high, low = divmod(number, size)
            rest = "" if low == 0 else ("零" if low < size // 10 else "") + _count(low)
            return _count(high) + unit + rest
    return _below_ten_thousand(number) or "零"


def _digit_by_digit(match: re.Match[str]) -> str:
    return "".join(("幺" if d == "1" else _DIGITS[int(d)]) if d.isdigit() else d for d in match[0])


def _amount(match: re.Match[str]) -> str:
    whole, decimals, percent = match.group(1), (match.group(2) or "").rstrip("0"), match.group(3)
    if len(whole) == 4 and not match.group(2) and match.string.startswith("年", match.end()):
        return "".join(_DIGITS[int(digit)] for digit in whole)  # 2026年: 二零二六年
    said = _count(int(whole.replace(",", "")))
    said = said[1:] if said.startswith("一十") else said  # 十五, not 一十五
    if decimals:
        said += "点" + "".join(_DIGITS[int(digit)] for digit in decimals)
    return ("百分之" if percent else "") + said


def spoken_numbers(text: str) -> str:
    """Write the numbers in *text* in Chinese characters, as they are said: '36,000.00元' -> '三万六千元'.

    espeak-ng 1.51 reads digits itself, but wrongly past a thousand (10000 as 十千); it drops the
    decimal point and says '%' in English. Years before 年 and phone numbers go digit by digit.
    """
    return _NUMBER.sub(_amount, _CODE.sub(_digit_by_digit, text))


def speakable_pinyin(text: str) -> str:
    """Return *text* as tone-numbered pinyin with pauses: '重新申请，3天。' -> 'chong2 xin1 shen1 qing3, san1 tian1.'

    Chinese punctuation becomes a comma or a full stop (a short or a long pause), Latin words stay
    as they are, and other symbols are left out.
    """
    text = spoken_numbers(unicodedata.normalize("NFKC", text))
    words: list[str] = []
    for part in tone_syllables(text):
        if _SYLLABLE.fullmatch(part):
            words.append(part)
            continue
        for piece in re.findall(r"[A-Za-z]+|\n|\S", part):
            if piece.isascii() and piece.isalpha():
                words.append(piece)
            elif piece in _FULL_STOP or piece in _COMMA:
                _pause(words, "." if piece in _FULL_STOP else ",")
    return " ".join(words).replace(" ,", ",").replace(" .", ".").strip(" ,")


def _pause(words: list[str], mark: str) -> None:
    """Add a pause after the last word; of two pauses in a row the longer stays."""
    if not words:
        return
    if words[-1] in (",", "."):
        words[-1] = "." if "." in (words[-1], mark) else ","
    else:
        words.append(mark)


# --- Audio: generated once per text, kept under DATA_DIR/speech ---------------------------------------


def cached_speech(command: str, pinyin: str) -> Path | bytes:
    """Return the WAV of *pinyin*, generating it the first time; 503 if espeak-ng fails.

    On a nearly full disk the audio is made in memory and not kept: it plays, it is only slower.
    """
    folder = Path(current_app.config["DATA_DIR"]) / "speech"
    key = hashlib.sha256(f"{VOICE}\n{pinyin}".encode()).hexdigest()
    path = folder / f"{key}.wav"
    try:
        os.utime(path)  # played again: pruned last
        return path
    except FileNotFoundError:
        pass  # not made yet, or pruned meanwhile
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if shutil.disk_usage(folder).free < CACHE_FREE_BYTES:
            raise OSError(errno.ENOSPC, f"less than {CACHE_FREE_BYTES // 2**20} MB free")
        # Written under a name of its own, then renamed into place: two requests for the same text at
        # once both generate, and each reader sees a whole file, never a half-written one.
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".wav.tmp")
    except OSError as error:
        current_app.logger.warning("read-aloud audio made in memory, not kept in %s: %s", folder, error)
        return _speak(command, pinyin, "--stdout")
    os.close(descriptor)
    try:
        _speak(command, pinyin, "-w", temporary)
        with open(temporary, "rb") as file:
            made = file.read(4) == b"RIFF"
        if not made:
            current_app.logger.error("%s made no audio in %s", command, temporary)
            abort(503)
        os.replace(temporary, path)
    except OSError as error:
        current_app.logger.warning("could not keep read-aloud audio (%s); made in memory instead", error)
        return _speak(command, pinyin, "--stdout")
    finally:
        Path(temporary).unlink(missing_ok=True)
    prune_oldest(folder, "*.wav", int(current_app.config["SPEECH_CACHE_BYTES"]), keep=path)
    return path


def _speak(command: str, pinyin: str, *output: str) -> bytes:
    """Run espeak-ng on *pinyin* with *output* (a file, or --stdout); return what it printed; 503 if it fails."""
    try:
        finished = subprocess.run(  # noqa: S603 - fixed arguments; the text goes in on stdin
            [command, "-v", VOICE, "-b", "1", "--stdin", *output],
            input=pinyin.encode(),
            capture_output=True,
            timeout=GENERATE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        current_app.logger.error("%s took more than %s seconds; no audio", command, GENERATE_TIMEOUT)
        abort(503)
    except OSError as error:
        current_app.logger.error("could not run %s: %s", command, error)
        abort(503)
    if finished.returncode != 0 or ("--stdout" in output and not finished.stdout.startswith(b"RIFF")):
        said = finished.stderr.decode(errors="replace").strip()
        current_app.logger.error("%s exited %s without audio: %s", command, finished.returncode, said)
        abort(503)
    audio = bytearray(finished.stdout)
    if audio[36:40] == b"data":  # a stream's header leaves the lengths open: fill them in
        audio[4:8] = (len(audio) - 8).to_bytes(4, "little")
        audio[40:44] = (len(audio) - 44).to_bytes(4, "little")
    return bytes(audio)
