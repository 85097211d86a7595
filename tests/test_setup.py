"""The set-up commands: `make train` trains with the runtime dependencies only, and both make
targets install the pinned versions the README's figures were measured with."""

import importlib.metadata
import subprocess

from packaging.version import Version

from tests.conftest import REPO


def make_dry_run(target: str) -> list[str]:
    result = subprocess.run(["make", "--no-print-directory", "-n", "-B", target], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def pins() -> dict[str, str]:
    lines = (REPO / "constraints.txt").read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def test_make_train_installs_the_runtime_dependencies_only_with_the_pins():
    installs = [line for line in make_dry_run("train") if " pip install " in line and "--upgrade" not in line]
    assert installs == [".venv/bin/python -m pip install --quiet -c constraints.txt -e ."]  # no [test]: no Gradio capping Pillow
    assert make_dry_run("train")[-1].endswith("training/run_experiment.py fit --config quickstart")
    assert any('-c constraints.txt -e ".[test]"' in line for line in make_dry_run("test"))


def test_the_pins_cover_what_shapes_the_results_and_are_what_is_installed():
    pinned = {name.lower() for name in pins()}
    for name in ["torch", "torchvision", "lightning", "torchmetrics", "jsonargparse", "numpy", "pillow", "h5py"]:
        assert name in pinned, f"{name} shapes the results but is not pinned"
    for name, version in pins().items():  # this environment was installed by make with -c constraints.txt
        assert Version(importlib.metadata.version(name)) == Version(version), name
