"""Shared fixtures: the demo county installed through the same code path `kiosk demo` uses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from waitress.server import create_server

from kiosk import create_app
from kiosk.demo import DEMO_CONTENT, install_demo
from sync.content import County, load_county
from sync.i18n import use_language


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
    app = create_app({"DATA_DIR": str(demo_data), "SECRET_KEY": "live-server-test"})
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="kiosk-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # Close in the server's own loop thread: closing sockets from here while it waits in select()
        # could fail there with EBADF. Open keep-alive connections are closed too, or the loop would not end.
        def close_everything() -> None:
            for channel in list(server._map.values()):
                if channel is not server and channel is not server.trigger:
                    channel.close()
            server.close()

        server.trigger.pull_trigger(close_everything)
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()
        assert not thread.is_alive(), "the live server did not stop"
