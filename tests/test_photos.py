"""Photos attached to notices: what is refused and why, what metadata is stripped, how they are stored."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import time
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile, PngImagePlugin

from kiosk.data import photos
from kiosk.data.photos import MAX_SIDE, PhotoRejected, is_photo_name, remove_unused, store_photo

RED = (220, 20, 20)
BLUE = (20, 20, 220)
SECRETS = [b"WHEREABOUTS", b"SnoopCam", b"XMPSECRET", b"COMMENTSECRET", b"TEXTSECRET"]


def encoded(image: Image.Image, image_format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **params)
    return buffer.getvalue()


def red_left_blue_right(size: tuple[int, int] = (400, 200)) -> Image.Image:
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


def phone_exif(orientation: int = 1) -> Image.Exif:
    """EXIF as a phone writes it: camera, orientation and where the photo was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SnoopCam"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (39.0, 54.0, 27.5)
    gps[ExifTags.GPS.GPSProcessingMethod] = b"ASCII\x00\x00\x00WHEREABOUTS"
    return exif


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def noisy_jpeg(size: tuple[int, int] = (400, 300)) -> bytes:
    return encoded(Image.effect_noise(size, 60).convert("RGB"), "JPEG", quality=90)


def png_of_size(width: int, height: int) -> bytes:
    """A valid black 1-bit PNG of any size: small on disk, huge once decoded; built without Pillow."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then the pixels
    rows_at_once = max(1, (1 << 20) // len(row))
    pixels = b"".join(
        compressor.compress(row * min(rows_at_once, height - done)) for done in range(0, height, rows_at_once)
    )
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels + compressor.flush())
        + chunk(b"IEND", b"")
    )


class EndlessStream(io.RawIOBase):
    """An upload that never ends, counting what is read of it."""

    def __init__(self) -> None:
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        buffer[:] = b"\xff" * len(buffer)
        self.bytes_read += len(buffer)
        return len(buffer)


def stored(folder: Path, name: str) -> Image.Image:
    image = Image.open(folder / name)
    image.load()
    return image


def rejection(data: bytes, folder: Path, **limits: Any) -> PhotoRejected:
    with pytest.raises(PhotoRejected) as caught:
        store_photo(data, folder, **limits)
    assert not folder.exists() or not any(folder.iterdir()), "nothing is stored for a refused upload"
    return caught.value


def test_jpeg_loses_all_metadata_and_is_turned_upright(tmp_path: Path) -> None:
    # Orientation 6: the camera was turned; the picture shows rotated 90° clockwise.
    original = encoded(
        red_left_blue_right(),
        "JPEG",
        quality=95,
        exif=phone_exif(orientation=6),
        comment=b"COMMENTSECRET",
        xmp=b"<x:xmpmeta>XMPSECRET</x:xmpmeta>",
        icc_profile=srgb_profile(),
    )
    assert all(secret in original for secret in SECRETS[:4])

    name = store_photo(original, tmp_path)

    assert name.endswith(".jpg") and is_photo_name(name)
    data = (tmp_path / name).read_bytes()
    assert not [secret for secret in SECRETS if secret in data]
    assert b"Exif" not in data and b"ICC_PROFILE" not in data and b"http://ns.adobe.com/xap" not in data
    photo = stored(tmp_path, name)
    assert photo.format == "JPEG"
    assert len(photo.getexif()) == 0
    assert not {"exif", "xmp", "comment", "icc_profile"} & photo.info.keys()
    assert photo.size == (200, 400)
    assert close_to(photo.getpixel((100, 50)), RED), "the left of the sensor is the top of the scene"
    assert close_to(photo.getpixel((100, 350)), BLUE)


def close_to(pixel: object, colour: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(got - want) < 30 for got, want in zip(pixel, colour, strict=False))


def test_png_loses_text_chunks_and_keeps_transparency(tmp_path: Path) -> None:
    image = Image.new("RGBA", (60, 40), (*RED, 255))
    image.paste((0, 0, 0, 0), (0, 0, 30, 40))
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "TEXTSECRET at 39.9N 116.4E")
    text.add_text("Location", "WHEREABOUTS", zip=True)
    text.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>XMPSECRET</x:xmpmeta>")
    original = encoded(image, "PNG", pnginfo=text, exif=phone_exif(), icc_profile=srgb_profile())

    name = store_photo(original, tmp_path)

    assert name.endswith(".png")
    data = (tmp_path / name).read_bytes()
    assert not [secret for secret in SECRETS if secret in data]
    for chunk_type in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"):
        assert chunk_type not in data
    photo = stored(tmp_path, name)
    assert isinstance(photo, PngImagePlugin.PngImageFile)
    assert photo.text == {} and len(photo.getexif()) == 0
    assert photo.mode == "RGBA"
    assert photo.getpixel((5, 5)) == (0, 0, 0, 0) and photo.getpixel((55, 5)) == (*RED, 255)


def test_palette_png_with_a_transparent_colour_stays_transparent(tmp_path: Path) -> None:
    image = Image.new("P", (20, 20), 0)
    image.putpalette([255, 255, 255, *RED])
    image.paste(1, (10, 0, 20, 20))

    photo = stored(tmp_path, store_photo(encoded(image, "PNG", transparency=0), tmp_path))

    assert photo.mode == "RGBA"
    assert photo.getpixel((5, 5)) == (255, 255, 255, 0) and photo.getpixel((15, 5)) == (*RED, 255)


def test_webp_is_stored_as_webp_without_metadata(tmp_path: Path) -> None:
    original = encoded(
        red_left_blue_right(),
        "WEBP",
        exif=phone_exif(orientation=3),
        xmp=b"<x:xmpmeta>XMPSECRET</x:xmpmeta>",
        icc_profile=srgb_profile(),
    )

    name = store_photo(original, tmp_path)

    assert name.endswith(".webp")
    data = (tmp_path / name).read_bytes()
    assert not [secret for secret in SECRETS if secret in data]
    for chunk_type in (b"EXIF", b"XMP ", b"ICCP"):
        assert chunk_type not in data
    photo = stored(tmp_path, name)
    assert photo.format == "WEBP" and len(photo.getexif()) == 0
    assert close_to(photo.getpixel((50, 100)), BLUE), "orientation 3: turned half a circle"


@pytest.mark.parametrize("image_format", ["PNG", "WEBP"])
def test_an_animation_keeps_its_first_frame(tmp_path: Path, image_format: str) -> None:
    frames = [Image.new("RGB", (30, 30), RED), Image.new("RGB", (30, 30), BLUE)]
    original = encoded(frames[0], image_format, save_all=True, append_images=frames[1:], duration=200, loop=0)
    assert getattr(Image.open(io.BytesIO(original)), "n_frames", 1) == 2

    photo = stored(tmp_path, store_photo(original, tmp_path))

    assert getattr(photo, "n_frames", 1) == 1
    assert close_to(photo.getpixel((15, 15)), RED)


def test_a_jpeg_with_a_second_image_inside_is_stored_as_a_plain_jpeg(tmp_path: Path) -> None:
    frames = [red_left_blue_right(), Image.new("RGB", (400, 200), BLUE)]
    original = encoded(frames[0], "MPO", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(original)).format == "MPO"

    name = store_photo(original, tmp_path)

    photo = stored(tmp_path, name)
    assert name.endswith(".jpg") and photo.format == "JPEG"
    assert close_to(photo.getpixel((50, 100)), RED)


def test_a_large_photo_is_scaled_down_keeping_its_shape(tmp_path: Path) -> None:
    big = encoded(Image.new("RGB", (4000, 3000), RED), "JPEG")
    tall = encoded(Image.new("RGB", (3000, 4000), BLUE), "PNG")

    assert stored(tmp_path, store_photo(big, tmp_path)).size == (MAX_SIDE, 1500)
    assert stored(tmp_path, store_photo(tall, tmp_path)).size == (1500, MAX_SIDE)
    assert stored(tmp_path, store_photo(big, tmp_path, max_side=400)).size == (400, 300)


def test_a_cmyk_jpeg_is_stored_as_rgb(tmp_path: Path) -> None:
    original = encoded(Image.new("CMYK", (40, 40), (0, 0, 0, 0)), "JPEG")
    assert stored(tmp_path, store_photo(original, tmp_path)).mode == "RGB"


def test_the_same_photo_twice_is_one_file(tmp_path: Path) -> None:
    photo = noisy_jpeg()

    first = store_photo(photo, tmp_path)
    second = store_photo(io.BytesIO(photo), tmp_path)

    assert first == second
    assert [path.name for path in tmp_path.iterdir()] == [first]
    assert store_photo(noisy_jpeg(), tmp_path) != first


def test_an_upload_over_the_limit_is_refused_before_it_is_all_read(tmp_path: Path) -> None:
    upload = EndlessStream()

    with pytest.raises(PhotoRejected) as caught:
        store_photo(io.BufferedReader(upload), tmp_path, max_bytes=100_000)

    assert caught.value.code == "too_big" and "MB" in str(caught.value)
    assert upload.bytes_read < 100_000 + io.DEFAULT_BUFFER_SIZE * 2


def test_the_size_limit_counts_bytes(tmp_path: Path) -> None:
    photo = noisy_jpeg()

    assert rejection(photo, tmp_path, max_bytes=len(photo) - 1).code == "too_big"
    with pytest.raises(PhotoRejected, match="larger than"):
        store_photo(io.BytesIO(photo), tmp_path, max_bytes=len(photo) - 1)
    assert is_photo_name(store_photo(io.BytesIO(photo), tmp_path, max_bytes=len(photo)))


@pytest.mark.parametrize(
    ("data", "code", "format_name"),
    [
        pytest.param(b"", "empty", None, id="zero bytes"),
        pytest.param(b"Water is off on Tuesday.\n", "not_an_image", None, id="text"),
        pytest.param(b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200), "not_an_image", None, id="program renamed .jpg"),
        pytest.param(noisy_jpeg()[:4000], "not_an_image", None, id="truncated JPEG"),
        pytest.param(noisy_jpeg()[:10], "not_an_image", None, id="JPEG header only"),
        pytest.param(
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "unsupported_format",
            "SVG",
            id="SVG",
        ),
        pytest.param(encoded(Image.new("P", (20, 20)), "GIF"), "unsupported_format", "GIF", id="GIF"),
        pytest.param(encoded(Image.new("RGB", (20, 20)), "TIFF"), "unsupported_format", "TIFF", id="TIFF"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "unsupported_format", "PDF", id="PDF"),
        pytest.param(
            b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(100), "unsupported_format", "HEIC", id="HEIC"
        ),
    ],
)
def test_what_is_not_a_jpeg_png_or_webp_photo_is_refused(
    tmp_path: Path, data: bytes, code: str, format_name: str | None
) -> None:
    refused = rejection(data, tmp_path)

    assert refused.code == code
    assert refused.format_name == format_name
    assert str(refused)
    if format_name:
        assert str(refused).startswith(f"{format_name} files are not accepted")


def test_an_iphone_photo_in_heic_says_how_to_send_jpeg(tmp_path: Path) -> None:
    refused = rejection(b"\x00\x00\x00\x1cftypheix\x00\x00\x00\x00mif1MiHEheix" + bytes(100), tmp_path)
    assert "Most Compatible" in str(refused)


def test_an_empty_stream_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PhotoRejected) as caught:
        store_photo(io.BytesIO(), tmp_path)
    assert caught.value.code == "empty"


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any pixels are decoded: a bomb must be refused from its header."""

    def load(self: ImageFile.ImageFile) -> None:
        raise AssertionError(f"decoded a {self.size} image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


@pytest.mark.usefixtures("no_decoding")
def test_a_decompression_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    started = time.monotonic()
    bomb = png_of_size(30_000, 30_000)  # 900 M pixels: Pillow itself refuses past 179 M
    assert len(bomb) < 1_000_000

    refused = rejection(bomb, tmp_path)

    assert refused.code == "too_many_pixels"
    assert time.monotonic() - started < 10


@pytest.mark.usefixtures("no_decoding")
def test_a_picture_over_the_pixel_limit_is_refused(tmp_path: Path) -> None:
    assert rejection(png_of_size(8_000, 8_000), tmp_path).code == "too_many_pixels"  # 64 M: our limit, not Pillow's
    refused = rejection(png_of_size(300, 200), tmp_path, max_pixels=50_000)
    assert refused.code == "too_many_pixels" and "300×200" in str(refused)


@pytest.mark.usefixtures("no_decoding")
def test_a_picture_between_pillows_warning_and_its_error_is_refused(tmp_path: Path) -> None:
    bomb = png_of_size(7_000, 7_000)  # 49 M pixels: Pillow warns (past 40 M), and refuses only past 80 M
    assert rejection(bomb, tmp_path).code == "too_many_pixels"  # the warning is an error in these tests
    with pytest.warns(Image.DecompressionBombWarning):  # in service it is only a warning
        assert rejection(bomb, tmp_path).code == "too_many_pixels"


def test_remove_unused_keeps_the_named_photos_and_recent_ones(tmp_path: Path) -> None:
    used = store_photo(noisy_jpeg(), tmp_path)
    unused = store_photo(encoded(Image.new("RGB", (30, 30), RED), "PNG"), tmp_path)
    left_over = tmp_path / f".{unused}.0123456789ab.tmp"  # from a power cut while storing
    left_over.write_bytes(b"half")
    not_ours = tmp_path / "README.txt"
    not_ours.write_text("kept")
    long_ago = time.time() - 3 * 24 * 3600
    for path in tmp_path.iterdir():
        os.utime(path, (long_ago, long_ago))
    just_stored = store_photo(encoded(Image.new("RGB", (30, 30), BLUE), "WEBP"), tmp_path)

    assert remove_unused(tmp_path, {used}) == 2

    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([used, just_stored, "README.txt"])
    assert remove_unused(tmp_path, {used}, grace=timedelta(0)) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([used, "README.txt"])
    assert remove_unused(tmp_path / "missing", set()) == 0


def test_storing_again_makes_an_old_photo_recent(tmp_path: Path) -> None:
    photo = noisy_jpeg()
    name = store_photo(photo, tmp_path)
    long_ago = time.time() - 3 * 24 * 3600
    os.utime(tmp_path / name, (long_ago, long_ago))

    store_photo(photo, tmp_path)  # chosen again for a notice still being written

    assert remove_unused(tmp_path, set()) == 0


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("0" * 64 + ".jpg", True),
        ("a" * 64 + ".webp", True),
        ("A" * 64 + ".jpg", False),
        ("0" * 64 + ".gif", False),
        ("../" + "0" * 61 + ".jpg", False),
        ("0" * 64 + ".jpg/..", False),
        ("", False),
    ],
)
def test_photo_names(name: str, valid: bool) -> None:
    assert is_photo_name(name) is valid


# Stores the photos given on the command line in as many threads at once, in a process of its own, and
# prints the growth of its peak resident memory (kB), then what became of each photo. The peak is the
# process's own VmHWM: getrusage's ru_maxrss would carry over the peak of the test process it was forked from.
PEAK_MEMORY = """
import re, sys, threading
from pathlib import Path
from kiosk.data.photos import PhotoRejected, store_photo
def peak():
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
uploads = [Path(name).read_bytes() for name in sys.argv[2:]]
outcomes = []
def store(data):
    try:
        outcomes.append(store_photo(data, Path(sys.argv[1])))
    except PhotoRejected as rejected:
        outcomes.append(f"{rejected.code}: {rejected}")
before = peak()
threads = [threading.Thread(target=store, args=(data,)) for data in uploads]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(peak() - before)
print("\\n".join(outcomes))
"""


def peak_memory_storing(tmp_path: Path, *uploads: bytes) -> tuple[int, list[str]]:
    """Store *uploads* at once in a fresh process; return how much its peak memory grew (MB) and the outcomes."""
    names = []
    for number, data in enumerate(uploads):
        (tmp_path / f"upload-{number}").write_bytes(data)
        names.append(str(tmp_path / f"upload-{number}"))
    done = subprocess.run([sys.executable, "-c", PEAK_MEMORY, str(tmp_path / "photos"), *names],
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    growth, *outcomes = done.stdout.splitlines()
    return int(growth) // 1024, outcomes


def test_a_small_png_declaring_fifty_million_pixels_is_refused_before_it_takes_memory(tmp_path: Path) -> None:
    bomb = png_of_size(1, 50_000_000)  # 97 KB; decoded, it took the kiosk process to 1.3 GB
    assert len(bomb) < 100_000

    growth, outcomes = peak_memory_storing(tmp_path, bomb)

    assert outcomes == [
        "too_many_pixels: The picture is 1×50000000 pixels; at most 40 million pixels, 30000 on the longer side,"
        " are accepted. Choose a smaller picture, or take the photo at a lower resolution."
    ]
    assert growth < 100, f"refused from its header, yet the process grew by {growth} MB"


@pytest.mark.usefixtures("no_decoding")
def test_a_picture_one_pixel_wide_is_refused_though_under_the_pixel_limit(tmp_path: Path) -> None:
    # Pillow keeps a pointer per row: 1×39 M pixels would cost about a gigabyte.
    refused = rejection(png_of_size(1, 39_000_000), tmp_path)
    assert refused.code == "too_many_pixels" and "1×39000000" in str(refused)


def test_two_large_pictures_sent_at_once_are_decoded_one_after_the_other(tmp_path: Path) -> None:
    picture = png_of_size(6_000, 6_000)  # 36 M pixels, under the limit: about 100 MB while it is decoded
    one, _outcomes = peak_memory_storing(tmp_path, picture)
    two, outcomes = peak_memory_storing(tmp_path, picture, picture)
    assert len(outcomes) == 2 and all(is_photo_name(name) for name in outcomes), outcomes
    assert one > 50, f"the measurement sees a decode: {one} MB"
    assert two < one * 1.5, f"one picture took {one} MB, two sent at once {two} MB: they were decoded together"


def test_a_photo_sent_while_another_is_decoded_is_asked_again_after_a_bounded_wait(tmp_path: Path) -> None:
    with photos.DECODING:  # another upload is being decoded
        busy = rejection(noisy_jpeg(), tmp_path, wait=0.01)
    assert busy.code == "busy" and "Send this one again in a moment" in str(busy)
    assert is_photo_name(store_photo(noisy_jpeg(), tmp_path)), "once it is done, the next photo is taken"


def test_the_photo_store_is_bounded_and_a_photo_already_there_still_counts_as_stored(tmp_path: Path) -> None:
    photo = noisy_jpeg()
    first = store_photo(photo, tmp_path)
    room = (tmp_path / first).stat().st_size + 10

    with pytest.raises(PhotoRejected) as caught:
        store_photo(encoded(Image.new("RGB", (300, 200), RED), "PNG"), tmp_path, max_store_bytes=room)

    assert caught.value.code == "store_full" and "Take photos off notices" in str(caught.value)
    assert store_photo(photo, tmp_path, max_store_bytes=room) == first, "stored before: it takes no new room"
    assert [path.name for path in tmp_path.iterdir()] == [first]
