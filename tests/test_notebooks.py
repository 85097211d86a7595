"""Every notebook runs headless top to bottom, so none of them rots.

The downloading sections of 01 run through the real download path against archives built in the
real layout and served on 127.0.0.1 (EMNIST, IAM; nltk refuses the loopback index, so EMNISTLines
takes its offline text): nothing reaches the internet.
"""

import os
from pathlib import Path

import nbformat
import pytest
from emnist_fixture import build_matlab_zip
from iam_fixture import build_iamdb_zip
from nbclient import NotebookClient
from servers import served_data

from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_notebooks_exist():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_outputs_are_stripped(path: Path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, "strip outputs before committing"


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory):
    archives = {"EMNIST": ("/matlab.zip", build_matlab_zip(per_class_train=4, per_class_test=1, writers=4)[0]),
                "IAM": ("/iamdb.zip", build_iamdb_zip()[0])}  # fmt: skip
    with served_data(tmp_path_factory.mktemp("notebook-data"), archives) as (server, mp):
        mp.setenv("MODEL_PACKAGE_NLTK_INDEX_URL", server.url("/nltk/index.xml"))
        mp.setenv("MODEL_PACKAGE_RUNS_DIR", str(tmp_path_factory.mktemp("notebook-runs")))  # not the repo's runs/
        mp.setenv("MODEL_PACKAGE_NOTEBOOK_SMOKE", "1")  # 03 trains shorter on fewer lines; every cell still runs
        yield  # the kernel inherits this environment


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: Path, notebook_env):
    notebook = nbformat.read(path, as_version=4)
    assert os.environ["MODEL_PACKAGE_DATA_DIR"] not in ("", str(REPO / "data"))
    before = set((REPO / "runs").rglob("*"))
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert set((REPO / "runs").rglob("*")) == before, "the notebook wrote into the repository's runs/"
