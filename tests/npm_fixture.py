"""A loopback npm registry serving packages in npm's real layout (a packument per package, gzipped
tarballs with everything under ``package/``), for tests of the npm data path with the real npm
client: ``npm pack`` against ``npm_config_registry=<this server>``."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

from tests.servers import FileServer, Route


def tarball(files: dict[str, bytes]) -> bytes:
    """A package tarball: ``files`` (paths relative to package/) in a gzipped tar."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def publish(server: FileServer, name: str, version: str, files: dict[str, bytes]) -> bytes:
    """Serve ``name@version`` (its packument and tarball) from ``server``; the tarball's bytes."""
    package_json = {"name": name, "version": version, "license": "OFL-1.1"}
    body = tarball({"package.json": json.dumps(package_json).encode(), **files})
    tar_path = f"/{name}/-/{name.split('/')[-1]}-{version}.tgz"
    server.routes[tar_path] = Route(body, content_type="application/octet-stream")
    packument = {
        "name": name,
        "dist-tags": {"latest": version},
        "versions": {version: dict(package_json, dist={"tarball": server.url(tar_path),
                                                       "shasum": hashlib.sha1(body).hexdigest()})},  # fmt: skip
    }
    doc = Route(json.dumps(packument).encode(), content_type="application/json")
    for path in {"/" + name.replace("/", "%2f"), "/" + name.replace("/", "%2F"), "/" + name}:
        server.routes[path] = doc
    return body


def font_package(family: str, font_file: Path) -> dict[str, bytes]:
    """The files of an @fontsource package: its latin 400 font and metadata.json."""
    metadata = {"id": family, "category": "handwriting", "license": {"type": "OFL-1.1"}}
    return {f"files/{family}-latin-400-normal.woff2": font_file.read_bytes(), "metadata.json": json.dumps(metadata).encode()}
