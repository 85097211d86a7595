"""Reading untrusted images: base64 payloads and URLs, with every limit a public endpoint needs.

- Bytes are bounded (``MAX_BYTES``) and pixels are bounded (``MAX_PIXELS``, checked from the
  header before any decoding, so a decompression bomb is refused without being expanded).
- URLs: only http and https; the host is resolved and EVERY address it resolves to must be a
  public one (no loopback, private, link-local, carrier-grade NAT, multicast, reserved,
  unspecified, or IPv4 written inside IPv6); the connection then goes to the checked address
  (no second lookup for DNS rebinding); redirects are followed by hand, each hop checked again;
  connect and read time-outs, and an overall deadline that a server dripping bytes cannot stretch.

Every refusal is a :class:`BadImage` with an HTTP status and a message for the caller.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http.client
import io
import ipaddress
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

from PIL import Image, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024  # 10 MiB of encoded image
MAX_PIXELS = 25_000_000  # e.g. 5000 x 5000
MAX_REDIRECTS = 3
TIMEOUT_S = 5.0  # per connect / read
DEADLINE_S = 15.0  # for a whole fetch, redirects included


class BadImage(ValueError):
    """The request's image cannot be used; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None or ip in ipaddress.ip_network("64:ff9b::/96"):  # IPv4 inside IPv6, NAT64
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local)


def decode_base64_image(text: str) -> bytes:
    """Bytes of a base64 image, with or without a ``data:image/...;base64,`` prefix."""
    if not isinstance(text, str) or not text:
        raise BadImage("'image' must be a non-empty base64 string")
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if ";base64" not in header:
            raise BadImage("a data URL 'image' must be base64-encoded")
    if len(text) > MAX_BYTES * 4 // 3 + 4:
        raise BadImage(f"image larger than {MAX_BYTES} bytes", status=413)
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadImage("'image' is not valid base64") from None


def open_image(data: bytes) -> Image.Image:
    """A decoded PIL image from untrusted bytes (size checked before decoding)."""
    if len(data) > MAX_BYTES:
        raise BadImage(f"image larger than {MAX_BYTES} bytes", status=413)
    try:
        with warnings.catch_warnings():  # PIL's own bomb warning becomes a refusal, not a log line
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise BadImage(f"image of {width} x {height} pixels exceeds {MAX_PIXELS} pixels", status=413)
        image.load()
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(f"image exceeds {MAX_PIXELS} pixels", status=413) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as err:
        raise BadImage(f"not a readable image ({type(err).__name__}: {err})") from None
    if width < 1 or height < 1:
        raise BadImage("empty image")
    return image


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked beforehand, whatever the host name resolves to now."""

    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # certificate of the host name


def _shut(connection: http.client.HTTPConnection) -> None:
    """Unblock any read on the connection's socket (the watchdog of ``fetch_url``)."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _resolve(host: str, port: int, allow: Callable[[str], bool]) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise BadImage(f"cannot resolve host {host!r} ({err})") from None
    addresses = sorted({info[4][0] for info in infos})
    refused = [a for a in addresses if not allow(a)]
    if not addresses or refused:
        raise BadImage(f"host {host!r} resolves to an address that is not allowed ({', '.join(refused)})", status=403)
    return addresses[0]


def fetch_url(url: str, allow: Callable[[str], bool] = is_public_address, max_bytes: int = MAX_BYTES) -> bytes:
    """The body of an http(s) URL on a public host, redirects followed and each hop checked."""
    if not isinstance(url, str) or len(url) > 2048:
        raise BadImage("'image_url' must be a URL string of at most 2048 characters")
    deadline = time.monotonic() + DEADLINE_S
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise BadImage(f"only http and https URLs are allowed, not {parts.scheme or 'a bare path'!r}")
        if parts.username is not None or parts.password is not None:
            raise BadImage("URLs with credentials are not allowed")
        host = parts.hostname
        if not host:
            raise BadImage("the URL has no host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise BadImage("the URL has an invalid port") from None
        address = _resolve(host, port, allow)
        timeout = max(0.1, min(TIMEOUT_S, deadline - time.monotonic()))
        cls = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        connection = cls(host, address, port, timeout)
        # The per-recv time-out cannot stop a server that sends one byte every few seconds, in the
        # headers or the body: at the deadline a watchdog shuts the socket, and the read fails.
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, (connection,))
        watchdog.daemon = True
        watchdog.start()
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("GET", path, headers={"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": "model-package"})
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise BadImage(f"redirect without a Location from {url}")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise BadImage(f"fetching the image gave HTTP {response.status}", status=400)
            length = response.getheader("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise BadImage(f"image larger than {max_bytes} bytes", status=413)
            body = bytearray()
            while chunk := response.read1(64 * 1024):  # what one recv gives, not a wait for 64 KiB
                body += chunk
                if len(body) > max_bytes:
                    raise BadImage(f"image larger than {max_bytes} bytes", status=413)
                if time.monotonic() > deadline:
                    raise BadImage("fetching the image took too long", status=408)
            if time.monotonic() > deadline or (length and length.isdigit() and len(body) < int(length)):
                raise OSError("the connection ended early")  # cut by the watchdog, or by the server
            return bytes(body)
        except (OSError, http.client.HTTPException) as err:
            if time.monotonic() >= deadline:
                raise BadImage(f"fetching the image took more than {DEADLINE_S:g} s", status=408) from None
            raise BadImage(f"could not fetch the image ({type(err).__name__})", status=400) from None
        finally:
            watchdog.cancel()
            connection.close()
    raise BadImage(f"more than {MAX_REDIRECTS} redirects")
