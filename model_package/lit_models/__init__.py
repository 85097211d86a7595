"""LightningModules, callbacks and the checkpoint IO plugin."""

from model_package.lit_models.callbacks import PredictionTable
from model_package.lit_models.checkpoint_io import AtomicCheckpointIO
from model_package.lit_models.transformer import LitTransformer

__all__ = ["AtomicCheckpointIO", "LitTransformer", "PredictionTable"]
