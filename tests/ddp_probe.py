"""Callbacks for the DDP tests: each rank writes a hash of every training and test image it saw, or
the learning rate of every step."""

import hashlib
import json
import os
from pathlib import Path

import lightning as L


class RecordSeenSamples(L.Callback):
    """Writes ``$PROBE_DIR/rank<R>.json``: the sha1 of each training image this rank trained on."""

    def __init__(self):
        self.seen: list[str] = []
        self.tested: list[str] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        images = batch[0].detach().cpu().numpy()
        self.seen += [hashlib.sha1(image.tobytes()).hexdigest() for image in images]

    def on_train_end(self, trainer, pl_module):
        path = Path(os.environ["PROBE_DIR"]) / f"rank{trainer.global_rank}.json"
        path.write_text(json.dumps({"world_size": trainer.world_size, "seen": self.seen}))

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        images = batch[0].detach().cpu().numpy()
        self.tested += [hashlib.sha1(image.tobytes()).hexdigest() for image in images]

    def on_test_end(self, trainer, pl_module):
        path = Path(os.environ["PROBE_DIR"]) / f"rank{trainer.global_rank}-test.json"
        path.write_text(json.dumps({"world_size": trainer.world_size, "tested": self.tested}))


class RecordLearningRates(L.Callback):
    """Writes ``$PROBE_DIR/rank<R>-lr.json``: the learning rate this rank trained each step with."""

    def __init__(self):
        self.rates: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])

    def on_train_end(self, trainer, pl_module):
        path = Path(os.environ["PROBE_DIR"]) / f"rank{trainer.global_rank}-lr.json"
        path.write_text(json.dumps({"rates": self.rates, "max_lr": trainer.optimizers[0].param_groups[0]["max_lr"]}))
