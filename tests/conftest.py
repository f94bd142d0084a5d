"""Shared fixtures: the demo county installed through the same code path `kiosk demo` uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page, sync_playwright

from kiosk.demo import DEMO_CONTENT, install_demo
from kiosk.screens import create_app
from sync.contract.content import County, load_county
from sync.contract.i18n import use_language
from sync.receive.updater import init_kiosk
from tests.browser import CHROMIUM_ARGS, KIOSK_SCREEN, chromium_path, guarded
from tests.county_repo import VILLAGE, CountyRepo, make_county_repo
from tests.postgres import Cluster, running_cluster
from tests.servers import serving


@pytest.fixture(autouse=True)
def messages_in_english() -> None:
    """Tests read sync's messages in English unless they choose Chinese (the CLI's default)."""
    use_language("en")


@pytest.fixture(scope="session")
def demo_county() -> County:
    return load_county(DEMO_CONTENT)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the demo county installed for its first village."""
    data = tmp_path_factory.mktemp("demo-data")
    install_demo(data)
    return data


@pytest.fixture()
def app(demo_data: Path) -> Flask:
    return create_app({"TESTING": True, "DATA_DIR": str(demo_data), "SECRET_KEY": "test"})


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def english(client: FlaskClient) -> FlaskClient:
    client.get("/lang/en")
    return client


@pytest.fixture(scope="module")
def live_server(demo_data: Path) -> Iterator[str]:
    """Serve the demo kiosk with waitress on a free loopback port; yield its base URL."""
    with serving(create_app({"DATA_DIR": str(demo_data), "SECRET_KEY": "live-server-test"})) as url:
        yield url


@pytest.fixture()
def county_repo(tmp_path: Path) -> CountyRepo:
    """The demo county published to a fresh signed repository (content copy editable)."""
    return make_county_repo(tmp_path / "county")


@pytest.fixture()
def kiosk_data(tmp_path: Path, county_repo: CountyRepo) -> Path:
    """A kiosk data directory set up for the demo village, syncing from the repository folder."""
    data = tmp_path / "kiosk"
    init_kiosk(data, VILLAGE, str(county_repo.path), county_repo.root)
    return data


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A fresh kiosk session on the touchscreen's size; fails if a page reaches outside or logs an error."""
    context, outside, errors = guarded(
        browser, live_server, base_url=live_server, viewport=KIOSK_SCREEN, has_touch=True, locale="zh-CN"
    )
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    yield page
    context.close()
    assert outside == [], "a kiosk page requested something outside the kiosk"
    assert errors == [], "the browser reported errors"


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 for the session (tests/postgres.py)."""
    yield from running_cluster()


@pytest.fixture()
def postgres_url(postgres_cluster: Cluster) -> str:
    """An empty PostgreSQL database of this test's own."""
    return postgres_cluster.database()


@pytest.fixture(params=["sqlite", "postgresql"])
def county_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a county test on SQLite, then on PostgreSQL: there, every county database the test opens (the apps,
    the commands, the test's own) is one fresh PostgreSQL database (KIOSK_COUNTY_DATABASE_URL). A module asks for
    it with ``pytestmark = pytest.mark.usefixtures("county_engine")``."""
    if request.param == "postgresql":
        cluster: Cluster = request.getfixturevalue("postgres_cluster")
        monkeypatch.setenv("KIOSK_COUNTY_DATABASE_URL", cluster.database())
    return str(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A county test about SQLite's own file or history (county_sqlite_only) runs on SQLite only."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("county_engine") == "postgresql"
        (dropped if on_postgres and item.get_closest_marker("county_sqlite_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
