"""Project rules a user relies on: settings documented, translations complete, text sanitised."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.pofile import read_po

from kiosk.screens.flowchart import layout
from kiosk.settings import SETTINGS, load_settings
from scripts.catalogues import Catalogue, catalogues, extracted, placeholders
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


CATALOGUES = catalogues()  # pyproject.toml: what scripts/translations extracts, and how


def _entries(catalogue: Catalogue) -> list[tuple[Path, Message]]:
    found = []
    for po in catalogue.po_files():
        with open(po, "rb") as file:
            found += [(po, message) for message in read_po(file) if message.id]
    return found


def _first(text: str | tuple[str, ...] | list[str]) -> str:
    return text if isinstance(text, str) else text[0]


def _in_code(sources: list[Path], text: str) -> bool:
    """Tell whether *text* is a string literal of the Python files (split literals joined) or in a template."""
    for source in sources:
        for path in source.rglob("*.py"):
            nodes = ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if any(isinstance(node, ast.Constant) and node.value == text for node in nodes):
                return True
        if any(text in path.read_text(encoding="utf-8") for path in source.rglob("templates/**/*.html")):
            return True
    return False


def test_every_catalogue_is_found_and_read_from_the_one_config() -> None:
    assert {c.domain for c in CATALOGUES} == {"messages", "sync"}
    for catalogue in CATALOGUES:
        assert catalogue.po_files(), f"{catalogue.directory} has no {catalogue.domain}.po"
        assert {s.name for s in catalogue.sources} == {"kiosk", "sync"}, "both packages are searched"


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda c: c.domain)
def test_chinese_catalogue_translates_every_message_in_the_code(catalogue: Catalogue) -> None:
    """Extract afresh from the code, as scripts/translations does, so a string added untranslated is caught."""
    wanted = {message for _file, _line, message in extracted(catalogue)}
    done = {
        _first(m.id)
        for po, m in _entries(catalogue)
        if po.parts[-3] == "zh" and not m.fuzzy and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    missing = wanted - done
    assert missing == set(), f"untranslated in zh: run scripts/translations and translate {catalogue.domain}.po"


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda c: c.domain)
def test_messages_use_one_placeholder_style(catalogue: Catalogue) -> None:
    """%(name)s everywhere: a {name} would reach the reader as it is written, unfilled."""
    braces = [f"{file}:{line}: {message!r}" for file, line, message in extracted(catalogue) if "{" in message]
    assert braces == [], "write placeholders as %(name)s, not {name}:\n" + "\n".join(braces)


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda c: c.domain)
def test_every_translation_keeps_the_placeholders_of_its_message(catalogue: Catalogue) -> None:
    """A placeholder lost, misspelt or added in a translation fails when it is filled in (or shows wrong)."""
    wrong = []
    for po, m in _entries(catalogue):
        forms = [m.string] if isinstance(m.string, str) else list(m.string or ())
        wanted = placeholders(m.id if isinstance(m.id, str) else m.id[-1])  # the plural form's, if any
        for form in filter(None, forms):
            if placeholders(form) != wanted:
                wrong.append(f"{po.relative_to(ROOT)}:{m.lineno}: {_first(m.id)!r} -> {form!r}")
    assert wrong == [], "placeholders differ between message and translation:\n" + "\n".join(wrong)


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda c: c.domain)
def test_no_message_still_in_the_code_drops_out_of_its_catalogue(catalogue: Catalogue) -> None:
    """A message the update set aside (#~) while its text is still in the code is no longer found by extraction
    (a translating function renamed, say), and would lose its translation."""
    for po in catalogue.po_files():
        with open(po, "rb") as file:
            set_aside = [_first(message.id) for message in read_po(file).obsolete.values()]
        dropped = [message for message in set_aside if _in_code(catalogue.sources, message)]
        assert dropped == [], f"{po.relative_to(ROOT)}: in the code but no longer extracted: {dropped}"


def test_notice_markdown_is_sanitised_and_stays_on_the_kiosk() -> None:
    html = render_markdown(
        "# 标题\n\n<script>alert(1)</script> <img src=x onerror=alert(1)>\n\n"
        "[链接](https://evil.example/) ![图](https://evil.example/a.png) **加粗**\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<script" not in html and "<img" not in html, "raw HTML is never interpreted"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, "it is shown as the text it is"
    assert "evil.example" not in html and "href" not in html
    assert "<strong>加粗</strong>" in html and "<td>1</td>" in html and "链接" in html


def test_a_right_aligned_money_column_stays_right_aligned_and_no_style_gets_through() -> None:
    html = render_markdown(
        "| 项目 | 金额 | 说明 |\n| :--- | ---: | :---: |\n| 保洁员劳务费 | 6,000.00 | 3人 |\n\n"
        '<td style="position:fixed;inset:0">盖住</td> <p class="align-right">x</p>\n\n'
        '| <span style="color:red">红</span> |\n| ---: |\n| 1 |'
    )
    assert '<th class="align-right">金额</th>' in html and '<td class="align-right">6,000.00</td>' in html
    assert '<td class="align-left">保洁员劳务费</td>' in html and '<td class="align-center">3人</td>' in html
    tags = re.findall(r"<[a-z][^<>]*>", html)
    assert [tag for tag in tags if "style" in tag or "span" in tag] == [], "no style, and no tag, from the content"
    assert '&lt;td style="position:fixed;inset:0"&gt;盖住' in html, "raw HTML is shown as the text it is"


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
