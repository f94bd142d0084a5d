"""QR codes drawn when content is installed, kept in its version's database, and never drawn by a request."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import qrcode
from flask.testing import FlaskClient

import sync.receive.updater
from kiosk.demo import demo_village
from kiosk.screens import create_app
from sync.contract.content import County
from sync.contract.snapshot import village_snapshot
from sync.receive import qr_codes, qr_drawing
from sync.receive.install import content_dir, current_database, install_snapshot, read_state
from sync.receive.qr_drawing import qr_matrix, qr_png
from sync.receive.updater import sync_kiosk
from tests.county_repo import CountyRepo
from tests.qr_images import decode_qr, qr_image, qr_sources

BASE = "https://gk.qinghe.example.cn"
DETAILS = {"power": "/powers/dibao-shenqing", "notice": "/notice/caiwu-2026-10-taoyuan", "catalogue": "/catalogue/"}


def addresses() -> list[str]:
    """Phone pages of many lengths (QR versions 1 to 14), and the texts qrcode splits into other modes."""
    rng = random.Random(17)
    found = [f"{BASE}/m/taoyuan/notice/caiwu-{n:05d}" for n in range(40)] + ["x" * n for n in range(1, 400, 9)]
    found += ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-/:.") for _ in range(rng.randint(1, 300)))
              for _ in range(120)]  # fmt: skip
    return [
        *found,
        f"{BASE}/m/v/notice/{'1' * 25}",
        "HTTPS://EXAMPLE.CN/M/ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "低保申请 https://x/",
    ]


def test_the_codes_are_exactly_the_ones_the_qrcode_package_draws() -> None:
    for address in addresses():
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
        code.add_data(address)
        code.make(fit=True)
        assert qr_matrix(address) == ["".join("1" if dark else "0" for dark in row) for row in code.get_matrix()]


def test_a_code_is_a_png_of_a_few_hundred_bytes_that_a_phone_reads() -> None:
    address = f"{BASE}/m/taoyuan/power/dibao-shenqing"
    png = qr_png(address)
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    assert width == height == len(qr_matrix(address)) + 4 and (depth, colour) == (1, 0), "a module a pixel, 1 bit"
    assert len(png) < 500 and decode_qr(png, scale=6) == address


def demo(county: County, version: int = 1, **county_info: Any) -> tuple[dict[str, Any], dict[str, Path]]:
    snapshot, media = village_snapshot(county, demo_village(county), version, "2026-11-27")
    return {**snapshot, "county": {**snapshot["county"], **county_info}}, media


def counting_drawings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the codes drawn from now on, at install or by the screens; return their addresses."""
    drawn: list[str] = []

    def drawing(address: str) -> bytes:
        drawn.append(address)
        return qr_png(address)

    monkeypatch.setattr(qr_drawing, "qr_png", drawing)
    return drawn


def items(path: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tables = [(kind, f"select id from {table}") for kind, table in qr_codes.KINDS.items()]  # noqa: S608
        return {(kind, row[0]) for kind, sql in tables for row in db.execute(sql)}


def codes(path: Path) -> dict[tuple[str, str], bytes]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {(kind, item): png for kind, item, png in db.execute("select kind, item_id, png from qr_codes")}


def test_every_item_gets_its_code_at_install_and_no_request_draws_one(
    demo_county: County, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = counting_drawings(monkeypatch)
    path = install_snapshot(tmp_path, *demo(demo_county))
    assert set(codes(path)) == items(path) and len(drawn) == len(items(path)) > 100

    def never(address: str) -> bytes:
        raise AssertionError(f"a request drew the code of {address}")

    monkeypatch.setattr(qr_drawing, "qr_png", never)
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "x"}).test_client()
    catalogue = sorted(item for kind, item in items(path) if kind == "catalogue")[0]
    for kind, detail in DETAILS.items():
        page = client.get(detail + (catalogue if kind == "catalogue" else "")).get_data(as_text=True)
        (src,) = qr_sources(page)
        first, again = qr_image(client, src), qr_image(client, src)
        assert first == again and decode_qr(first, scale=6).startswith(f"{BASE}/m/taoyuan/{kind}/")
    response = client.get(src)
    assert "immutable" in response.headers["Cache-Control"] and "max-age=31536000" in response.headers["Cache-Control"]
    assert not (tmp_path / "qr").exists(), "nothing drawn, nothing written"


def test_an_install_draws_only_the_codes_of_new_items_and_all_again_for_a_new_address(
    demo_county: County, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = install_snapshot(tmp_path, *demo(demo_county))
    before = codes(first)
    drawn = counting_drawings(monkeypatch)
    snapshot, media = demo(demo_county, version=2)
    power = snapshot["powers"][0]
    snapshot["powers"] = [*snapshot["powers"][1:], {**power, "id": "new-item"}]
    second = install_snapshot(tmp_path, snapshot, media)
    assert drawn == [f"{BASE}/m/taoyuan/power/new-item"], "one new item, one code drawn"
    after = codes(second)
    assert ("power", power["id"]) not in after, "an item gone takes its code with it"
    assert {key: png for key, png in after.items() if key != ("power", "new-item")} == {
        key: png for key, png in before.items() if key != ("power", power["id"])
    }
    drawn.clear()
    third = install_snapshot(tmp_path, *demo(demo_county, version=3, public_base_url="https://gk.example.cn"))
    assert len(drawn) == len(items(third)) and all(address.startswith("https://gk.example.cn/m/") for address in drawn)


def test_the_codes_are_kept_with_their_version_and_go_with_it(demo_county: County, tmp_path: Path) -> None:
    paths = [install_snapshot(tmp_path, *demo(demo_county, version=version)) for version in (1, 2, 3)]
    state = read_state(tmp_path)
    assert [state["current"], state["previous"]] == [paths[2].name, paths[1].name]
    assert sorted(p.name for p in content_dir(tmp_path).glob("*.db")) == sorted([paths[1].name, paths[2].name])
    assert set(codes(paths[1])) == items(paths[1]), "the version kept (N-1) has its own codes"
    assert not (tmp_path / "qr").exists(), "no codes anywhere else"


@pytest.fixture()
def client(demo_data: Path, tmp_path: Path) -> FlaskClient:
    data = tmp_path / "data"
    shutil.copytree(demo_data, data, ignore=shutil.ignore_patterns("qr"))
    return create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "x"}).test_client()


def test_only_the_code_of_an_item_that_exists_is_drawn(client: FlaskClient) -> None:
    for path in ("/qr/power/no-such-item.png", "/qr/notice/local-99.png", "/qr/ten_ones/1.png", "/qr/x/y.png"):
        assert client.get(path).status_code == 404, path
    assert not (Path(client.application.config["DATA_DIR"]) / "qr").exists()


def test_content_installed_before_the_codes_has_each_drawn_once_until_the_next_sync(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = Path(client.application.config["DATA_DIR"])
    path = current_database(data)
    assert path is not None
    with sqlite3.connect(path) as db:
        db.execute("drop table qr_codes")
    drawn = counting_drawings(monkeypatch)
    (src,) = qr_sources(client.get(DETAILS["power"]).get_data(as_text=True))
    first, again = qr_image(client, src), qr_image(client, src)
    assert first == again == qr_png(f"{BASE}/m/taoyuan/power/dibao-shenqing") and len(drawn) == 1
    assert len(list((data / "qr").glob("*.png"))) == 1


def test_many_codes_are_drawn_in_worker_processes_the_same_and_here_if_a_worker_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A first install draws tens of thousands of codes on every CPU (sync/receive/qr_workers.py)."""
    from sync.receive import qr_workers

    monkeypatch.setattr(qr_workers, "BATCH", 40)
    monkeypatch.setattr(qr_workers, "WORTH_IT", 80)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    urls = [f"https://qingxi.example.cn/m/taoyuan/notice/n-{n:04d}" for n in range(200)]
    started: list[list[str]] = []
    real_run = subprocess.run

    def run(command: list[str], **options: Any) -> Any:
        started.append(command)
        return real_run(command, **options)

    monkeypatch.setattr(subprocess, "run", run)
    assert list(qr_workers.draw_all(urls)) == [qr_png(url) for url in urls]
    assert len(started) == 4, "two batches for each CPU, each in a process of its own"
    monkeypatch.setattr(sys, "executable", "/bin/false")  # every worker fails
    assert list(qr_workers.draw_all(urls)) == [qr_png(url) for url in urls]


@pytest.mark.parametrize("workers", ["drawing", "failing"])
def test_a_first_install_draws_its_codes_while_it_writes_its_rows(
    county_repo: CountyRepo, kiosk_data: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    """The codes of a first install's items are drawn by worker processes as soon as its items are known; a
    worker that fails costs only time: every item has its code, the same."""
    from sync.receive import qr_workers

    monkeypatch.setattr(qr_workers, "BATCH", 10)
    monkeypatch.setattr(qr_workers, "WORTH_IT", 20)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    if workers == "failing":
        monkeypatch.setattr(sys, "executable", "/bin/false")
    ahead: list[int] = []
    real_insert = qr_codes.insert_codes

    def insert(db: sqlite3.Connection, rows: Any) -> None:
        rows = list(rows)
        ahead.append(len(rows))
        real_insert(db, rows)

    monkeypatch.setattr(sync.receive.updater, "insert_codes", insert)
    assert sync_kiosk(kiosk_data).outcome == "updated"
    path = current_database(kiosk_data)
    assert path is not None
    with sqlite3.connect(path) as db:
        codes = {(kind, item_id): png for kind, item_id, png in db.execute("select * from qr_codes")}
        items = [(kind, item_id) for kind, table in qr_codes.KINDS.items()
                 for (item_id,) in db.execute(f"select id from {table}")]  # fmt: skip  # noqa: S608
    assert len(items) > 20 and set(codes) == set(items)
    assert ahead == [len(items)], "every code drawn ahead, while the rows were written"
    for kind, item_id in items:
        assert codes[(kind, item_id)] == qr_png(qr_codes.mobile_url(BASE, "taoyuan", kind, item_id))
