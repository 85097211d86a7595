import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory) -> Path:
    """A data root shared by the session's tests (rendered sets are cached there once); autouse,
    so no test, run alone or not, reads or downloads into the repository's data/."""
    path = tmp_path_factory.mktemp("data")
    os.environ["MODEL_PACKAGE_DATA_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def run_experiment():
    """training/run_experiment.py as a module."""
    spec = importlib.util.spec_from_file_location("run_experiment", REPO / "training" / "run_experiment.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_experiment"] = module
    spec.loader.exec_module(module)
    return module


# Small, fast data: a few hundred lines render in a couple of seconds.
SMALL_LINES = dict(num_train=64, num_val=16, num_test=16, batch_size=8)
