"""Project rules a user relies on: settings documented, translations complete, text sanitised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.extract import DEFAULT_KEYWORDS, extract, extract_from_dir
from babel.messages.pofile import read_po

from kiosk.screens.flowchart import layout
from kiosk.settings import SETTINGS, load_settings
from sync.contract.procedure import expand_steps
from sync.contract.render import render_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"`{setting.env}`" in readme, f"{setting.env} is not in the README's settings table"


def test_settings_come_from_the_environment() -> None:
    values = load_settings({"KIOSK_PORT": "9001", "KIOSK_DEFAULT_LOCALE": "en", "KIOSK_DATA_DIR": "/srv/kiosk"})
    assert values["PORT"] == 9001 and values["DEFAULT_LOCALE"] == "en" and values["DATA_DIR"] == "/srv/kiosk"
    assert load_settings({})["HOST"] == "127.0.0.1", "the kiosk binds loopback by default"


def _untranslated(sources: list[Path], keywords: dict[str, Any], catalogue: Path) -> set[str]:
    """Extract afresh from the code, so a string added without a translation is caught."""
    methods = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    wanted = set()
    for source in sources:
        if source.is_dir():
            found = [m for _file, _line, m, *_rest in extract_from_dir(source, method_map=methods, keywords=keywords)]
        else:
            with source.open("rb") as file:
                found = [m for _line, m, *_rest in extract("python", file, keywords=keywords)]
        wanted |= {message if isinstance(message, str) else message[0] for message in found}
    with open(catalogue, "rb") as file:
        done = {
            (m.id if isinstance(m.id, str) else m.id[0])
            for m in read_po(file)
            if m.id and "fuzzy" not in m.flags and all(m.string if isinstance(m.string, tuple) else [m.string])
        }
    return wanted - done


def test_chinese_catalogue_translates_every_interface_string() -> None:
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    missing = _untranslated([ROOT / "kiosk"], keywords, ROOT / "kiosk/translations/zh/LC_MESSAGES/messages.po")
    assert missing == set(), "untranslated in zh: update and translate messages.po (README: Translations)"


def test_chinese_catalogue_translates_every_message_for_county_staff() -> None:
    missing = _untranslated(
        [ROOT / "sync", ROOT / "kiosk"], {"tr": None}, ROOT / "sync/translations/zh/LC_MESSAGES/sync.po"
    )
    assert missing == set(), "untranslated in zh: update and translate sync.po (README: Translations)"


def test_notice_markdown_is_sanitised_and_stays_on_the_kiosk() -> None:
    html = render_markdown(
        "# 标题\n\n<script>alert(1)</script> <img src=x onerror=alert(1)>\n\n"
        "[链接](https://evil.example/) ![图](https://evil.example/a.png) **加粗**\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<script" not in html and "<img" not in html, "raw HTML is never interpreted"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, "it is shown as the text it is"
    assert "evil.example" not in html and "href" not in html
    assert "<strong>加粗</strong>" in html and "<td>1</td>" in html and "链接" in html


def test_flowchart_puts_dead_end_branches_beside_the_main_path() -> None:
    steps = expand_steps(
        [
            {"id": "apply", "title": "申请", "actor": "村民"},
            {
                "id": "check",
                "title": "审核",
                "actor": "村委会",
                "branches": [{"when": "通过", "to": "vote"}, {"when": "不通过", "to": "tell"}],
            },
            {"id": "tell", "title": "告知", "actor": "村委会", "end": True},
            {"id": "vote", "procedure": "四议两公开"},
            {"id": "done", "title": "归档", "actor": "村委会"},
        ]
    )
    rows = layout(steps)
    assert [r["step"]["title"] for r in rows][:3] == ["申请", "审核", "党支部提议"]
    assert [r["number"] for r in rows] == [1, 2, 4, 5, 6, 7, 8, 9, 10]
    assert rows[1]["side"][0]["when"] == "不通过" and rows[1]["side"][0]["number"] == 3
    assert rows[1]["down"] == "通过" and rows[-1]["ends"] and not rows[0]["ends"]


def test_a_setting_that_is_not_a_number_is_named_with_its_value_not_a_traceback() -> None:
    from click.testing import CliRunner

    from kiosk.cli import main

    result = CliRunner().invoke(main, ["status"], env={"KIOSK_PORT": "abc"})
    assert result.exit_code == 2 and "KIOSK_PORT='abc': a whole number is needed" in result.output, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, ValueError)
