"""The download helper against a loopback server: mirrors, checksums, HTML pages, resume, overrides."""

import dataclasses
import hashlib
import io
import zipfile

import pytest
from servers import FileServer, Route

from model_package.data.download import DownloadError, fetch
from model_package.metadata import sources


def _zip_bytes(size: int = 200_000) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("payload.bin", bytes(range(256)) * (size // 256))
    return buffer.getvalue()


DATA = _zip_bytes()
SHA = hashlib.sha256(DATA).hexdigest()
HTML = b"<!DOCTYPE html>\n<html><head><title>EMNIST</title></head><body>The dataset has moved.</body></html>\n"


def _source(*urls: str, sha256: str = SHA) -> sources.Source:
    return dataclasses.replace(sources.EMNIST, urls=tuple(urls), sha256=sha256)


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("MODEL_PACKAGE_EMNIST_URL", raising=False)
    monkeypatch.delenv("MODEL_PACKAGE_EMNIST_SHA256", raising=False)


@pytest.fixture
def server():
    with FileServer() as srv:
        yield srv


def test_second_mirror_used_when_first_is_404(server, tmp_path, clean_env):
    server.routes["/good/matlab.zip"] = Route(DATA)
    path = fetch(_source(server.url("/missing/matlab.zip"), server.url("/good/matlab.zip")), tmp_path / "emnist")
    assert path.read_bytes() == DATA
    assert server.requests == ["/missing/matlab.zip", "/good/matlab.zip"]
    assert _files(tmp_path) == ["emnist/matlab.zip"]


def test_wrong_checksum_is_refused_and_nothing_is_left(server, tmp_path, clean_env):
    server.routes["/matlab.zip"] = Route(DATA)
    with pytest.raises(DownloadError, match=r"sha256 [0-9a-f]{64}, expected 0{64}") as err:
        fetch(_source(server.url("/matlab.zip"), sha256="0" * 64), tmp_path / "downloaded" / "emnist")
    assert server.url("/matlab.zip") in str(err.value)
    assert list(tmp_path.iterdir()) == []  # not even the folders it made


def test_html_page_is_refused_with_a_message_that_says_so(server, tmp_path, clean_env):
    server.routes["/matlab.zip"] = Route(HTML, content_type="text/html")
    with pytest.raises(DownloadError, match="HTML page, not a zip"):
        fetch(_source(server.url("/matlab.zip")), tmp_path)
    assert _files(tmp_path) == []


def test_error_lists_every_source_and_what_it_gave(server, tmp_path, clean_env):
    server.routes["/html"] = Route(HTML, content_type="text/html")
    server.routes["/forbidden"] = Route(b"no", status=403)
    urls = [server.url("/gone"), server.url("/html"), server.url("/forbidden"), "http://127.0.0.1:9/closed"]
    with pytest.raises(DownloadError) as err:
        fetch(_source(*urls), tmp_path)
    message = str(err.value)
    lines = [line for line in message.splitlines() if line.startswith("  - ")]
    assert len(lines) == 4
    assert "HTTP 404" in lines[0] and "HTML page" in lines[1] and "HTTP 403" in lines[2]
    assert "connection failed" in lines[3]
    assert "MODEL_PACKAGE_EMNIST_URL" in message
    assert _files(tmp_path) == []


def test_connection_cut_halfway_resumes_on_the_next_call(server, tmp_path, clean_env):
    route = server.routes["/matlab.zip"] = Route(DATA, cut_after=len(DATA) // 2)
    source = _source(server.url("/matlab.zip"))
    with pytest.raises(DownloadError, match=r"(?s)connection (lost|closed) after .*kept; the next call resumes it"):
        fetch(source, tmp_path)
    assert _files(tmp_path) == [".matlab.zip.part"]  # never under the final name
    kept = (tmp_path / ".matlab.zip.part").stat().st_size
    assert 0 < kept <= len(DATA) // 2
    path = fetch(source, tmp_path)
    assert path.read_bytes() == DATA
    assert route.requests[-1].get("range") == f"bytes={kept}-"  # resumed, not restarted
    assert _files(tmp_path) == ["matlab.zip"]


def test_server_without_ranges_restarts_from_zero(server, tmp_path, clean_env):
    server.routes["/matlab.zip"] = Route(DATA, ranges=False, cut_after=1000)
    source = _source(server.url("/matlab.zip"))
    with pytest.raises(DownloadError):
        fetch(source, tmp_path)
    assert fetch(source, tmp_path).read_bytes() == DATA


def test_verified_file_is_never_fetched_again(server, tmp_path, clean_env):
    server.routes["/matlab.zip"] = Route(DATA)
    source = _source(server.url("/matlab.zip"))
    fetch(source, tmp_path)
    fetch(source, tmp_path)
    assert server.requests == ["/matlab.zip"]


def test_corrupt_file_in_place_is_fetched_again(server, tmp_path, clean_env):
    server.routes["/matlab.zip"] = Route(DATA)
    (tmp_path / "matlab.zip").write_bytes(DATA[:100])
    assert fetch(_source(server.url("/matlab.zip")), tmp_path).read_bytes() == DATA


def test_local_path_override_needs_no_server(tmp_path, monkeypatch):
    local = tmp_path / "elsewhere" / "my-copy.zip"
    local.parent.mkdir()
    local.write_bytes(DATA)
    monkeypatch.setenv("MODEL_PACKAGE_EMNIST_URL", str(local))
    monkeypatch.setenv("MODEL_PACKAGE_EMNIST_SHA256", SHA)
    # the built-in mirrors are never tried: they point nowhere reachable
    path = fetch(_source("http://127.0.0.1:9/unreachable", sha256="f" * 64), tmp_path / "emnist")
    assert path.read_bytes() == DATA


def test_url_override_replaces_the_mirror_list(server, tmp_path, monkeypatch):
    server.routes["/override.zip"] = Route(DATA)
    monkeypatch.setenv("MODEL_PACKAGE_EMNIST_URL", server.url("/override.zip"))
    monkeypatch.setenv("MODEL_PACKAGE_EMNIST_SHA256", SHA)
    fetch(_source(server.url("/mirror.zip"), sha256="f" * 64), tmp_path)
    assert server.requests == ["/override.zip"]
