"""Printed slips: a detail page's title, key facts, QR code and date on a 58 mm receipt printer.

KIOSK_PRINTER names the printer (python-escpos: USB, serial, network or a device file); empty
means no printer and no 打印 button. Tests hand the app a ``PRINTER_FACTORY`` instead: a callable
returning any python-escpos printer, such as ``escpos.printer.Dummy``. It is not a setting (no
environment variable can hold a callable), so a kiosk in the field cannot be pointed at a fake.
python-escpos is imported only where it is used: a printer checked at start, a slip made or sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from flask import Blueprint, Flask, abort, current_app, redirect, render_template, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import force_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l

from kiosk.data.clock import screen_now
from kiosk.data.content_db import content_meta
from kiosk.screens.filters import day
from kiosk.screens.qr import mobile_url
from kiosk.screens.views import shown_or_404
from kiosk.web import SlidingWindow

bp = Blueprint("slip", __name__)
log = logging.getLogger(__name__)

COLUMNS = 32  # a 58 mm printer's line in font A: 32 half-width or 16 Chinese characters
QR_DOT_SIZE = 6  # 6 dots a module: a version-10 code (about 150 URL characters) is 342 of the 384 dots
MIN_INTERVAL = 10.0  # seconds between two slips, for the whole kiosk
PER_HOUR = 30  # slips in any hour: a child pressing the button again and again must not empty the roll
DETAIL_ENDPOINTS = {
    "power": "screens.power_detail",
    "notice": "screens.notice_detail",
    "catalogue": "screens.catalogue_detail",
}
# ESC @ resets the printer; FS & selects its Chinese (double-byte) character mode.
RESET_AND_CHINESE = b"\x1b@\x1c&"

# What the page says after a press, keyed by the `print` query argument of the redirect.
PRINT_NOTES = {
    "done": _l("Printing. Please take the slip from the printer."),
    "wait": _l("Please wait a few seconds before printing again."),
    "limit": _l("Many slips were printed this hour. Please scan the QR code, or print later."),
    "failed": _l(
        "The printer is not working (it may be off or out of paper). Please tell the staff, or scan the QR code."
    ),
}


class PrinterSettingError(ValueError):
    """KIOSK_PRINTER cannot name a printer."""


@dataclass(frozen=True)
class PrinterAddress:
    """Where the printer is: ``kind`` is usb, serial, network or file."""

    kind: str
    target: str  # device path, host name, or "vendor:product" for usb
    port: int = 0  # network only

    def connect(self) -> Any:
        """Return a python-escpos printer for this address (it opens on first use)."""
        from escpos.printer import File, Network, Serial, Usb

        if self.kind == "usb":
            vendor, product = (int(part, 16) for part in self.target.split(":"))
            return Usb(vendor, product, timeout=5000)  # milliseconds: a stuck printer must not hang the page
        if self.kind == "serial":
            return Serial(devfile=self.target)
        if self.kind == "network":
            return Network(self.target, port=self.port, timeout=5)
        return File(devfile=self.target)


def _setting_error(value: str, problem: str) -> PrinterSettingError:
    return PrinterSettingError(
        gettext(
            "KIOSK_PRINTER=%(value)s: %(problem)s. Examples: usb:0x0416:0x5011, serial:/dev/ttyUSB0, "
            "network:192.168.1.50:9100, file:/dev/usb/lp0; leave it empty for no printer.",
            value=value,
            problem=problem,
        )
    )


def parse_printer(value: str) -> PrinterAddress | None:
    """Read a KIOSK_PRINTER value; None when it is empty.

    :raises PrinterSettingError: saying what is wrong and what to write instead.
    """
    value = value.strip()
    if not value:
        return None
    kind, _, rest = value.partition(":")
    kind = kind.lower()
    if kind == "usb":
        ids = rest.split(":")
        if len(ids) != 2 or not all(_hex_id(part) for part in ids):
            raise _setting_error(value, gettext("usb: needs the vendor and product ids in hex"))
        return PrinterAddress("usb", rest)
    if kind in ("serial", "file"):
        if not rest.startswith("/"):
            raise _setting_error(value, gettext("%(kind)s: needs the full path of the device", kind=kind))
        return PrinterAddress(kind, rest)
    if kind == "network":
        host, _, port = rest.partition(":")
        if not host or any(ch in host for ch in " /[]") or (port and not (port.isdigit() and 0 < int(port) < 65536)):
            raise _setting_error(value, gettext("network: needs the printer's address and, if not 9100, its port"))
        return PrinterAddress("network", host, int(port or 9100))
    raise _setting_error(value, gettext("the printer must be usb, serial, network or file"))


def _hex_id(text: str) -> bool:
    digits = text[2:] if text.lower().startswith("0x") else text
    return 0 < len(digits) <= 4 and all(ch in "0123456789abcdefABCDEF" for ch in digits) and int(digits, 16) > 0


def _missing_library(address: PrinterAddress) -> str | None:
    from escpos.printer import Serial, Usb

    if address.kind == "usb" and not Usb.is_usable():
        return str(gettext("usb: needs pyusb (pip install 'python-escpos[usb]'), or use file:/dev/usb/lp0"))
    if address.kind == "serial" and not Serial.is_usable():
        return str(gettext("serial: needs pyserial (pip install 'python-escpos[serial]')"))
    return None


@dataclass
class KioskPrinter:
    """The app's printer, if any, and its limiter (in ``app.extensions["slip"]``)."""

    connect: Callable[[], Any] | None
    limiter: SlidingWindow  # one slip per MIN_INTERVAL seconds, PER_HOUR in any hour, for the whole kiosk

    def send(self, data: bytes) -> str:
        """Send a whole slip; return the outcome the page shows: done, wait, limit or failed."""
        assert self.connect is not None
        refused = self.limiter.take()
        if refused:
            return refused
        try:
            printer = self.connect()
            try:
                printer._raw(data)
            finally:
                printer.close()
        # Drivers fail in their own ways (pyusb, pyserial, sockets, python-escpos's own errors, even
        # asserts); whatever the printer does, the villager gets a note, never an error page.
        except Exception as error:
            log.warning("the slip printer failed: %r", error)
            return "failed"
        return "done"


@bp.record_once
def _set_up(state: BlueprintSetupState) -> None:
    """Check KIOSK_PRINTER when the app is built, so a wrong value stops the kiosk at start, not at a press."""
    app = cast(Flask, state.app)
    connect = app.config.get("PRINTER_FACTORY")
    if connect is None:
        # In the kiosk's own language: this message is for whoever set KIOSK_PRINTER.
        with app.app_context(), force_locale(app.config["DEFAULT_LOCALE"]):
            address = parse_printer(str(app.config.get("PRINTER") or ""))
            problem = _missing_library(address) if address else None
            if problem:
                raise _setting_error(app.config["PRINTER"], problem)
        connect = address.connect if address else None
    app.extensions["slip"] = KioskPrinter(connect, SlidingWindow(PER_HOUR, spacing=MIN_INTERVAL))


def _kiosk_printer() -> KioskPrinter:
    kiosk_printer: KioskPrinter = current_app.extensions["slip"]
    return kiosk_printer


@bp.app_context_processor
def _print_button_context() -> dict[str, Any]:
    has_printer = _kiosk_printer().connect is not None
    return {"has_printer": has_printer, "print_notes": PRINT_NOTES}


def _width(ch: str) -> int:
    # In the printer's Chinese mode every character sent as two or more bytes is drawn double width.
    return 2 if len(ch.encode("gb18030", errors="replace")) > 1 else 1


def wrap_columns(text: str, columns: int = COLUMNS) -> list[str]:
    """Break *text* into printer lines of at most *columns* half-width columns.

    Chinese may break between any two characters; Latin words move whole to the next line
    unless they are longer than a line (a URL).
    """
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line, used = "", 0
        for word in _words(paragraph):
            size = sum(map(_width, word))
            if used + size > columns and line.strip():
                lines.append(line.rstrip())
                line, used = "", 0
                word = word.lstrip()
                size = sum(map(_width, word))
            for ch in word:  # only a word longer than a whole line still overflows here
                if used + _width(ch) > columns:
                    lines.append(line.rstrip())
                    line, used = "", 0
                line, used = line + ch, used + _width(ch)
        lines.append(line.rstrip())
    return lines


def _words(text: str) -> list[str]:
    """Split into Latin words with their leading space, and single wide characters."""
    words: list[str] = []
    for ch in text:
        if not words or ch == " " or _width(ch) == 2 or _width(words[-1][-1]) == 2:
            words.append(ch)
        else:
            words[-1] += ch
    return words


@dataclass(frozen=True)
class Slip:
    title: str
    place: str
    facts: list[tuple[str, str]]
    url: str
    date: str


def render_slip(slip: Slip) -> bytes:
    """Return the ESC/POS bytes of *slip*, composed on a Dummy and sent to the printer in one write."""
    from escpos.constants import QR_ECLEVEL_M
    from escpos.printer import Dummy

    out = Dummy()

    # Text goes out GB18030-encoded after FS &, not through python-escpos's MagicEncode: 3.1 sends a
    # line as GB18030 only when it holds an ideograph in U+4E00-U+9FA5, so a line of full-width
    # punctuation or digits, or a rarer character, would go through Western code pages and print as
    # "?". Receipt printers sold in China print GBK (GB18030's two-byte part) in Chinese mode, and
    # ASCII is the same bytes in both.
    def lines(text: str) -> None:
        for line in wrap_columns(text):
            out._raw(line.encode("gb18030", errors="replace") + b"\n")

    out._raw(RESET_AND_CHINESE)
    out.set(align="center", bold=True, double_height=True)
    lines(slip.title)
    out.set(bold=False, normal_textsize=True)
    lines(slip.place)
    out.set(align="left")
    lines("-" * COLUMNS)
    for label, value in slip.facts:
        lines(gettext("%(label)s: %(value)s", label=label, value=value))
    lines("-" * COLUMNS)
    out.set(align="center")
    # native: the printer draws the code itself (GS ( k), sharper and far smaller than an image
    out.qr(slip.url, ec=QR_ECLEVEL_M, size=QR_DOT_SIZE, native=True)
    out._raw(b"\n")
    lines(gettext("Scan with your phone to read this page at home"))
    lines(gettext("Printed %(date)s", date=slip.date))
    out.cut()
    data: bytes = out.output
    return data


def _facts(kind: str, item: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    """Return the slip's title and key facts for an item of *kind*."""
    if kind == "power":
        number = [(gettext("Official number"), item["number"])] if item.get("number") else []
        return item["name"], [
            *number,
            (gettext("Time limit"), item["time_limit"]),
            (gettext("Supervised by"), "；".join(s["body"] for s in item["supervisors"])),
            (gettext("Supervision phone"), "；".join(s["phone"] for s in item["supervisors"])),
        ]
    if kind == "notice":
        facts = [(gettext("Published"), day(item["published"]))]
        if item["expires"]:
            facts.append((gettext("Posted until"), day(item["expires"])))
        if item["min_posting_days"]:
            period = ngettext("at least %(num)d working day", "at least %(num)d working days", item["min_posting_days"])
            facts.append((gettext("Public notice period"), period))
        return item["title"], facts
    title = item["level1"] + (f" · {item['level2']}" if item["level2"] else "")
    return title, [
        (gettext("What is published"), "；".join(item["content"])),
        (gettext("Disclosure time limit"), item["time_limit"]),
        (gettext("Published by"), item["body"]),
    ]


def slip_for(kind: str, item_id: str) -> Slip:
    """Return the slip of a detail page, or answer 404 as the page itself would."""
    item = shown_or_404(kind, item_id)
    info = content_meta()
    title, facts = _facts(kind, item)
    place = f"{info['township_name']} {info['village_name']}"
    url = mobile_url(info["public_base_url"], info["village_code"], kind, item_id)
    return Slip(title, place, facts, url, day(screen_now().date().isoformat()))


@bp.post("/print/<any(power, notice, catalogue):kind>/<item_id>")
def print_slip(kind: str, item_id: str) -> ResponseReturnValue:
    """Print the slip of a detail page and go back to it with a note of what happened."""
    kiosk_printer = _kiosk_printer()
    if kiosk_printer.connect is None:
        abort(404)
    # No login on villager screens: the form's CSRF token keeps other sites from printing through us.
    outcome = kiosk_printer.send(render_slip(slip_for(kind, item_id)))
    return redirect(url_for(DETAIL_ENDPOINTS[kind], item_id=item_id, print=outcome), code=303)


@bp.errorhandler(400)
def _stale_form(_error: Any) -> ResponseReturnValue:
    # A forged request, or a page kept open across a browser restart: either way nothing printed.
    heading, text = gettext("Nothing was printed"), gettext("Please open the page again and press Print once more.")
    return render_template("screens/error.html", heading=heading, text=text), 400
