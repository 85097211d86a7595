"""Run by tests/test_distributed.py: memorise 16 lines with 2-process DDP (gloo, CPU), then write
the greedy predictions of rank 0 to the JSON file named by the first argument.

    python tests/ddp_memorise.py result.json

Each rank trains on its own 8 of the 16 lines (Lightning's DistributedSampler); gradients are
averaged, so the one model must learn all 16. Every 25 steps both ranks decode all 16 lines with
the same weights and stop together once they are read perfectly (FSDL had this test).
"""

import json
import sys

import lightning as L
import torch
from torch.utils.data import DataLoader
from torchmetrics.functional.text import char_error_rate

from model_package.data import HandwritingFontLines
from model_package.lit_models import LitTransformer

MAX_STEPS = 400


class StopWhenMemorised(L.Callback):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step % 25:
            return
        pl_module.eval()
        preds = pl_module.texts(pl_module.model.predict(self.x))
        pl_module.train()
        if preds == pl_module.texts(self.y):  # same weights, same data: the same decision on every rank
            trainer.should_stop = True


def main(out: str) -> None:
    L.seed_everything(0)
    dm = HandwritingFontLines(num_train=16, num_val=4, num_test=4, batch_size=8)
    dm.prepare_data()
    dm.setup()
    x = torch.stack([dm.data_train[i][0] for i in range(16)])
    y = torch.stack([dm.data_train[i][1] for i in range(16)])
    model = LitTransformer(dm.idx_to_char, dm.input_dims, dm.max_seq_length, optimizer=lambda p: torch.optim.Adam(p, lr=2e-3))
    trainer = L.Trainer(
        strategy="ddp", devices=2, accelerator="cpu", max_steps=MAX_STEPS, limit_val_batches=0,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[StopWhenMemorised(x, y)],
    )
    trainer.fit(model, train_dataloaders=DataLoader(dm.data_train, batch_size=8, shuffle=True))
    if trainer.is_global_zero:
        model.eval()
        preds, targets = model.texts(model.model.predict(x)), model.texts(y)
        result = {"steps": trainer.global_step, "world_size": trainer.world_size, "cer": float(char_error_rate(preds, targets)),
                  "preds": preds, "targets": targets}
        with open(out, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
