"""Draw many QR codes at once on every CPU: a first install draws one for each of tens of thousands of items.

Each batch of addresses goes to a Python process of its own running qr_drawing.main (a command, not
multiprocessing: nothing of the installing process is copied or imported again), a few at a time, one
per CPU, two batches each. A batch that fails for any reason is drawn here instead: the codes are the
same either way. A first install starts them (Drawing) as soon as it knows its items, and writes the
rows meanwhile.
"""

from __future__ import annotations

import logging
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sync

BATCH = 4000  # addresses a worker process draws at the least: its start (~0.2 s) is paid once for each
MOST = 16_000  # and at the most (its codes, about 400 bytes each, come back at once)
WORTH_IT = 2 * BATCH  # fewer codes than this are drawn in this process
TIMEOUT_S = 600
log = logging.getLogger(__name__)


def draw_all(urls: list[str]) -> Iterator[bytes]:
    """Yield the PNG of each address in *urls*, in order."""
    from sync.receive.qr_drawing import qr_png

    if not worth_drawing_elsewhere(len(urls)):
        yield from map(qr_png, urls)
        return
    workers = _workers()
    size = min(MOST, max(BATCH, -(-len(urls) // (2 * workers))))  # two batches a worker: one start each, balanced
    batches = [urls[n : n + size] for n in range(0, len(urls), size)]
    with ThreadPoolExecutor(workers) as pool:
        for batch, drawn in zip(batches, pool.map(_drawn_elsewhere, batches), strict=True):
            yield from drawn if drawn is not None else map(qr_png, batch)


def worth_drawing_elsewhere(count: int) -> bool:
    """Tell whether *count* codes are drawn by worker processes (draw_all), not in this one."""
    return _workers() >= 2 and count >= WORTH_IT


def _workers() -> int:
    """One worker process per CPU, at most four."""
    return min(os.cpu_count() or 1, 4)


class Drawing:
    """Codes drawn by draw_all in a thread of this process (its workers on the other CPUs) while the install writes
    its rows; if anything fails, rows() yields what was drawn and write_qr_codes draws the others."""

    def __init__(self, codes: list[tuple[str, str, str]]) -> None:
        self.codes = codes  # (kind, item id, address)
        self._drawn: list[bytes] = []
        self._thread = threading.Thread(target=self._draw, name="qr-drawing", daemon=True)
        self._thread.start()

    def _draw(self) -> None:
        try:
            for png in draw_all([url for _kind, _id, url in self.codes]):
                self._drawn.append(png)
        except Exception:  # the installing thread draws what is missing: nothing is lost but time
            log.exception("drawing the QR codes ahead of the install failed")

    def rows(self) -> Iterator[tuple[str, str, bytes]]:
        """Wait for the codes; yield each (kind, item id, PNG) drawn."""
        self._thread.join()
        for (kind, item_id, _url), png in zip(self.codes, self._drawn, strict=False):
            yield kind, item_id, png


def _drawn_elsewhere(urls: list[str]) -> list[bytes] | None:
    """Draw *urls* in a process of its own; None when it fails."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(sync.__file__).parent.parent),
                                                         os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    try:
        done = subprocess.run(  # this Python, this package's module, the addresses on stdin
            [sys.executable, "-m", "sync.receive.qr_drawing"], input="\n".join(urls).encode("utf-8"),
            capture_output=True, timeout=TIMEOUT_S, env=env, check=True,
        )  # fmt: skip
        return _unpacked(done.stdout, len(urls))
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        log.warning("QR codes drawn in this process instead: a worker failed (%s)", error)
        return None


def _unpacked(data: bytes, count: int) -> list[bytes]:
    pngs, at = [], 0
    while at < len(data):
        (size,) = struct.unpack_from(">I", data, at)
        pngs.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    if len(pngs) != count or at != len(data):
        raise ValueError(f"{len(pngs)} codes for {count} addresses")
    return pngs
