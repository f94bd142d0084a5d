"""What makes a page cheap to render must not change what it shows (kiosk/templating.py, kiosk/web.py,
kiosk/data/content_db.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
from babel import support
from flask import Blueprint, Flask, render_template_string, url_for
from flask_babel import force_locale

from kiosk.demo import install_demo
from kiosk.screens import create_app
from kiosk.templating import KioskEnvironment
from kiosk.web import base_app, query_string

TRANSLATIONS = Path(__file__).resolve().parents[1] / "kiosk" / "translations"


def test_a_remembered_address_is_the_one_flask_builds_for_its_root_blueprint_and_arguments(tmp_path: Path) -> None:
    app = base_app({"DATA_DIR": str(tmp_path), "SECRET_KEY": "x"}, "secret_key")
    for name in ("one", "two"):
        part = Blueprint(name, __name__)
        part.add_url_rule("/page/<int:number>", "page", lambda number: str(number))
        app.register_blueprint(part, url_prefix=f"/{name}")
    asked: list[str] = []
    for root in ("", "/kiosk", "", "/kiosk"):  # each twice: built once, then remembered
        for blueprint in ("one", "two"):
            with app.test_request_context(f"/{blueprint}/page/1", base_url=f"http://localhost{root}"):
                asked += [
                    url_for(".page", number=2),
                    url_for("one.page", number=3, q="低保 x"),
                    url_for("two.page", number=3, _anchor="step 2"),
                    url_for("one.page", number=4, tags=["a", "b"]),  # not hashable: built each time
                    url_for("static", filename="kiosk.css"),
                    url_for("one.page", number=5, _external=True),
                    url_for("one.page", number=6, all=True),
                    url_for("one.page", number=6, all=1),  # equal to True as a key, not as an address
                ]
    built = asked[:16]
    assert asked[32:48] == built, "the same addresses the second time"
    assert asked[16:32] == [re.sub(r"^(http://localhost)?", r"\1/kiosk", url) for url in built]
    assert built[:8] == [
        "/one/page/2",
        "/one/page/3?q=%E4%BD%8E%E4%BF%9D+x",
        "/two/page/3#step%202",
        "/one/page/4?tags=a&tags=b",
        built[4],
        "http://localhost/one/page/5",
        "/one/page/6?all=True",
        "/one/page/6?all=1",
    ]
    assert built[4].startswith("/static/kiosk.css?v=") and built[8] == "/two/page/2"


def test_a_strangers_long_addresses_are_not_remembered(tmp_path: Path) -> None:
    """A page's own address goes into its links (next=): long ones, which anyone can send, are built each time."""
    install_demo(tmp_path)
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "x"})
    client = app.test_client()
    for number in range(30):
        page = client.get(f"/about?junk={number}{'a' * 20_000}")
        assert page.status_code == 200 and f"junk%3D{number}a" in page.get_data(as_text=True)
    kept = app._urls  # type: ignore[attr-defined]
    assert 0 < len(kept) < 20 and max(map(len, kept.values())) <= app.URL_KEPT_CHARS  # type: ignore[attr-defined]


def test_a_template_reads_a_dicts_fields_as_jinja_does() -> None:
    source = (
        "{{ d.name }}|{{ d.items is callable }}|{{ d['items'] }}|{{ d.missing is defined }}|{{ d.nested.title }}"
        "|{{ d.get('name') }}|{{ row.name }}|{{ d.nested.missing|default('-') }}"
    )

    class Row:
        name = "an object"

    values = {"d": {"name": "低保", "items": 3, "nested": {"title": "<b>"}}, "row": Row()}
    plain = jinja2.Environment(autoescape=True).from_string(source).render(values)
    ours = KioskEnvironment(Flask(__name__), autoescape=True).from_string(source).render(values)
    assert ours == plain == "低保|True|3|False|&lt;b&gt;|低保|an object|-"


def test_a_page_shows_the_meta_of_the_version_installed_since_the_last_page(tmp_path: Path) -> None:
    """The meta table is read once a version: a sync that installs another is seen by the next page."""
    install_demo(tmp_path, version=1)
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "x"}).test_client()
    qr_image = re.compile(r'<img class="qr-code" src="([^"]+)"')
    first = qr_image.findall(client.get("/powers/dibao-shenqing").get_data(as_text=True))
    install_demo(tmp_path, version=2)
    then = qr_image.findall(client.get("/powers/dibao-shenqing").get_data(as_text=True))
    assert [src.endswith("v=1") for src in first] == [True] and [src.endswith("v=2") for src in then] == [True]


def test_a_page_translates_and_formats_as_flask_babel_does(tmp_path: Path) -> None:
    """The catalogue looked up once a page gives the strings flask-babel's template gettext gave, formatted alike."""
    app = base_app({"DATA_DIR": str(tmp_path), "SECRET_KEY": "x"}, "secret_key")
    source = (
        '{{ _("Home") }}|{{ _("100%% sure") }}|{{ gettext("Published %(date)s", date="<b>") }}'
        '|{{ ngettext("%(num)d result", "%(num)d results", 3) }}'
    )
    plain = jinja2.Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    for code, translations in (("zh", support.Translations.load(TRANSLATIONS, ["zh"])), ("en", None)):
        plain.install_gettext_translations(translations or support.NullTranslations(), newstyle=True)  # type: ignore[attr-defined]
        with app.test_request_context(), force_locale(code):
            assert render_template_string(source) == plain.from_string(source).render()
    with app.test_request_context(), force_locale("zh"):
        assert render_template_string(source).startswith("首页|100% sure|")


def test_a_link_back_to_the_page_is_written_as_url_for_writes_it(tmp_path: Path) -> None:
    """The top bar quotes its page's address once (query_string) for its language and elder-mode links."""
    install_demo(tmp_path)
    app = create_app({"DATA_DIR": str(tmp_path), "SECRET_KEY": "x"})
    heres = ["/", "/search?q=d", "/search?q=低保 x&page=2", "/powers/a%2Fb?feedback=rate#top", "/x?a=1+2;b=@:$,'()*!",
             "/notices?q=%E4%BD%8E", ""]  # fmt: skip
    links: list[tuple[str, dict[str, Any]]] = [("screens.toggle_elder_mode", {}),
                                               ("screens.switch_language", {"code": "en"})]  # fmt: skip
    with app.test_request_context("/"):
        for here in heres:
            for endpoint, values in links:
                expected = url_for(endpoint, **values, next=here)
                assert f"{url_for(endpoint, **values)}?{query_string(next=here)}" == expected, here
    client = app.test_client()
    page = client.get("/search?q=低保&page=1").get_data(as_text=True)
    with app.test_request_context("/"):
        for endpoint, values in links:
            link = url_for(endpoint, **values, next="/search?q=低保&page=1").replace("&", "&amp;")
            assert f'href="{link}"' in page, link
