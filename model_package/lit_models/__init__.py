"""LightningModules and callbacks."""

from model_package.lit_models.callbacks import PredictionTable
from model_package.lit_models.transformer import LitTransformer

__all__ = ["LitTransformer", "PredictionTable"]
