"""The Lambda handler refuses hostile requests with a 4xx, and none of them reaches a loopback server."""

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image
from servers import FileServer, Route

from model_package.serving import images as images_module
from model_package.serving.images import BadImage, fetch_url, is_public_address
from model_package.serving.lambda_handler import MAX_BODY_BYTES, handler


def _png(size=(40, 20), mode="L", **save) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 255).save(buffer, format="PNG", **save)
    return buffer.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _event(request) -> dict:
    return {"body": json.dumps(request), "isBase64Encoded": False}


@pytest.fixture(scope="module")
def target():
    """A loopback server that would serve an image to anyone who reached it."""
    with FileServer() as server:
        server.routes["/x.png"] = Route(_png(), content_type="image/png")
        yield server


def hostile_events(port: int) -> list[tuple[str, object]]:
    bomb = _png(size=(12000, 12000), mode="1")  # 144 M pixels in a few kB
    noise = io.BytesIO()
    Image.effect_noise((200, 100), 64).save(noise, format="PNG")
    truncated = noise.getvalue()[: len(noise.getvalue()) // 2]
    loopback_urls = [
        f"http://127.0.0.1:{port}/x.png",
        f"http://localhost:{port}/x.png",
        f"http://LOCALHOST:{port}/x.png",
        f"http://localhost.:{port}/x.png",
        f"http://127.1:{port}/x.png",
        f"http://2130706433:{port}/x.png",
        f"http://0x7f000001:{port}/x.png",
        f"http://0177.0.0.1:{port}/x.png",
        f"http://127.0.0.2:{port}/x.png",
        f"http://0.0.0.0:{port}/x.png",
        f"http://[::1]:{port}/x.png",
        f"http://[::ffff:127.0.0.1]:{port}/x.png",
        f"http://[0:0:0:0:0:ffff:7f00:1]:{port}/x.png",
        f"http://user:pw@127.0.0.1:{port}/x.png",
        f"http://example.com@127.0.0.1:{port}/x.png",
        f"https://127.0.0.1:{port}/x.png",
    ]
    private_urls = [
        "http://10.0.0.1/x.png",
        "http://172.16.0.1/x.png",
        "http://192.168.1.1/x.png",
        "http://100.64.0.1/x.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/x.png",
        "http://[fd00::1]/x.png",
        "http://224.0.0.1/x.png",
        "http://[::]/x.png",
    ]
    other_schemes = [
        "file:///etc/passwd",
        "/etc/passwd",
        "x.png",
        "ftp://example.com/x.png",
        "gopher://127.0.0.1:70/",
        "data:image/png;base64," + _b64(_png()),
        "javascript:alert(1)",
        "http:///x.png",
    ]
    events = [
        ("not JSON", {"body": "{not json"}),
        ("JSON list", {"body": "[1, 2]"}),
        ("empty body", {"body": ""}),
        ("null body", {"body": None}),
        ("event is a list", [1, 2]),
        ("bad base64 body", {"body": "%%%not base64%%%", "isBase64Encoded": True}),
        ("neither field", _event({"text": "hi"})),
        ("both fields", _event({"image": _b64(_png()), "image_url": "https://example.com/x.png"})),
        ("image not a string", _event({"image": 123})),
        ("image bad base64", _event({"image": "!!!!"})),
        ("image not an image", _event({"image": _b64(b"hello, this is not a picture")})),
        ("truncated PNG", _event({"image": _b64(truncated)})),
        ("decompression bomb", _event({"image": _b64(bomb)})),
        ("oversized body", {"body": "x" * (MAX_BODY_BYTES + 1)}),
        ("url not a string", _event({"image_url": ["http://example.com"]})),
        ("url too long", _event({"image_url": "http://example.com/" + "a" * 3000})),
    ]
    events += [(f"loopback {u}", _event({"image_url": u})) for u in loopback_urls]
    events += [(f"private {u}", _event({"image_url": u})) for u in private_urls]
    events += [(f"scheme {u[:30]}", _event({"image_url": u})) for u in other_schemes]
    return events


def test_hostile_events_get_a_4xx_and_reach_nothing(target):
    port = target.httpd.server_address[1]
    events = hostile_events(port)
    assert len(events) >= 20
    for name, event in events:
        response = handler(event, None)
        assert 400 <= response["statusCode"] < 500, (name, response)
        body = json.loads(response["body"])
        assert set(body) == {"error"} and body["error"], name
        assert "Traceback" not in response["body"], name
    assert target.requests == []  # not one request reached the loopback server


class _Redirect(BaseHTTPRequestHandler):
    location = ""

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        self.send_response(302)
        self.send_header("Location", self.location)
        self.end_headers()


def test_redirects_are_checked_at_every_hop():
    """A host the policy allows redirects to one it does not: the second hop is refused unreached."""
    with FileServer() as inner:
        inner.routes["/secret.png"] = Route(_png(), content_type="image/png")
        handler_class = type("Redirect", (_Redirect,), {"location": inner.url("/secret.png")})
        redirect = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        threading.Thread(target=redirect.serve_forever, daemon=True).start()
        checked = []

        def allow_first_only(address):  # stands in for "a public address": the first host only
            checked.append(address)
            return len(checked) == 1

        try:
            with pytest.raises(BadImage) as err:
                fetch_url(f"http://127.0.0.1:{redirect.server_address[1]}/start", allow=allow_first_only)
        finally:
            redirect.shutdown()
            redirect.server_close()
        assert err.value.status == 403 and "not allowed" in str(err.value)
        assert len(checked) == 2  # the redirect target was resolved and checked again
        assert inner.requests == []


def test_public_address_policy():
    for address in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"]:
        assert is_public_address(address), address
    for address in ["127.0.0.1", "10.1.2.3", "172.31.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1",
                    "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::1",
                    "::ffff:8.8.8.8", "::ffff:127.0.0.1", "64:ff9b::808:808", "2002:7f00:1::1"]:
        assert not is_public_address(address), address


def test_fetch_limits_bytes(target, monkeypatch):
    target.routes["/big.png"] = Route(b"\0" * 5000, content_type="image/png")
    with pytest.raises(BadImage) as err:
        fetch_url(target.url("/big.png"), allow=lambda a: True, max_bytes=1000)
    assert err.value.status == 413
    monkeypatch.setattr(images_module, "MAX_PIXELS", 100)
    with pytest.raises(BadImage, match="exceeds 100 pixels"):
        images_module.open_image(_png(size=(20, 20)))


class _Drip(BaseHTTPRequestHandler):
    """Valid headers (or, with ``in_headers``, headers too) sent one byte every 0.2 s, for ever."""

    in_headers = False

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        head = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n"
        if not self.in_headers:
            self.wfile.write(head)
            self.wfile.flush()
            head = b""
        try:
            for byte in head + b"\0" * 100000:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:  # the client gave up
            pass


@pytest.mark.timeout(30)  # before the fix it hung for as long as the server dripped
@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_a_server_dripping_bytes_cannot_hold_a_fetch_past_its_deadline(monkeypatch, in_headers):
    """Each recv gets a byte well within the per-read time-out, so only the overall deadline can stop
    it (reproduced before the fix: a 1 byte/s drip held fetch_url for 60 s)."""
    monkeypatch.setattr(images_module, "DEADLINE_S", 1.5)
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Drip", (_Drip,), {"in_headers": in_headers}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        start = time.monotonic()
        with pytest.raises(BadImage) as err:
            fetch_url(f"http://127.0.0.1:{server.server_address[1]}/slow.png", allow=lambda a: True)
        elapsed = time.monotonic() - start
    finally:
        server.shutdown()
        server.server_close()
    assert err.value.status == 408 and "took more than 1.5 s" in str(err.value)
    assert elapsed < 1.5 + 1.0  # the deadline, not the server, ended it


def test_a_body_cut_short_is_refused(target):
    target.routes["/cut.png"] = Route(_png(), content_type="image/png", cut_after=10)
    with pytest.raises(BadImage, match="could not fetch") as err:
        fetch_url(target.url("/cut.png"), allow=lambda a: True)
    assert err.value.status == 400
