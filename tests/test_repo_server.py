"""The county's repository server over real HTTP on 127.0.0.1: whole files, ranges, ETags, and only its root."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kiosk.county.repo_files import RepositoryApp
from tests.servers import serving

BLOB = bytes(range(256)) * 4  # 1024 bytes, every offset recognisable
METADATA = b'{"signed": {"_type": "timestamp", "version": 3}, "signatures": []}'
SECRET = b"outside the repository root: never served"
PRIVATE_KEY = b"-----BEGIN PRIVATE KEY-----\nnot for anyone\n-----END PRIVATE KEY-----\n"
BLOB_PATH = "/targets/county/0123abcd.shard-000-of-001.json.gz"


@dataclass
class Served:
    """A repository folder served on loopback, with a secret file just outside its root."""

    root: Path
    secret: Path
    port: int

    def request(self, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
        """Send one request with *path* exactly as given (no client-side normalisation); headers read case-blind."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("repo-server")
    root = base / "repo"
    (root / "metadata").mkdir(parents=True)
    (root / "metadata" / "timestamp.json").write_bytes(METADATA)
    (root / BLOB_PATH.lstrip("/")).parent.mkdir(parents=True)
    (root / BLOB_PATH.lstrip("/")).write_bytes(BLOB)
    secret = base / "secret.txt"
    secret.write_bytes(SECRET)
    (root / "targets" / "escape.txt").symlink_to(secret)
    # What `county init` used to accept: the keys folder inside the repository; and what else may sit there.
    (root / "keys" / "root").mkdir(parents=True)
    (root / "keys" / "root" / "root-1.pem").write_bytes(PRIVATE_KEY)
    (root / "repository.json").write_bytes(PRIVATE_KEY)
    (root / "metadata" / ".timestamp.json.tmp").write_bytes(PRIVATE_KEY)  # the publisher's half-written file
    with serving(RepositoryApp(root)) as url:
        port = urlsplit(url).port
        assert port is not None
        yield Served(root, secret, port)


def test_get_serves_the_whole_file_with_an_etag_and_byte_ranges(served: Served) -> None:
    status, headers, body = served.request("GET", BLOB_PATH)
    assert status == 200 and body == BLOB
    assert headers["Content-Length"] == str(len(BLOB))
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["ETag"].startswith('"') and headers["ETag"].endswith('"') and len(headers["ETag"]) > 2
    assert headers["Content-Type"] == "application/gzip"


def test_a_matching_if_none_match_answers_304_without_a_body(served: Served) -> None:
    etag = served.request("GET", BLOB_PATH)[1]["ETag"]
    status, headers, body = served.request("GET", BLOB_PATH, {"If-None-Match": etag})
    assert status == 304 and body == b"" and headers["ETag"] == etag
    status, _headers, body = served.request("GET", BLOB_PATH, {"If-None-Match": '"some-other-version"'})
    assert status == 200 and body == BLOB


def test_an_etag_in_a_list_or_a_star_answers_304(served: Served) -> None:
    """A cache holding several versions asks with all their ETags at once (RFC 9110 If-None-Match)."""
    etag = served.request("GET", BLOB_PATH)[1]["ETag"]
    for asked in (f'"older", {etag}', "*"):
        status, headers, body = served.request("GET", BLOB_PATH, {"If-None-Match": asked})
        assert status == 304 and body == b"" and headers["ETag"] == etag, asked


@pytest.mark.parametrize(
    ("wanted", "start", "end"),
    [
        ("bytes=10-19", 10, 19),
        ("bytes=-5", len(BLOB) - 5, len(BLOB) - 1),  # the last five bytes
        ("bytes=100-", 100, len(BLOB) - 1),  # from 100 to the end
        ("bytes=1000-5000", 1000, len(BLOB) - 1),  # an end past the file is clipped to it
    ],
)
def test_a_range_answers_206_with_exactly_those_bytes(served: Served, wanted: str, start: int, end: int) -> None:
    status, headers, body = served.request("GET", BLOB_PATH, {"Range": wanted})
    assert status == 206
    assert body == BLOB[start : end + 1]
    assert headers["Content-Range"] == f"bytes {start}-{end}/{len(BLOB)}"
    assert headers["Content-Length"] == str(end - start + 1)


@pytest.mark.parametrize(
    # werkzeug also refuses a suffix longer than the file (bytes=-5000); kiosks resume with bytes=N- only.
    "wanted",
    ["bytes=1024-", "bytes=5000-6000", "bytes=20-10", "bytes=-0", "bytes=-", "pages=1-2", "bytes=-5000"],
)
def test_an_unsatisfiable_range_answers_416_with_the_size(served: Served, wanted: str) -> None:
    status, headers, body = served.request("GET", BLOB_PATH, {"Range": wanted})
    assert status == 416 and body == b""
    assert headers["Content-Range"] == f"bytes */{len(BLOB)}"


def test_if_range_with_a_stale_etag_answers_the_whole_file(served: Served) -> None:
    etag = served.request("GET", BLOB_PATH)[1]["ETag"]
    status, headers, body = served.request("GET", BLOB_PATH, {"Range": "bytes=10-19", "If-Range": '"stale"'})
    assert status == 200 and body == BLOB and "Content-Range" not in headers
    status, _headers, body = served.request("GET", BLOB_PATH, {"Range": "bytes=10-19", "If-Range": etag})
    assert status == 206 and body == BLOB[10:20]


def test_head_has_the_headers_and_no_body(served: Served) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        connection.request("HEAD", BLOB_PATH)
        head = connection.getresponse()
        assert head.status == 200 and head.read() == b""
        assert head.getheader("Content-Length") == str(len(BLOB)) and head.getheader("ETag")
        # A body after the headers would be read as the start of the next response on this connection.
        connection.request("GET", "/metadata/timestamp.json")
        after = connection.getresponse()
        assert after.status == 200 and after.read() == METADATA
    finally:
        connection.close()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_writing_methods_are_refused_with_405(served: Served, method: str) -> None:
    status, headers, _body = served.request(method, BLOB_PATH)
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert (served.root / BLOB_PATH.lstrip("/")).read_bytes() == BLOB


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/metadata/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/metadata/%2E%2E/%2e%2e/secret.txt",
        "/targets/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/targets/escape.txt",  # a symlink inside the root pointing outside it
        "/metadata/timestamp.json%00.png",
        "/metadata",  # a folder, not a file
        "/",
        "/missing.json",
    ],
)
def test_nothing_outside_the_root_is_ever_served(served: Served, path: str) -> None:
    status, _headers, body = served.request("GET", path)
    assert status == 404 and SECRET not in body


@pytest.mark.parametrize(
    "path",
    [
        "/metadata/../repository.json",
        "/metadata/../keys/root/root-1.pem",
        "/targets/%2e%2e/keys/root/root-1.pem",
        "/keys/root/root-1.pem",
        "/repository.json",
        "/metadata/.timestamp.json.tmp",
        "/metadata/./timestamp.json",
    ],
)
def test_only_files_of_metadata_and_targets_are_served(served: Served, path: str) -> None:
    """The field: with the keys inside the repository, /metadata/../keys/root/root-1.pem gave the root key."""
    status, _headers, body = served.request("GET", path)
    assert status == 404 and PRIVATE_KEY not in body


def test_an_absolute_path_stays_inside_the_root(served: Served) -> None:
    for path in ("/" + str(served.secret), "//" + str(served.secret).lstrip("/"), "//etc/hostname"):
        status, _headers, body = served.request("GET", path)
        assert status == 404 and SECRET not in body, path


def test_metadata_is_never_cached_and_targets_are_cached_for_long(served: Served) -> None:
    _status, metadata, body = served.request("GET", "/metadata/timestamp.json")
    assert body == METADATA and metadata["Cache-Control"] == "no-cache"
    assert metadata["Content-Type"] == "application/json"
    _status, target, _body = served.request("GET", BLOB_PATH)
    assert target["Cache-Control"].startswith("public") and "max-age=31536000" in target["Cache-Control"]
