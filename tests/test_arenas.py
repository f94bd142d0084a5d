"""`kiosk serve` asks glibc for few malloc arenas (kiosk/device/arenas.py): set in its process, never an error."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

from kiosk.device import arenas

SCRIPT = """
import ctypes, os, threading
from kiosk.device.arenas import few_malloc_arenas
print(few_malloc_arenas())
def work():  # blocks bigger than pymalloc's, smaller than mmap's threshold: from the thread's malloc arena
    blocks = [bytearray(50_000) for _ in range(20)]
    done.wait()
done = threading.Event()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
import tempfile
with tempfile.TemporaryFile("w+b") as out:
    libc = ctypes.CDLL(None)
    libc.fdopen.restype = ctypes.c_void_p
    stream = libc.fdopen(os.dup(out.fileno()), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    out.seek(0)
    print(out.read().decode().count("<heap nr="))  # malloc_info(3): one <heap> per arena
done.set()
for t in threads: t.join()
"""


def _heaps(env: dict[str, str]) -> tuple[str, int]:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True,
                          env=env)  # fmt: skip
    agreed, heaps = done.stdout.split()
    return agreed, int(heaps)


def test_eight_threads_allocating_share_two_arenas_in_a_serving_process() -> None:
    agreed, heaps = _heaps({"PATH": "/usr/bin:/bin"})
    assert agreed == "True" and heaps <= arenas.ARENAS, heaps
    left, own = _heaps({"PATH": "/usr/bin:/bin", "MALLOC_ARENA_MAX": "8"})
    assert left == "False" and own > arenas.ARENAS, "a number set in the environment is the operator's"


def test_a_c_library_without_mallopt_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_library(_name: object) -> object:
        raise OSError("not glibc")

    monkeypatch.setattr(ctypes, "CDLL", no_library)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert arenas.few_malloc_arenas() is False
