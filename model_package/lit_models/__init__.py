"""LightningModules and callbacks: ``--model=LitTransformer`` (the default), ``LitCTC`` or ``LitClassifier``."""

from model_package.lit_models.base import BaseLitModel
from model_package.lit_models.callbacks import PredictionTable, ValidationCheckpoint
from model_package.lit_models.classifier import LitClassifier
from model_package.lit_models.ctc import LitCTC
from model_package.lit_models.trainer import Trainer
from model_package.lit_models.transformer import LitTransformer

__all__ = ["BaseLitModel", "LitClassifier", "LitCTC", "LitTransformer", "PredictionTable", "Trainer", "ValidationCheckpoint"]
