"""Printed slips: the 打印 button, the ESC/POS bytes it sends, and everything that may go wrong."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import Dummy, Usb
from flask import Flask
from flask.testing import FlaskClient

from kiosk.screens import create_app
from kiosk.screens.qr import mobile_url
from kiosk.screens.slip import MIN_INTERVAL, PER_HOUR, PrinterAddress, PrinterSettingError, parse_printer, wrap_columns
from kiosk.web import SlidingWindow
from sync.contract.content import load_county
from sync.contract.dates import local_now
from sync.contract.snapshot import village_snapshot
from sync.receive.install import install_snapshot
from tests.county_files import install_with_a_notice_out_tomorrow, write_county
from tests.test_screens import text_of

BASE_URL = "https://gk.test.example.cn"
PAGES = {"power": "/powers/dibao", "notice": "/notice/finance-10", "catalogue": "/catalogue/dibao-result"}
ITEMS = {"power": "dibao", "notice": "finance-10", "catalogue": "dibao-result"}
QR = b"\x1d(k"
CUT = b"\x1dV"


def gb(text: str) -> bytes:
    """Text as the slip sends it: GB18030, in the printer's Chinese mode."""
    return text.encode("gb18030")


def printed(text: str) -> bytes:
    """Text as it comes out on the slip: wrapped to the paper, one encoded line after another."""
    return b"\n".join(gb(line) for line in wrap_columns(text))


def today(pattern: str = "%Y年%-m月%-d日") -> str:
    return local_now("Asia/Shanghai").strftime(pattern)


def qr_data(output: bytes) -> list[bytes]:
    """Return what each native QR code holds: GS ( k pL pH cn=1 fn=P m=0 data."""
    found = []
    for match in re.finditer(rb"\x1d\(k(..)1P0", output, flags=re.S):
        low, high = match.group(1)
        found.append(output[match.end() : match.end() + low + 256 * high - 3])
    return found


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small county (tests/county_files.py) installed for the village apple."""
    root = tmp_path_factory.mktemp("slip")
    county = write_county(root / "county")
    notice = county / "notices" / "finance.md"
    notice.write_text(notice.read_text(encoding="utf-8").replace("---\n本月", "min_posting_days: 5\n---\n本月"))
    snapshot, media = village_snapshot(load_county(county), "apple", 1, "2026-11-27")
    install_snapshot(root / "data", snapshot, media)
    return root / "data"


class Printers:
    """A PRINTER_FACTORY that hands out Dummy printers (or *kind*) and keeps them for the test."""

    def __init__(self, kind: Callable[[], Any] = Dummy) -> None:
        self.kind = kind
        self.made: list[Any] = []

    def __call__(self) -> Any:
        printer = self.kind()
        self.made.append(printer)
        return printer

    @property
    def output(self) -> bytes:
        return b"".join(p.output for p in self.made)


def make_app(data_dir: Path, **config: Any) -> Flask:
    return create_app({"TESTING": True, "DATA_DIR": str(data_dir), "SECRET_KEY": "test", **config})


@pytest.fixture()
def printers() -> Printers:
    return Printers()


@pytest.fixture()
def printing_app(data_dir: Path, printers: Printers) -> Flask:
    return make_app(data_dir, PRINTER_FACTORY=printers)


@pytest.fixture()
def printing(printing_app: Flask) -> FlaskClient:
    return printing_app.test_client()


def token_on(client: FlaskClient, page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).get_data(as_text=True))
    assert found, f"no form on {page}"
    return found.group(1)


def press_print(client: FlaskClient, kind: str) -> Any:
    """Open the detail page, press 打印, and follow the redirect back."""
    token = token_on(client, PAGES[kind])
    response = client.post(f"/print/{kind}/{ITEMS[kind]}", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"].startswith(PAGES[kind] + "?print=")
    return client.get(response.headers["Location"])


@pytest.mark.parametrize("kind", PAGES)
def test_without_a_printer_there_is_no_button(data_dir: Path, kind: str) -> None:
    client = make_app(data_dir).test_client()
    body = client.get(PAGES[kind]).get_data(as_text=True)
    assert "print-form" not in body and "/print/" not in body and "打印" not in body
    token = token_on(client, PAGES[kind] + "?feedback=rate")  # the rating form's: one token per session
    assert client.post(f"/print/{kind}/{ITEMS[kind]}", data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize("kind", PAGES)
def test_with_a_printer_every_detail_page_has_a_big_print_button(printing: FlaskClient, kind: str) -> None:
    body = printing.get(PAGES[kind]).get_data(as_text=True)
    form = re.search(r'<form class="print-form" method="post" action="([^"]+)">.*?</form>', body, flags=re.S)
    assert form is not None and form.group(1) == f"/print/{kind}/{ITEMS[kind]}"
    assert '<button class="button big print-button" type="submit">' in form.group(0)
    assert '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M6 9V2h12v7' in form.group(0), "a printer"
    assert "打印" in text_of(printing.get(PAGES[kind])) and "style=" not in form.group(0)
    printing.get("/lang/en")
    assert "Print" in text_of(printing.get(PAGES[kind]))


def test_a_power_slip_has_title_facts_qr_code_date_and_cut(printing: FlaskClient, printers: Printers) -> None:
    page = press_print(printing, "power")
    assert "正在打印，请从打印机取走小票。" in text_of(page)
    output = printers.output
    assert output.startswith(b"\x1b@\x1c&"), "reset, then the Chinese character mode"
    facts = ("办理时限：30个工作日", "监督单位：村务监督委员会", "监督电话：0000-5550100")
    for text in ("低保申请", "东镇 苹果村", *facts):
        assert gb(text) in output, text
    assert QR in output and qr_data(output) == [mobile_url(BASE_URL, "apple", "power", "dibao").encode()]
    assert gb("用手机扫一扫，回家也能看") in output and gb(f"打印日期：{today()}") in output
    assert output.index(QR) < output.index(gb("打印日期")) < output.rindex(CUT)


def test_notice_and_catalogue_slips_carry_their_own_facts(printing_app: Flask, printers: Printers) -> None:
    limiter = printing_app.extensions["slip"].limiter
    clock = [1000.0]
    limiter.clock = lambda: clock[0]
    client = printing_app.test_client()
    press_print(client, "notice")
    notice = printers.output
    for text in ("十月财务收支公开", "发布日期：2026年11月5日", "公开截止：2026年12月5日", "公示期：不少于 5 个工作日"):
        assert gb(text) in notice, text
    assert qr_data(notice) == [mobile_url(BASE_URL, "apple", "notice", "finance-10").encode()]
    clock[0] += 11
    press_print(client, "catalogue")
    catalogue = printers.output[len(notice) :]
    for text in ("最低生活保障 · 审批结果", "公开时限：信息形成之日起20个工作日内", "公开主体：县民政局"):
        assert printed(text) in catalogue, text
    assert gb("公开时限：信息形成之日起20个工作\n日内") in catalogue, "16 Chinese characters a line"
    assert qr_data(catalogue) == [mobile_url(BASE_URL, "apple", "catalogue", "dibao-result").encode()]
    assert catalogue.endswith(CUT + b"\x00")


def test_the_slip_follows_the_screens_language(printing: FlaskClient, printers: Printers) -> None:
    printing.get("/lang/en")
    assert "Printing. Please take the slip from the printer." in text_of(press_print(printing, "power"))
    assert b"Time limit: " + gb("30个工作日") in printers.output
    assert b"Supervision phone: 0000-5550100" in printers.output
    assert f"Printed {today('%B %-d, %Y')}".encode() in printers.output


def test_lines_fit_a_58_mm_printer() -> None:
    assert wrap_columns("村" * 20) == ["村" * 16, "村" * 4]
    assert wrap_columns("Supervision phone: 0000-5550100 and more words") == [
        "Supervision phone: 0000-5550100",
        "and more words",
    ]
    url = "https://gk.test.example.cn/m/apple/power/a-very-long-item-id"
    assert "".join(wrap_columns(url)) == url, "a word longer than a line is cut, not lost"
    mixed = wrap_columns("公开时限：信息形成之日起20个工作日内，由县民政局（社会救助股）负责 see the office")
    assert all(sum(2 if len(gb(ch)) > 1 else 1 for ch in line) <= 32 for line in mixed)


def test_a_post_without_the_sessions_token_prints_nothing(printing: FlaskClient, printers: Printers) -> None:
    token = token_on(printing, PAGES["power"])
    refused = printing.post("/print/power/dibao")
    assert refused.status_code == 400 and "没有打印" in text_of(refused)
    assert printing.post("/print/power/dibao", data={"csrf_token": token + "x"}).status_code == 400
    assert printing.post("/print/power/dibao", data={"csrf_token": ""}).status_code == 400
    other = printing.application.test_client()
    assert other.post("/print/power/dibao", data={"csrf_token": token}).status_code == 400, "another session's token"
    assert printers.made == []


def test_unknown_kinds_and_items_are_not_found(printing: FlaskClient, printers: Printers) -> None:
    token = token_on(printing, PAGES["power"])
    for path in ("/print/power/no-such", "/print/notice/no-such", "/print/catalogue/no-such", "/print/contacts/x"):
        assert printing.post(path, data={"csrf_token": token}).status_code == 404, path
    assert printing.get("/print/power/dibao").status_code == 405
    assert printers.made == []


def test_a_notice_not_yet_published_cannot_be_printed(tmp_path: Path) -> None:
    printers = Printers()
    client = make_app(install_with_a_notice_out_tomorrow(tmp_path), PRINTER_FACTORY=printers).test_client()
    token = token_on(client, PAGES["power"])
    assert client.post("/print/notice/finance-10", data={"csrf_token": token}).status_code == 404
    assert printers.made == []


def test_a_second_press_within_ten_seconds_prints_nothing_and_says_so(printing_app: Flask, printers: Printers) -> None:
    clock = [1000.0]
    printing_app.extensions["slip"].limiter.clock = lambda: clock[0]
    client = printing_app.test_client()
    press_print(client, "power")
    clock[0] += 9
    page = press_print(client, "catalogue")
    assert "请等几秒钟再打印。" in text_of(page) and len(printers.made) == 1
    assert page.request.args["print"] == "wait"
    clock[0] += 2
    assert "正在打印" in text_of(press_print(client, "catalogue")) and len(printers.made) == 2


def test_at_most_thirty_slips_an_hour(printing_app: Flask, printers: Printers) -> None:
    clock = [0.0]
    printing_app.extensions["slip"].limiter.clock = lambda: clock[0]
    client = printing_app.test_client()
    for _ in range(30):
        press_print(client, "power")
        clock[0] += 11
    page = press_print(client, "power")
    assert page.request.args["print"] == "limit" and "这一小时打印的小票太多了" in text_of(page)
    assert len(printers.made) == 30
    clock[0] = 3600.5  # the first slip is now more than an hour old
    assert press_print(client, "power").request.args["print"] == "done" and len(printers.made) == 31


def test_the_limiter_counts_a_rolling_hour() -> None:
    now = [0.0]
    limiter = SlidingWindow(PER_HOUR, spacing=MIN_INTERVAL, clock=lambda: now[0])
    assert limiter.take() is None and limiter.take() == "wait"
    for _ in range(29):
        now[0] += 10
        assert limiter.take() is None
    now[0] += 10
    assert limiter.take() == "limit"
    now[0] = 3600.0
    assert limiter.take() is None, "the slip at 0 s has left the hour"


class PaperOut(Dummy):  # type: ignore[misc]  # python-escpos is untyped
    def _raw(self, msg: bytes) -> None:
        raise DeviceNotFoundError("paper out")


def _unplugged() -> Any:
    raise OSError(19, "No such device")


@pytest.mark.parametrize("factory", [PaperOut, _unplugged], ids=["paper-out", "unplugged"])
def test_a_printer_that_fails_gives_a_note_not_an_error(data_dir: Path, factory: Callable[[], Any]) -> None:
    client = make_app(data_dir, PRINTER_FACTORY=factory).test_client()
    page = press_print(client, "notice")
    assert page.status_code == 200 and page.request.args["print"] == "failed"
    assert "打印机现在不能用（可能没开机或没纸了）" in text_of(page) and "十月财务收支公开" in text_of(page)


def test_a_real_file_printer_from_the_setting(data_dir: Path, tmp_path: Path) -> None:
    device = tmp_path / "lp0"
    client = make_app(data_dir, PRINTER=f"file:{device}").test_client()
    press_print(client, "power")
    output = device.read_bytes()
    assert QR in output and gb("低保申请") in output and gb("0000-5550100") in output and CUT in output
    assert qr_data(output) == [mobile_url(BASE_URL, "apple", "power", "dibao").encode()]


def test_a_file_printer_that_cannot_be_opened_gives_a_note(data_dir: Path, tmp_path: Path) -> None:
    client = make_app(data_dir, PRINTER=f"file:{tmp_path}/no-such-dir/lp0").test_client()
    assert press_print(client, "power").request.args["print"] == "failed"


def test_printer_settings_that_are_understood() -> None:
    assert parse_printer("") is None and parse_printer("  ") is None
    assert parse_printer("usb:0x0416:0x5011") == PrinterAddress("usb", "0x0416:0x5011")
    assert parse_printer("USB:0416:5011") == PrinterAddress("usb", "0416:5011")
    assert parse_printer("serial:/dev/ttyUSB0") == PrinterAddress("serial", "/dev/ttyUSB0")
    assert parse_printer("network:192.168.1.50") == PrinterAddress("network", "192.168.1.50", port=9100)
    assert parse_printer("network:printer.lan:9101") == PrinterAddress("network", "printer.lan", port=9101)
    assert parse_printer("file:/dev/usb/lp0") == PrinterAddress("file", "/dev/usb/lp0")
    network = PrinterAddress("network", "192.168.1.50", port=9100).connect()
    assert (network.host, network.port) == ("192.168.1.50", 9100), "built without connecting"


BAD_PRINTERS = {
    "lpt1": "the printer must be usb, serial, network or file",
    "bluetooth:AA:BB": "the printer must be usb, serial, network or file",
    "usb:0416": "usb: needs the vendor and product ids in hex",
    "usb:0x0416:0xZZ11": "usb: needs the vendor and product ids in hex",
    "usb:0:0": "usb: needs the vendor and product ids in hex",
    "serial:ttyUSB0": "serial: needs the full path of the device",
    "file:": "file: needs the full path of the device",
    "network:": "network: needs the printer's address",
    "network:192.168.1.50:99999": "network: needs the printer's address",
    "network:192.168.1.50:port": "network: needs the printer's address",
}


@pytest.mark.parametrize("value", BAD_PRINTERS)
def test_a_malformed_printer_setting_stops_the_kiosk_saying_what_to_write(data_dir: Path, value: str) -> None:
    with pytest.raises(PrinterSettingError) as raised:
        make_app(data_dir, PRINTER=value, DEFAULT_LOCALE="en")
    message = str(raised.value)
    assert message.startswith(f"KIOSK_PRINTER={value}: {BAD_PRINTERS[value]}")
    assert "usb:0x0416:0x5011" in message and "leave it empty for no printer" in message


def test_the_setting_error_is_in_the_kiosks_language(data_dir: Path) -> None:
    expected = r"^KIOSK_PRINTER=lpt1：打印机类型只能是 usb、serial、network 或 file。可以写成 usb:0x0416:0x5011、"
    with pytest.raises(PrinterSettingError, match=expected):
        make_app(data_dir, PRINTER="lpt1")


def test_a_usb_printer_without_pyusb_is_refused_at_start(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Usb, "is_usable", staticmethod(lambda: False))
    with pytest.raises(PrinterSettingError, match=r"usb: needs pyusb .* or use file:/dev/usb/lp0"):
        make_app(data_dir, PRINTER="usb:0x0416:0x5011", DEFAULT_LOCALE="en")
