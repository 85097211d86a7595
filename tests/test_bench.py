"""The benchmarks run and their two implementations agree (tests never assert on time)."""

import subprocess
import sys

from tests.conftest import REPO


def run_bench(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "model_package.bench", *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_bench_emnist_lines_runs_and_outputs_match():
    out = run_bench("emnist_lines", "--num", "300", "--repeats", "1")
    rows = [line for line in out.splitlines() if line.startswith(("reference", "vectorised"))]
    assert len(rows) == 3 and all(row.endswith("yes") for row in rows)
    assert "emnist_lines speedup over the per-character reference:" in out.splitlines()[-1]


def test_bench_decode_runs_and_both_methods_agree():
    out = run_bench("decode", "--paragraph-tokens", "40")
    rows = [line for line in out.splitlines() if "recompute" in line or "cached" in line]
    assert len(rows) == 4 and all(row.endswith("yes") for row in rows)
    assert out.splitlines()[-1].startswith("decode speedup at 39 tokens: ")


def test_bench_without_a_known_name_lists_the_names():
    result = subprocess.run([sys.executable, "-m", "model_package.bench", "nope"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "decode" in result.stderr and "emnist_lines" in result.stderr


def test_bench_train_runs_every_configuration():
    from model_package.lit_models.precision import cpu_bf16_native, cpu_capability

    out = run_bench("train", "--steps", "2", "--batch", "2")
    assert f"CPU capability {cpu_capability()}, bf16 in hardware: {'yes' if cpu_bf16_native() else 'NO'}" in out.splitlines()[1]
    rows = [line.split() for line in out.splitlines()[3:]]
    assert [(r[0], r[1]) for r in rows] == [("1", "32-true"), ("1", "bf16-mixed"), ("2", "32-true"), ("2", "bf16-mixed")]
    assert all(r[3].endswith("x") for r in rows)  # a figure, not "failed"
    assert all(("emulated" in " ".join(r)) == (r[1].startswith("bf16") and not cpu_bf16_native()) for r in rows)


def test_bench_page_runs_and_both_ways_read_the_same():
    out = run_bench("page", "--pages", "1", "--lines", "3")
    assert "lines/s" in out and "same text both ways: yes" in out, out
