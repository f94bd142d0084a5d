"""Shared fixtures: the demo county installed through the same code path `kiosk demo` uses."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk import create_app
from kiosk.demo import DEMO_CONTENT, install_demo
from sync.content import County, load_county


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
