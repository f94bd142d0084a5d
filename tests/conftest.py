"""Shared fixtures: the demo county installed through the same code path `kiosk demo` uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk import create_app
from kiosk.demo import DEMO_CONTENT, install_demo
from sync.content import County, load_county
from sync.i18n import use_language
from sync.updater import init_kiosk
from tests.county_repo import VILLAGE, CountyRepo, make_county_repo
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
