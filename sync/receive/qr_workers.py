"""Draw many QR codes at once on every CPU: a first install draws one for each of tens of thousands of items.

Each batch of addresses goes to a Python process of its own running qr_drawing.main (a command, not
multiprocessing: nothing of the installing process is copied or imported again), a few at a time, one
per CPU. A batch that fails for any reason is drawn here instead: the codes are the same either way.
"""

from __future__ import annotations

import logging
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sync

BATCH = 4000  # addresses a worker process draws: its start (~0.2 s) is paid once for each
WORTH_IT = 2 * BATCH  # fewer codes than this are drawn in this process
TIMEOUT_S = 600
log = logging.getLogger(__name__)


def draw_all(urls: list[str]) -> Iterator[bytes]:
    """Yield the PNG of each address in *urls*, in order."""
    from sync.receive.qr_drawing import qr_png

    workers = min(os.cpu_count() or 1, 4)
    if workers < 2 or len(urls) < WORTH_IT:
        yield from map(qr_png, urls)
        return
    batches = [urls[n : n + BATCH] for n in range(0, len(urls), BATCH)]
    with ThreadPoolExecutor(workers) as pool:
        for batch, drawn in zip(batches, pool.map(_drawn_elsewhere, batches), strict=True):
            yield from drawn if drawn is not None else map(qr_png, batch)


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
