"""The Lambda handler over local HTTP, for development and load tests.

    python -m model_package.serving.http --port 8000
    curl -s localhost:8000 -d "{\\"image\\": \\"$(base64 -w0 line.png)\\"}"

``POST /`` (or ``/predict``) wraps the request body in an API Gateway event and answers with the
handler's status and body; ``GET /health`` answers 200. Standard library only.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from model_package.serving import lambda_handler


class Handler(BaseHTTPRequestHandler):
    server_version = "model-package"

    def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path in ("/health", "/"):
            self._send(200, json.dumps({"status": "ok"}))
        else:
            self._send(404, json.dumps({"error": "not found"}))

    def do_POST(self) -> None:  # noqa: N802
        if self.path not in ("/", "/predict"):
            self._send(404, json.dumps({"error": "not found"}))
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self._send(411, json.dumps({"error": "Content-Length required"}))
            return
        if int(length) > lambda_handler.MAX_BODY_BYTES:
            self._send(413, json.dumps({"error": "request body too large"}))
            return
        body = self.rfile.read(int(length))
        response = lambda_handler.handler({"body": body.decode("utf-8", "replace"), "isBase64Encoded": False})
        self._send(response["statusCode"], response["body"])

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if not self.server.quiet:
            super().log_message(format, *args)


def make_server(host: str = "127.0.0.1", port: int = 8000, quiet: bool = False) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), Handler)
    server.quiet = quiet
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    lambda_handler.predictor()  # load the model before the first request
    server = make_server(args.host, args.port)
    print(f"serving the text recogniser on http://{args.host}:{server.server_address[1]}/ (POST JSON with 'image' or 'image_url')")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
