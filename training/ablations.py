"""Ablations of the recogniser's design choices, with equal budgets, on the offline quickstart data.

    python training/ablations.py sweep --steps 800 --seeds 0 1 2 --jobs 2 --out docs/ablations/results.jsonl
    python training/ablations.py table docs/ablations/results.jsonl

Any other ``--key=value`` goes to ``run_experiment.py`` for every run (``--trainer.accelerator=gpu``,
``--data.num_train=5000``) and is recorded with the results.

Every run is ``fit --config quickstart`` (HandwritingFontLines, validation font kalam, test font
indie-flower) with one change from the baseline (``VARIANTS``), the same number of steps (the
one-cycle schedule squeezed into them; the quickstart's time budget off), ``--seed_everything`` set per seed (initial weights,
dropout, batch order; the data set itself is the same for every run), and one validation at the
end. After the fit the final weights are tested on the held-out font. Each finished run appends one
JSON line to ``--out``; a sweep skips the (variant, seed) pairs already there, so an interrupted
sweep resumes where it stopped. ``--jobs 2`` runs two single-threaded trainings side by side, which
on 2 CPU cores gets more steps per second than one two-threaded run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (what changes, the command-line overrides of the quickstart config)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "baseline": ("learned positions, padding counted in the loss, dropout 0, custom ResNet", []),
    "sinusoidal": ("fixed sinusoidal positions (2-D encoder, 1-D decoder)", ["--model.pos_embedding=sinusoidal"]),
    "ignore_pad": ("padding ignored in the loss (FSDL)", ["--model.ignore_pad_in_loss=true"]),
    "dropout_0.1": ("Transformer dropout 0.1", ["--model.tf_dropout=0.1"]),
    "dropout_0.4": ("Transformer dropout 0.4 (FSDL)", ["--model.tf_dropout=0.4"]),
    "resnet18": ("torchvision resnet18 trunk instead of the custom ResNet (FSDL)", ["--model.encoder=resnet18"]),
}


def fit_args(variant: str, seed: int, steps: int, config: str = "quickstart", overrides: list[str] = ()) -> list[str]:
    """The ``run_experiment.py`` arguments of one ablation run."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    return [
        "fit",
        "--config", config,
        *VARIANTS[variant][1],
        f"--seed_everything={seed}",
        f"--trainer.max_steps={steps}",
        "--trainer.max_time=null",  # the quickstart's time budget would cut the slower variants short
        f"--trainer.val_check_interval={steps}",
        "--trainer.logger.init_args.project=ablations",
        f"--trainer.logger.init_args.name={variant}-seed{seed}",
        *overrides,
    ]  # fmt: skip


def run_one(variant: str, seed: int, steps: int, config: str, threads: int, overrides: list[str] = ()) -> dict:
    """Train one variant, validate and test its final weights; the result as a dict."""
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(HERE))
    import run_experiment

    start = time.perf_counter()
    cli = run_experiment.main(fit_args(variant, seed, steps, config, overrides))
    fit_minutes = (time.perf_counter() - start) / 60
    val_cer = float(cli.trainer.callback_metrics["validation/cer"])
    (test,) = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
    return {
        "variant": variant,
        "seed": seed,
        "steps": steps,
        "config": config,
        "overrides": list(overrides),
        "threads": threads,
        "val_cer": round(val_cer, 5),
        "test_cer": round(float(test["test/cer"]), 5),
        "fit_minutes": round(fit_minutes, 2),
        "parameters": sum(p.numel() for p in cli.model.parameters()),
        "run_dir": str(run_experiment.run_dir(cli.trainer)),
        "git_commit": run_experiment.environment()["git_commit"],
    }


def read_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{n}: not a JSON line ({error})") from None
    return rows


def _key(variant: str, seed: int, steps: int, config: str, overrides: list[str]) -> tuple:
    return variant, seed, steps, config, tuple(overrides)


def sweep(variants: list[str], seeds: list[int], steps: int, config: str, jobs: int, out: Path, overrides: list[str] = ()) -> None:
    """Run every (variant, seed) not yet in ``out``, seed by seed, ``jobs`` at a time."""
    for variant in variants:
        fit_args(variant, 0, steps)  # unknown names fail before anything runs
    done = {_key(r["variant"], r["seed"], r["steps"], r["config"], r.get("overrides", [])) for r in read_results(out)}
    todo = [(v, s) for s in seeds for v in variants if _key(v, s, steps, config, overrides) not in done]
    print(f"{len(todo)} runs to do, {len(variants) * len(seeds) - len(todo)} already in {out}", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "WANDB_MODE": os.environ.get("WANDB_MODE", "offline")}
    running: list[tuple[subprocess.Popen, str, int]] = []
    failed = []
    while todo or running:
        while todo and len(running) < jobs:
            variant, seed = todo.pop(0)
            log = out.parent / "logs" / f"{variant}-seed{seed}-{steps}.log"
            log.parent.mkdir(exist_ok=True)
            command = [sys.executable, __file__, "one", variant, str(seed), "--steps", str(steps),
                       "--config", config, "--threads", str(threads), "--out", str(out), *overrides]  # fmt: skip
            print(f"start {variant} seed {seed} (log {log})", flush=True)
            with open(log, "w") as stream:
                running.append((subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT, env=env), variant, seed))
        time.sleep(5)
        for entry in list(running):
            process, variant, seed = entry
            if process.poll() is not None:
                running.remove(entry)
                print(f"{'done' if process.returncode == 0 else 'FAILED'} {variant} seed {seed}", flush=True)
                if process.returncode != 0:
                    failed.append(f"{variant} seed {seed}")
    if failed:
        sys.exit(f"failed runs (see their logs): {', '.join(failed)}")


def summary(rows: list[dict]) -> str:
    """A Markdown table: per budget and variant, mean and standard deviation over seeds of the
    validation and test CER, each seed's figure in brackets."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["steps"], row["variant"]), []).append(row)
    order = {v: i for i, v in enumerate(VARIANTS)}
    lines = [
        "| steps | variant | change from the baseline | seeds | validation CER (kalam) | test CER (indie-flower) | minutes per run |",
        "|---|---|---|---|---|---|---|",
    ]
    for steps, variant in sorted(groups, key=lambda k: (k[0], order.get(k[1], len(order)), k[1])):
        runs = sorted(groups[steps, variant], key=lambda r: r["seed"])
        cells = []
        for key in ("val_cer", "test_cer"):
            values = [r[key] for r in runs]
            spread = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
            cells.append(f"{statistics.mean(values):.3f}{spread} ({', '.join(f'{v:.3f}' for v in values)})")
        minutes = statistics.mean(r["fit_minutes"] for r in runs)
        what = VARIANTS[variant][0] if variant in VARIANTS else "?"
        seeds = ", ".join(str(r["seed"]) for r in runs)
        lines.append(f"| {steps} | {variant} | {what} | {seeds} | {cells[0]} | {cells[1]} | {minutes:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    sweep_parser = commands.add_parser("sweep", help="run every variant for every seed")
    sweep_parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    sweep_parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    one_parser = commands.add_parser("one", help="run one variant with one seed")
    one_parser.add_argument("variant", choices=list(VARIANTS))
    one_parser.add_argument("seed", type=int)
    one_parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    for sub in (sweep_parser, one_parser):
        sub.add_argument("--steps", type=int, default=800)
        sub.add_argument("--config", default="quickstart")
        sub.add_argument("--out", type=Path, default=Path("docs/ablations/results.jsonl"))
    sweep_parser.add_argument("--jobs", type=int, default=2)
    table_parser = commands.add_parser("table", help="print the Markdown table of a results file")
    table_parser.add_argument("results", type=Path)
    args, overrides = parser.parse_known_args(argv)
    unknown = [a for a in overrides if not a.startswith("--") or "=" not in a]
    if unknown or (overrides and args.command == "table"):
        parser.error(f"unrecognised arguments: {' '.join(unknown or overrides)} (run_experiment options go as --key=value)")

    if args.command == "sweep":
        sweep(args.variants, args.seeds, args.steps, args.config, args.jobs, args.out, overrides)
    elif args.command == "one":
        result = run_one(args.variant, args.seed, args.steps, args.config, args.threads, overrides)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as stream:  # one short line per finished run: appends do not interleave
            stream.write(json.dumps(result) + "\n")
        print(json.dumps(result))
    else:
        if not args.results.exists():
            sys.exit(f"error: {args.results}: no such file")
        try:
            rows = read_results(args.results)
        except ValueError as error:
            sys.exit(f"error: {error}")
        if not rows:
            sys.exit(f"error: {args.results}: no results in it")
        print(summary(rows))


if __name__ == "__main__":
    main()
