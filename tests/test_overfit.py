"""Memorise one batch: the model, loss and decoding must be able to reach CER exactly 0."""

import lightning as L
import torch
from torchmetrics.functional.text import char_error_rate

from model_package.data import HandwritingFontLines
from model_package.lit_models import LitTransformer

BATCH = 16
MAX_STEPS = 300


class StopWhenMemorised(L.Callback):
    """Every 25 steps, decode the batch being memorised; stop once it is read perfectly."""

    def __init__(self, batch):
        self.batch = batch
        self.cer = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step % 25:
            return
        pl_module.eval()
        x, y = self.batch
        preds, targets = pl_module.texts(pl_module.model.predict(x)), pl_module.texts(y)
        pl_module.train()
        self.cer = float(char_error_rate(preds, targets))
        if self.cer == 0.0:
            trainer.should_stop = True


def test_overfit_one_batch_reaches_zero_cer(data_dir):
    """The default model and loss (padding counted) memorise 16 lines within 300 steps."""
    L.seed_everything(0)
    dm = HandwritingFontLines(num_train=BATCH, num_val=4, num_test=4, batch_size=BATCH)
    dm.prepare_data()
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    model = LitTransformer(
        idx_to_char=dm.idx_to_char,
        input_dims=dm.input_dims,
        max_seq_length=dm.max_seq_length,
        optimizer=lambda params: torch.optim.Adam(params, lr=2e-3),
    )
    stopper = StopWhenMemorised(batch)
    trainer = L.Trainer(
        max_steps=MAX_STEPS,
        overfit_batches=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[stopper],
        accelerator="cpu",
        deterministic=True,
    )
    trainer.fit(model, train_dataloaders=dm.train_dataloader())
    assert trainer.global_step <= MAX_STEPS

    model.eval()
    x, y = batch
    preds, targets = model.texts(model(x)), model.texts(y)
    assert preds == targets, f"after {trainer.global_step} steps: {list(zip(preds, targets))[:4]}"
    assert float(char_error_rate(preds, targets)) == 0.0
