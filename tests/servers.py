"""A loopback HTTP file server for download tests: ranges, errors, HTML pages, cut connections."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/zip"
    ranges: bool = True  # honour "Range: bytes=N-"
    cut_after: int | None = None  # the first response closes the connection after this many bytes
    requests: list[dict] = field(default_factory=list)


class FileServer:
    """``with FileServer() as server: server.routes["/x.zip"] = Route(data); server.url("/x.zip")``."""

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                server.requests.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                route.requests.append({k.lower(): v for k, v in self.headers.items()})
                body, status, start = route.body, route.status, 0
                range_header = self.headers.get("Range")
                if route.ranges and range_header and status == 200:
                    start = int(range_header.removeprefix("bytes=").split("-")[0])
                    status = 206
                self.send_response(status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Accept-Ranges", "bytes" if route.ranges else "none")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.end_headers()
                payload = body[start:]
                if route.cut_after is not None and len(route.requests) == 1:
                    payload = payload[: route.cut_after]  # then close: the client sees a short body
                    self.close_connection = True
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def served_data(root: Path, archives: dict[str, tuple[str, bytes]]) -> Iterator[tuple[FileServer, pytest.MonkeyPatch]]:
    """Point the data root at ``root`` and serve each archive from a loopback server:
    ``archives = {"IAM": ("/iam/iamdb.zip", data)}`` sets ``MODEL_PACKAGE_IAM_URL`` and
    ``MODEL_PACKAGE_IAM_SHA256``, so the data modules download it through their real path.
    The environment is restored on exit."""
    with FileServer() as server, pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODEL_PACKAGE_DATA_DIR", str(root))
        for name, (path, body) in archives.items():
            server.routes[path] = Route(body)
            mp.setenv(f"MODEL_PACKAGE_{name}_URL", server.url(path))
            mp.setenv(f"MODEL_PACKAGE_{name}_SHA256", hashlib.sha256(body).hexdigest())
        yield server, mp
