"""Where data lives: ``data/`` in the repo, or ``$MODEL_PACKAGE_DATA_DIR``."""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    """The data root; raw downloads under ``downloaded/<dataset>/``, products under ``processed/<dataset>/``."""
    env = os.environ.get("MODEL_PACKAGE_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    if (_REPO_ROOT / "pyproject.toml").exists():  # an editable install, run from the repo
        return _REPO_ROOT / "data"
    return Path.cwd() / "data"


def downloaded_dir(dataset: str) -> Path:
    return data_root() / "downloaded" / dataset


def processed_dir(dataset: str) -> Path:
    return data_root() / "processed" / dataset
