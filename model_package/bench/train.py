"""Training throughput of the quickstart model: 1 and 2 processes (DDP, gloo), fp32 and bf16-mixed.

    python -m model_package.bench train [--steps 20] [--batch 32]

Each configuration runs in its own process group (Lightning's DDP launcher for 2 processes), on
random images and labels of the quickstart's shapes (1 x 32 x ``--width``, 34 tokens; the model
of ``configs/quickstart.yaml``; its bucketed batches are ~200 px wide on average, full width 320),
so data loading costs nothing and only the model is measured: ``--steps`` optimiser steps are timed after 5
warm-up steps. The CPU's cores are split between the processes (``OMP_NUM_THREADS``). Reported:
training samples per second over all processes, against 1 process in fp32. The CPU's capability
is printed first: bf16 is only fast with AVX512-BF16 or AMX, and its rows are marked "emulated"
where the CPU lacks them (there bf16-mixed is ~10x SLOWER than fp32).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

WARMUP = 5
QUICKSTART = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"


def quickstart_model_args() -> dict:
    """The model section of ``configs/quickstart.yaml`` as LitTransformer arguments, without its
    optimiser and schedule (the bench uses plain AdamW): the bench measures the model users train."""
    import yaml

    from model_package.models.resnet import ResNetConfig

    if not QUICKSTART.exists():
        raise SystemExit(f"bench train reads the quickstart's model from {QUICKSTART}, which is missing (run it from a clone of the repo)")
    model = yaml.safe_load(QUICKSTART.read_text())["model"]
    model = {k: v for k, v in model.items() if k not in ("optimizer", "lr_scheduler", "lr_scheduler_interval")}
    return model | {"resnet": ResNetConfig(**model["resnet"])} if "resnet" in model else model


def worker(args: argparse.Namespace) -> None:
    """One configuration; rank 0 prints a JSON line with its timing."""
    import lightning as L
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from model_package.lit_models import LitTransformer
    from model_package.metadata.vocabulary import LINE_VOCABULARY

    class StepTimer(L.Callback):
        def __init__(self):
            self.start = None

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.global_step == WARMUP:
                self.start = time.perf_counter()

        def on_train_end(self, trainer, pl_module):
            seconds = time.perf_counter() - self.start
            if trainer.is_global_zero:
                samples = args.steps * args.batch * trainer.world_size
                print(json.dumps({"samples_per_s": samples / seconds, "seconds": seconds, "world_size": trainer.world_size}), flush=True)

    L.seed_everything(0, verbose=False)
    n = args.batch * (WARMUP + args.steps)
    images = torch.rand(n, 1, 32, args.width)  # configs/quickstart.yaml's lines (batches cropped to --width)
    labels = torch.randint(4, len(LINE_VOCABULARY), (n, 34))
    model = LitTransformer(LINE_VOCABULARY, (1, 32, 320), 34, **quickstart_model_args(),
                           optimizer=lambda p: torch.optim.AdamW(p, lr=2e-3, fused=True))
    trainer = L.Trainer(
        accelerator="cpu", devices=args.devices, strategy="ddp" if args.devices > 1 else "auto",
        precision=args.precision, max_steps=WARMUP + args.steps, limit_val_batches=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[StepTimer()],
    )
    trainer.fit(model, DataLoader(TensorDataset(images, labels), batch_size=args.batch))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="timed optimiser steps per configuration")
    parser.add_argument("--batch", type=int, default=32, help="samples per step per process")
    parser.add_argument("--width", type=int, default=320, help="image width (the quickstart's lines are 320; its bucketed batches ~200 on average)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--devices", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="32-true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return

    from model_package.lit_models.precision import cpu_bf16_native, cpu_capability, resolve_precision

    cores = os.cpu_count() or 1
    native = cpu_bf16_native()
    configs = [(1, "32-true"), (1, "bf16-mixed"), (2, "32-true"), (2, "bf16-mixed")]
    print(f"quickstart model training throughput, batch {args.batch} x 1 x 32 x {args.width} per process, {args.steps} timed steps, {cores} CPU cores")
    print(f"CPU capability {cpu_capability()}, bf16 in hardware: {'yes' if native else 'NO (bf16 rows are emulated: not a general figure)'}; "
          f"precision auto -> {resolve_precision('auto', 'cpu').precision}")
    print(f"{'processes':>9} {'precision':<11} {'samples/s':>10} {'vs 1 x fp32':>12}")
    reference = None
    for devices, precision in configs:
        env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // devices)), "PYTHONWARNINGS": "ignore"}
        command = [sys.executable, "-m", "model_package.bench.train", "--worker", f"--devices={devices}",
                   f"--precision={precision}", f"--steps={args.steps}", f"--batch={args.batch}", f"--width={args.width}"]
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        if result.returncode != 0 or not lines:
            print(f"{devices:>9} {precision:<11} failed: {result.stderr.strip().splitlines()[-1:]}")
            continue
        rate = json.loads(lines[-1])["samples_per_s"]
        reference = reference or rate
        emulated = "  (bf16 emulated)" if precision.startswith("bf16") and not native else ""
        print(f"{devices:>9} {precision:<11} {rate:>10.1f} {rate / reference:>11.2f}x{emulated}")


if __name__ == "__main__":
    main()
