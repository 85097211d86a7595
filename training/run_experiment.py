"""Train, validate, test or predict with any data module and the ResNet + Transformer recogniser.

    python training/run_experiment.py fit --config quickstart
    python training/run_experiment.py fit --config quickstart --data=HandwritingFontParagraphs
    python training/run_experiment.py fit --config fontchars_cnn --test_after_fit=true
    python training/run_experiment.py test --config quickstart --ckpt_path runs/.../last.ckpt

``--config NAME`` takes a path or the stem of a file in ``configs/``. The model's ``input_dims``,
``max_seq_length`` and ``idx_to_char`` come from the instantiated data module, so ``--data=X``
needs nothing else. ``--help`` lists every option.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

# W&B: no login needed (offline unless the logger says otherwise), and its thread start method,
# which multi-process data loading and DDP need.
os.environ.setdefault("WANDB_START_METHOD", "thread")
# Lightning itself still calls jsonargparse APIs that jsonargparse deprecated: nothing a user can act on.
os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")

import yaml  # noqa: E402
from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback  # noqa: E402
from lightning.pytorch.loggers import WandbLogger  # noqa: E402

from model_package.data import *  # noqa: E402,F403  (imports every data module, so --data=ClassName finds it)
from model_package.data import BaseDataModule  # noqa: E402
from model_package.data.io import atomic_path  # noqa: E402
from model_package.lit_models import BaseLitModel, PredictionTable, Trainer, ValidationCheckpoint  # noqa: E402

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
LINKED_FROM_DATA = ("input_dims", "max_seq_length", "idx_to_char")  # data module attribute -> model argument


# Short class names that jsonargparse finds twice (Lightning subclasses torch's ReduceLROnPlateau
# to add `monitor`; BaseLitModel takes the monitor from `model.lr_scheduler_monitor` instead).
SHORT_NAMES = {"--model.lr_scheduler=ReduceLROnPlateau": "--model.lr_scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau"}


def resolve_config_names(argv: list[str]) -> list[str]:
    """Replace ``--config NAME`` (or ``-c NAME``) by ``configs/NAME.yaml`` where NAME is no existing
    path, and the ambiguous short class names of ``SHORT_NAMES`` by their full paths."""
    out = [SHORT_NAMES.get(arg, arg) for arg in argv]
    for i, arg in enumerate(out):
        if arg in ("--config", "-c") and i + 1 < len(out):
            out[i + 1] = _config_path(out[i + 1])
        elif arg.startswith("--config="):
            out[i] = "--config=" + _config_path(arg.split("=", 1)[1])
    return out


def _config_path(name: str) -> str:
    if Path(name).exists():
        return name
    for candidate in (CONFIG_DIR / name, CONFIG_DIR / f"{name}.yaml", CONFIG_DIR / f"{name}.yml"):
        if candidate.is_file():
            return str(candidate)
    known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    sys.exit(f"error: --config {name!r}: no such file, and no configs/{name}.yaml (known: {', '.join(known)})")


def run_dir(trainer) -> Path:
    """The folder of this run: ``<save_dir>/<project>/<run id>`` for W&B (its checkpoints go under it)."""
    logger = trainer.logger
    if isinstance(logger, WandbLogger):
        return Path(logger.save_dir or ".") / str(logger.name) / str(logger.version)
    return Path(trainer.log_dir or trainer.default_root_dir)


@functools.cache
def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the repository, read once: at the run's start (``main``), not when the
    config is saved after the data is prepared, maybe an hour later, when HEAD may have moved on."""
    repo = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "HEAD"), (bool(status) if status is not None else None)


def environment(trainer=None, configs: list[str] | None = None) -> dict:
    """What a run needs to be repeated: the git commit at its start (and whether the tree was
    dirty), Python, the platform, the versions of the packages that shape the results, and the
    precision the trainer chose with the CPU capability behind the choice."""
    packages = ["model-package", "torch", "torchvision", "lightning", "torchmetrics", "jsonargparse", "wandb", "numpy", "h5py", "Pillow"]
    versions = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    commit, dirty = git_state()
    choice = getattr(trainer, "precision_choice", None)
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "config_files": configs or [],
        "packages": versions,
        "precision": choice.as_dict() if choice is not None else None,
    }


class SaveAndLogConfig(SaveConfigCallback):
    """Writes the fully resolved config, linked values included, as ``config.yaml`` in the run's
    folder (``fit --config runs/.../config.yaml`` repeats the run), and the git commit, Python and
    package versions as ``environment.json``; sends both to the logger. Rank 0 only."""

    def setup(self, trainer, pl_module, stage: str) -> None:
        if self.already_saved:
            return
        folder = run_dir(trainer)  # on every rank: trainer.log_dir is a collective call under DDP
        if trainer.is_global_zero:
            config = self.resolved_config(pl_module)
            env = environment(trainer, config_files(self.config))
            with atomic_path(folder / self.config_filename) as tmp:
                tmp.write_text(yaml.safe_dump(config, sort_keys=False))
            with atomic_path(folder / "environment.json") as tmp:
                tmp.write_text(json.dumps(env, indent=2) + "\n")
            for logger in trainer.loggers:
                logger.log_hyperparams({"config": config, "environment": env})
        self.already_saved = True

    def resolved_config(self, pl_module) -> dict:
        config = yaml.safe_load(self.parser.dump(self.config, skip_unset=False))
        config.pop("config", None)  # the paths of the config files, not settings
        for attribute in LINKED_FROM_DATA:  # linked on instantiation, so absent from the parsed config
            value = pl_module.hparams[attribute]
            config["model"]["init_args"][attribute] = list(value) if isinstance(value, (tuple, list)) else value
        return config


def config_files(config) -> list[str]:
    """The ``--config`` files of a run, as absolute paths (what ``--ckpt_path last`` matches on)."""
    return [os.path.abspath(str(path)) for path in (config.get("config") or [])]


def newest_last_checkpoint(trainer, configs: list[str]) -> tuple[Path | None, list[Path]]:
    """The most recent ``last.ckpt`` among this project's earlier runs OF THE SAME CONFIG
    (``--ckpt_path last``; configs may share a W&B project), and the runs of other configs."""
    here = run_dir(trainer)
    same, other = [], []
    for path in sorted(here.parent.glob("*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime):
        try:
            recorded = json.loads((path.parents[1] / "environment.json").read_text()).get("config_files")
        except (OSError, ValueError):
            recorded = None
        (same if recorded == configs else other).append(path)
    return (same[-1] if same else None), other


class TextRecognizerCLI(LightningCLI):
    def before_fit(self) -> None:
        """``--ckpt_path last`` resumes the newest run of the project: every run has its own folder
        (its W&B id), so Lightning's own "last" would look only in the new, empty one."""
        if self.config_init[self.subcommand].get("ckpt_path") == "last":
            configs = config_files(self.config[self.subcommand])
            path, other = newest_last_checkpoint(self.trainer, configs)
            if path is None:
                others = f"; {len(other)} run(s) of other configs there were left alone" if other else ""
                sys.exit(f"error: --ckpt_path last: no run of config {', '.join(configs) or '(none)'} with a last.ckpt "
                         f"under {run_dir(self.trainer).parent}/*/checkpoints/{others}")
            print(f"resuming from {path} (run {path.parents[1].name}, the newest of config {', '.join(map(os.path.basename, configs))})")
            self.config_init[self.subcommand]["ckpt_path"] = str(path)

    def after_fit(self) -> None:
        """``--test_after_fit=true``: test the best checkpoint (by the monitored metric; the final
        weights when there is none) on the test split, as FSDL's run_experiment did."""
        if not self.config[self.subcommand].get("test_after_fit"):
            return
        callback = self.trainer.checkpoint_callback
        best = callback.best_model_path if callback is not None else ""
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None)

    def _instantiate_trainer(self, config: dict, callbacks: list):
        if config.get("enable_checkpointing") is False:  # --trainer.enable_checkpointing=false drops --checkpoint.*
            callbacks = [c for c in callbacks if not isinstance(c, ModelCheckpoint)]
        return super()._instantiate_trainer(config, callbacks)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ValidationCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "validation/cer",
                "checkpoint.mode": "min",
                "checkpoint.save_last": True,
                # right after each validation, so a "cer=..." file holds the weights that scored it
                # (and last.ckpt the latest validated ones); --checkpoint.every_n_train_steps=N adds
                # saves of last.ckpt every N steps
                "checkpoint.save_on_train_epoch_end": False,
                "checkpoint.filename": "epoch={epoch:03d}-cer={validation/cer:.4f}",
                "checkpoint.auto_insert_metric_name": False,
            }
        )
        parser.add_lightning_class_args(PredictionTable, "predictions")
        parser.add_argument("--test_after_fit", type=bool, default=False, help="fit only: then test the best checkpoint on the test split")
        parser.set_defaults(
            {
                "trainer.logger": {
                    "class_path": "lightning.pytorch.loggers.WandbLogger",
                    "init_args": {"project": "text-recognizer", "save_dir": "runs", "offline": True},
                }
            }
        )
        # The LightningModule: LitTransformer unless the config or --model names another
        # (LitCTC, LitClassifier); its arguments may be given flat, without class_path/init_args.
        parser.set_defaults({"model": {"class_path": "model_package.lit_models.LitTransformer"}})
        for attribute in LINKED_FROM_DATA:
            parser.link_arguments(f"data.{attribute}", f"model.init_args.{attribute}", apply_on="instantiate")


def main(args: list[str] | None = None) -> TextRecognizerCLI:
    """Run the CLI on ``args`` (default: the command line)."""
    git_state()  # the code this run starts with, for environment.json
    if args is None:
        sys.argv[1:] = resolve_config_names(sys.argv[1:])
    else:
        args = resolve_config_names(args)
    return TextRecognizerCLI(
        BaseLitModel,
        BaseDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        trainer_class=Trainer,  # precision: auto -> the fastest safe precision for the hardware
        save_config_callback=SaveAndLogConfig,
        args=args,
    )


if __name__ == "__main__":
    main()
