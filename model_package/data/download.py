"""One download helper for every data set: mirrors in order, resumable, verified, atomic.

    path = fetch(sources.EMNIST, downloaded_dir("emnist"))

For each source in turn (the built-in mirrors, or only ``$MODEL_PACKAGE_<NAME>_URL`` when set, a
URL or a local path) the file is streamed through smart_open with a progress bar into
``.<filename>.part`` in the target folder, then checked: it must be a zip (an HTML error page is
named as such) and its sha256 must match (``$MODEL_PACKAGE_<NAME>_SHA256`` overrides the built-in
one). Only then is it renamed to its final name. A verified file already there is never fetched
again. Bytes proven wrong are deleted; a transfer cut short keeps its ``.part`` file, and the next
call resumes it with an HTTP range request where the server allows. If every source fails, one
:class:`DownloadError` lists each source and what it gave.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import requests
import urllib3
import smart_open
from tqdm.auto import tqdm

from model_package.metadata.sources import Source

CHUNK = 1 << 16  # bytes per read: at most this much is lost when a connection breaks
TIMEOUT_S = 60  # per HTTP connect / read


class DownloadError(RuntimeError):
    """No source gave a verified file."""


class _Rejected(Exception):
    """The bytes arrived but are not the file (HTML page, not a zip, wrong checksum)."""


class _Interrupted(Exception):
    """The transfer stopped early; the bytes so far are kept for resuming."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def resolve(source: Source) -> tuple[list[str], str]:
    """(sources to try, expected sha256), the environment's overrides applied."""
    override = os.environ.get(source.url_variable, "").strip()
    sha256 = os.environ.get(source.sha256_variable, "").strip().lower() or source.sha256
    return ([override] if override else list(source.urls)), sha256


def fetch(source: Source, directory: str | os.PathLike) -> Path:
    """``directory/source.filename``, downloaded and verified unless a verified copy is there."""
    directory = Path(directory)
    target = directory / source.filename
    urls, sha256 = resolve(source)
    if target.exists():
        if sha256_of(target) == sha256:
            return target
        print(f"{target} does not match sha256 {sha256}; fetching it again")
    created = [d for d in (directory, *directory.parents) if not d.exists()]  # innermost first
    directory.mkdir(parents=True, exist_ok=True)
    part = directory / f".{source.filename}.part"
    failures: list[str] = []
    for url in urls:
        try:
            _fetch_verified(url, part, sha256)
        except _Rejected as err:
            part.unlink(missing_ok=True)
            failures.append(f"{url}: {err}")
        except _Interrupted as err:  # keep the bytes: the next call resumes
            failures.append(f"{url}: {err}")
        except Exception as err:  # noqa: BLE001 - any failure of one source is reported, then the next is tried
            failures.append(f"{url}: {_describe(err)}")
        else:
            os.replace(part, target)
            return target
    for d in created:  # leave the data dir as it was
        if d.exists() and not any(d.iterdir()):
            d.rmdir()
    kept = f"\nThe partial download {part} is kept; the next call resumes it." if part.exists() else ""
    raise DownloadError(
        f"could not download {source.filename} ({source.name}); tried {len(urls)} source(s):\n"
        + "\n".join(f"  - {line}" for line in failures)
        + f"\nSet {source.url_variable} to a URL or local path of the file"
        f" (and {source.sha256_variable} if its checksum differs)."
        + kept
    )


def _fetch_verified(url: str, part: Path, sha256: str) -> None:
    """Transfer ``url`` into ``part`` (resuming), then verify; a resumed file that fails is fetched whole once."""
    resumed = _transfer(url, part)
    try:
        _verify(part, sha256)
    except _Rejected:
        if not resumed:
            raise
        part.unlink()  # the kept prefix may have come from another version of the file
        _transfer(url, part)
        _verify(part, sha256)


def _is_local(url: str) -> bool:
    scheme = urlparse(url).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt")  # C:\ paths


def _open(url: str):
    params = {"timeout": TIMEOUT_S} if urlparse(url).scheme in ("http", "https") else {}
    return smart_open.open(url, "rb", compression="disable", transport_params=params)


def _transfer(url: str, part: Path) -> bool:
    """Append ``url``'s bytes to ``part`` from its current size; True if it resumed a partial file."""
    offset = part.stat().st_size if part.exists() else 0
    if _is_local(url):
        local = Path(urlparse(url).path if url.startswith("file://") else url).expanduser()
        if not local.is_file():
            raise FileNotFoundError(f"no such file: {local}")
        offset = 0  # a local copy is cheap: always whole
    stream = _open(url)
    try:
        total = _length(stream, url)
        if offset and total is not None and offset >= total:
            offset = 0  # no shorter than the file: not a prefix of it
        if offset:
            try:
                stream.seek(offset)  # an HTTP range request
            except (io.UnsupportedOperation, OSError, requests.RequestException):
                stream.close()  # the server ignores ranges: start again
                stream, offset = _open(url), 0
        received = offset
        desc = part.name.lstrip(".").removesuffix(".part")
        with open(part, "ab" if offset else "wb") as out, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024, desc=desc
        ) as bar:
            try:
                while block := stream.read(CHUNK):
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as err:
                raise _Interrupted(f"connection lost after {received} of {total or '?'} bytes ({_describe(err)})") from err
    finally:
        stream.close()
    if total is not None and received < total:
        raise _Interrupted(f"connection closed after {received} of {total} bytes")
    return bool(offset)


def _length(stream, url: str) -> int | None:
    length = getattr(stream, "content_length", None)  # smart_open's HTTP reader
    if length is not None:
        return length if length >= 0 else None
    if _is_local(url):
        return os.fstat(stream.fileno()).st_size if hasattr(stream, "fileno") else None
    return None


def _verify(path: Path, sha256: str) -> None:
    with open(path, "rb") as f:
        head = f.read(512)
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text or b"<body" in text:
        raise _Rejected(f"an HTML page, not a zip ({path.stat().st_size} bytes starting {head[:40]!r})")
    if not zipfile.is_zipfile(path):
        raise _Rejected(f"not a zip archive ({path.stat().st_size} bytes starting {head[:16]!r})")
    actual = sha256_of(path)
    if actual != sha256:
        raise _Rejected(f"sha256 {actual}, expected {sha256}")


def _describe(err: BaseException) -> str:
    if isinstance(err, requests.HTTPError) and err.response is not None:
        return f"HTTP {err.response.status_code} {err.response.reason}"
    if isinstance(err, requests.ConnectionError):
        return f"connection failed ({type(err).__name__}: {err})"
    if isinstance(err, requests.Timeout):
        return f"timed out after {TIMEOUT_S} s"
    return f"{type(err).__name__}: {err}"
