"""Draw a QR code as a small PNG, fast enough to draw every item's code when content is installed.

The code is exactly the one the qrcode package draws (error correction M, the same version, the
same mask: tests/test_qr_codes.py compares them over hundreds of addresses), but about twenty times
faster: qrcode builds its matrix nine times, module by module, to choose a mask. Here a matrix is
one integer, a bit a module, row after row: built once by gathering the data bits into a layout
made once per version; each of the eight masks is one XOR, and its penalty (ISO/IEC 18004 §7.8.3,
scored as qrcode scores it) is counted with shifts over the whole matrix at once. qrcode still
gives the tables: versions, blocks, alignment positions, mask patterns, format bits.
"""

from __future__ import annotations

import functools
import itertools
import os
import struct
import sys
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter

from qrcode import base, util
from qrcode.constants import ERROR_CORRECT_M

BORDER = 2  # light modules around the code; a kiosk page and a phone's camera leave more space around it
_LENGTHS_WIDEN = (1, 10, 27)  # the versions from which a segment's length takes more bits (util.length_in_bits)
_PADDING = bytes.fromhex("ec11" * 1200)  # the pad codewords after the data (versions hold up to 2,331 at M)
_AS_PIXELS = str.maketrans("01", "10")  # PNG greyscale: dark modules black (0), light white (1)
_NO_FILTER = "0" * 8  # the byte before each row of pixels: filter type 0
WORKER_NICENESS = 10  # a worker process's priority, below the install's (main)


@dataclass(frozen=True)
class _Layout:
    """Where everything goes in a code of one version (error correction M), and what scoring a mask needs."""

    size: int  # modules on a side
    gather: Callable[
        [Sequence[str]], tuple[str, ...]
    ]  # data bits (then a 0 and a 1) -> the matrix's digits, row after row
    transpose: Callable[[Sequence[str]], tuple[str, ...]]  # a matrix's digits -> its digits column after column
    data_bits: int  # how many modules carry data bits (with the remainder bits)
    masks: tuple[tuple[int, int], ...]  # each mask pattern over the data modules: by rows, and as lines (below)
    format_bits: tuple[int, ...]  # for each mask: its format and version information, and the dark module
    after_left: int  # the modules that have one to their left in their row
    after_above: int  # the modules that have one above them
    # Of the lines (the rows, then the columns: one integer, so that each mask is scored in one pass):
    line_after_one: int  # the modules that have one before them in their line
    line_after_ten: int  # the modules that end a window of 11 in their line
    # The codewords of the version: each block's data and error correction codewords, and the order they are
    # placed in (blocks interleaved), from the data codewords followed by every block's error correction.
    blocks: tuple[tuple[int, int], ...]
    interleave: Callable[[bytes], tuple[int, ...]]


def _blank(size: int, version: int) -> list[list[bool | None]]:
    """Return the finder, alignment and timing patterns (qrcode's makeImpl, before the format information)."""
    modules: list[list[bool | None]] = [[None] * size for _ in range(size)]
    for row, col in ((0, 0), (size - 7, 0), (0, size - 7)):
        for r in range(-1, 8):
            for c in range(-1, 8):
                if 0 <= row + r < size and 0 <= col + c < size:
                    ring = (0 <= r <= 6 and c in (0, 6)) or (0 <= c <= 6 and r in (0, 6))
                    modules[row + r][col + c] = ring or (2 <= r <= 4 and 2 <= c <= 4)
    positions = util.pattern_position(version)
    for row in positions:
        for col in positions:
            if modules[row][col] is None:
                for r in range(-2, 3):
                    for c in range(-2, 3):
                        modules[row + r][col + c] = r in (-2, 2) or c in (-2, 2) or r == c == 0
    for n in range(8, size - 8):
        if modules[n][6] is None:
            modules[n][6] = n % 2 == 0
        if modules[6][n] is None:
            modules[6][n] = n % 2 == 0
    return modules


def _information(size: int, version: int, mask: int) -> dict[tuple[int, int], bool]:
    """Return the format information (and version information, from version 7) of *mask*, by position."""
    found: dict[tuple[int, int], bool] = {}
    bits = util.BCH_type_info((ERROR_CORRECT_M << 3) | mask)
    for i in range(15):
        dark = (bits >> i) & 1 == 1
        found[(i if i < 6 else i + 1 if i < 8 else size - 15 + i, 8)] = dark
        found[(8, size - i - 1 if i < 8 else 15 - i if i < 9 else 15 - i - 1)] = dark
    found[(size - 8, 8)] = True  # the dark module
    if version >= 7:
        bits = util.BCH_type_number(version)
        for i in range(18):
            dark = (bits >> i) & 1 == 1
            found[(i // 3, i % 3 + size - 11)] = dark
            found[(i % 3 + size - 11, i // 3)] = dark
    return found


def _digits(data: bytes) -> str:
    """Return *data* as binary digits, 8 a byte."""
    return format(int.from_bytes(data, "big"), f"0{8 * len(data)}b") if data else ""


def _number(digits: Iterable[str]) -> int:
    return int("".join(digits), 2)


@functools.cache
def _layout(version: int) -> _Layout:
    size = version * 4 + 17
    modules = _blank(size, version)
    for row, col in _information(size, version, 0):
        modules[row][col] = False  # reserved; light while the masks are scored, as qrcode scores them
    order = []  # the data modules in the order the bits fill them: two columns at a time, up then down
    row, step = size - 1, -1
    for right in range(size - 1, 0, -2):
        right = right - 1 if right <= 6 else right  # never in the vertical timing pattern
        while 0 <= row < size:
            order += [(row, col) for col in (right, right - 1) if modules[row][col] is None]
            row += step
        row, step = row - step, -step
    place = {position: n for n, position in enumerate(order)}
    zero, one = len(order), len(order) + 1  # the indexes of the 0 and the 1 after the data bits
    cells = [(r, c) for r in range(size) for c in range(size)]
    gather = itemgetter(*(place.get((r, c), one if modules[r][c] else zero) for r, c in cells))
    transpose = itemgetter(*(r * size + c for c in range(size) for r in range(size)))

    def bits(dark: Callable[[int, int], bool]) -> int:
        return _number(["1" if dark(r, c) else "0" for r, c in cells])

    masks = []
    for pattern in range(8):
        covers = util.mask_func(pattern)
        by_rows = ["1" if (r, c) in place and covers(r, c) else "0" for r, c in cells]
        masks.append((_number(by_rows), _number(by_rows + list(transpose(by_rows)))))
    formats = []
    for pattern in range(8):
        information = _information(size, version, pattern)
        formats.append(bits(lambda r, c: information.get((r, c), False)))  # noqa: B023 - used at once
    after_left, after_ten, count = bits(lambda _r, c: c >= 1), bits(lambda _r, c: c >= 10), size * size
    blocks = tuple((block.data_count, block.total_count - block.data_count)
                   for block in base.rs_blocks(version, ERROR_CORRECT_M))  # fmt: skip
    return _Layout(
        size, gather, transpose, len(order), tuple(masks), tuple(formats), after_left,
        after_above=bits(lambda r, _c: r >= 1), line_after_one=after_left << count | after_left,
        line_after_ten=after_ten << count | after_ten, blocks=blocks, interleave=itemgetter(*_interleaved(blocks)),
    )  # fmt: skip


def _interleaved(blocks: tuple[tuple[int, int], ...]) -> list[int]:
    """Return where each placed codeword comes from: the first data codeword of every block, the second, ...,
    then the error correction codewords the same way (qrcode.util.create_data)."""
    order: list[int] = []
    start = 0
    for column in (0, 1):  # the data codewords, then the error correction codewords
        offsets = list(itertools.accumulate((block[column] for block in blocks), initial=start))
        for i in range(max(block[column] for block in blocks)):
            order += [offset + i for offset, block in zip(offsets[:-1], blocks, strict=True) if i < block[column]]
        start = offsets[-1]
    return order


def _segments(data: bytes) -> list[util.QRData]:
    return list(util.optimal_data_chunks(data, minimum=20))  # as qrcode.QRCode.add_data splits it


def _segment_bits(segment: util.QRData) -> str:
    """Return a segment's data as binary digits (its mode and length not included)."""
    if segment.mode == util.MODE_8BIT_BYTE:
        return _digits(segment.data)
    buffer = util.BitBuffer()  # digits or capitals in runs of 20 or more: rare in an address
    segment.write(buffer)
    return _digits(bytes(buffer.buffer))[: len(buffer)]


def _data_bits(segments: list[util.QRData]) -> tuple[int, str]:
    """Return the smallest version at error correction M that holds *segments*, and their bits in it."""
    data = [_segment_bits(segment) for segment in segments]
    limits = util.BIT_LIMIT_TABLE[ERROR_CORRECT_M]
    for version in range(1, 41):
        if version in _LENGTHS_WIDEN:
            header = [(util.length_in_bits(s.mode, version), s.mode, len(s)) for s in segments]
            needed = sum(4 + width + len(bits) for (width, _m, _n), bits in zip(header, data, strict=True))
        if needed <= limits[version]:
            parts = (f"{mode:04b}{n:0{width}b}{bits}" for (width, mode, n), bits in zip(header, data, strict=True))
            return version, "".join(parts)
    raise ValueError("too long for a QR code")


@functools.cache
def _remainders(degree: int) -> tuple[int, ...]:
    """Return, for each byte, the Reed-Solomon generator of *degree* times that byte, as one integer."""
    poly = [1]
    for i in range(degree):  # the product of (x - α^i)
        poly = [a ^ (base.gexp(base.glog(b) + i) if b else 0) for a, b in zip([*poly, 0], [0, *poly], strict=True)]
    products = [0]
    for factor in range(1, 256):
        shift = base.glog(factor)
        products.append(int.from_bytes(bytes(base.gexp(base.glog(c) + shift) for c in poly[1:]), "big"))
    return tuple(products)


def _error_correction(data: bytes, degree: int) -> bytes:
    products, top, full = _remainders(degree), 8 * (degree - 1), (1 << 8 * degree) - 1
    remainder = 0
    for byte in data:
        remainder = ((remainder << 8) & full) ^ products[byte ^ (remainder >> top)]
    return remainder.to_bytes(degree, "big")


def _codewords(segments: list[util.QRData]) -> tuple[int, bytes]:
    """Return the version, and the data and error correction codewords interleaved (qrcode.util.create_data)."""
    version, bits = _data_bits(segments)
    layout = _layout(version)
    limit = 8 * sum(count for count, _degree in layout.blocks)
    bits += "0" * min(limit - len(bits), 4)  # the terminator
    bits += "0" * (-len(bits) % 8)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big") + _PADDING[: (limit - len(bits)) // 8]
    corrections, offset = [], 0
    for count, degree in layout.blocks:
        corrections.append(_error_correction(data[offset : offset + count], degree))
        offset += count
    return version, bytes(layout.interleave(data + b"".join(corrections)))


def _runs_and_finders(lines: int, layout: _Layout) -> int:
    """Score runs of five or more and finder-like patterns along *lines* (the rows, then the columns)."""
    same = ~(lines ^ (lines >> 1)) & layout.line_after_one  # a module the colour of the one before it
    five = same & (same >> 1) & (same >> 2) & (same >> 3)  # ... and of the four before it: a run of five ends here
    six = five & (same >> 4)
    score = 3 * five.bit_count() - 2 * six.bit_count()  # each run of n ≥ 5 scores n - 2
    # A module x ends a window of 11 (x+10 to x in its line) that is dark-light-dark×3-light-dark (x+10 to x+4)
    # after four light modules, or the same before four light ones (x+6 to x): found by where that 1:1:3:1:1
    # core ends, and where a run of four holds a dark module.
    at = [lines >> offset for offset in range(7)]  # at[k]: the module k further on in its line, at each x
    core = at[0] & ~at[1] & at[2] & at[3] & at[4] & ~at[5] & at[6]
    dark_in_four = at[0] | at[1] | at[2] | at[3]
    light_after = (core >> 4) & ~dark_in_four & layout.line_after_ten
    light_before = core & ~(dark_in_four >> 7) & layout.line_after_ten
    return score + 40 * (light_after.bit_count() + light_before.bit_count())


def _penalty(rows: int, lines: int, layout: _Layout) -> int:
    """Score a masked matrix as qrcode.util.lost_point does (lower is better)."""
    score = _runs_and_finders(lines, layout)
    size = layout.size
    left = ~(rows ^ (rows >> 1)) & layout.after_left
    above = ~(rows ^ (rows >> size)) & layout.after_above
    score += 3 * (left & (left >> size) & above).bit_count()  # 2×2 blocks of one colour
    dark = float(rows.bit_count()) / (size**2)
    return score + int(abs(dark * 100 - 50) / 5) * 10


def qr_matrix(text: str) -> list[str]:
    """Return the modules of *text*'s QR code (error correction M), row by row: '1' dark, '0' light."""
    size, matrix = _matrix(text)
    digits = format(matrix, f"0{size * size}b")
    return [digits[n : n + size] for n in range(0, size * size, size)]


def _matrix(text: str) -> tuple[int, int]:
    """Return the size of *text*'s QR code and its modules as one integer, row after row (a bit a module, 1 dark)."""
    version, codewords = _codewords(_segments(text.encode("utf-8")))
    layout = _layout(version)
    bits = _digits(codewords)
    digits = "".join(layout.gather(bits[: layout.data_bits].ljust(layout.data_bits, "0") + "01"))
    rows, lines = int(digits, 2), int(digits + "".join(layout.transpose(digits)), 2)
    scores = [_penalty(rows ^ by_rows, lines ^ as_lines, layout) for by_rows, as_lines in layout.masks]
    best = scores.index(min(scores))  # the first of the lowest, as qrcode chooses
    return layout.size, rows ^ layout.masks[best][0] | layout.format_bits[best]


def qr_png(text: str) -> bytes:
    """Return *text*'s QR code as a 1-bit greyscale PNG, one pixel a module, with a light border of BORDER.

    A few hundred bytes: the page scales it up without smoothing (CSS image-rendering: pixelated).
    """
    size, matrix = _matrix(text)
    width = size + 2 * BORDER
    modules = format(matrix, f"0{size * size}b").translate(_AS_PIXELS)
    light, filled = "1" * BORDER, "1" * (-width % 8)  # the border, and the bits that fill a row's last byte
    blank = _NO_FILTER + "1" * (width + len(filled))
    rows = (f"{_NO_FILTER}{light}{modules[n : n + size]}{light}{filled}" for n in range(0, size * size, size))
    pixels = blank * BORDER + "".join(rows) + blank * BORDER  # each row: its filter byte, then its pixels
    # Stored, not compressed: a code's modules are near random, and compressing saved 11% of its bytes for a
    # tenth of the time it takes to draw.
    data = zlib.compress(int(pixels, 2).to_bytes(len(pixels) // 8, "big"), 0)
    header = struct.pack(">IIBBBBB", width, width, 1, 0, 0, 0, 0)  # 1 bit, greyscale, no interlace
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def main() -> None:
    """Draw the code of each address read from stdin (one a line); write each PNG after its length (4 bytes).

    qr_workers.py runs this in processes of its own, to draw a first install's codes on every CPU. They
    yield to the installing process, which writes the rows meanwhile and would otherwise wait for a CPU.
    """
    os.nice(WORKER_NICENESS)
    out = sys.stdout.buffer
    for line in sys.stdin.buffer.read().decode("utf-8").splitlines():
        png = qr_png(line)
        out.write(struct.pack(">I", len(png)) + png)
    out.flush()


if __name__ == "__main__":
    main()
