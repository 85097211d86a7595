"""The LightningDataModule every data set of the package derives from."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.accelerators import CUDAAccelerator
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset, RandomSampler

from model_package.data.batching import CropToInk, WidthBucketBatchSampler, ink_extent
from model_package.metadata.vocabulary import Vocabulary


class BaseDataModule(L.LightningDataModule):
    """Batches of (images (B, C, H, W) float in [0, 1], ink high; labels (B, L) token ids).

    Subclasses set, in ``__init__`` (the CLI links them into the model before any data exists):
    ``input_dims`` (C, H, W), ``output_dims`` (L,) and ``idx_to_char``; and in ``setup`` the
    ``data_train`` / ``data_val`` / ``data_test`` datasets.

    ``width_buckets=k`` (k > 0, for left-aligned lines): training batches are drawn from pools of
    k batches sorted by ink width and each is cropped to its widest line's ink (see
    ``data.batching``); 0 (the default): random batches at full width. Validation and test are
    always full width.
    """

    input_dims: tuple[int, int, int]
    output_dims: tuple[int, ...]
    idx_to_char: list[str]

    def __init__(self, batch_size: int = 64, num_workers: int = 0, width_buckets: int = 0):
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if width_buckets < 0:
            raise ValueError(f"width_buckets must be >= 0 (0: off), got {width_buckets}")
        self.batch_size = batch_size
        self.width_buckets = width_buckets
        self.num_workers = num_workers
        self.data_train: Dataset | None = None
        self.data_val: Dataset | None = None
        self.data_test: Dataset | None = None

    @property
    def max_seq_length(self) -> int:
        """Label length in tokens, <S> and <E> included."""
        return self.output_dims[0]

    @property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary(self.idx_to_char)

    def _loader(self, dataset: Dataset | None, split: str, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}: no {split} data; call setup() first")
        sampler = None
        if split != "train" and self.trainer is not None and self.trainer.world_size > 1:
            # Lightning's default DistributedSampler pads every rank to the same length by repeating
            # samples, so validation and test metrics would count some twice: score each once.
            sampler = UnrepeatedDistributedSampler(dataset, num_replicas=self.trainer.world_size,
                                                   rank=self.trainer.global_rank, shuffle=False)  # fmt: skip
        if split == "train" and self.width_buckets:
            return self._bucketed_loader(dataset)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, sampler=sampler, **self._loader_kwargs())

    def _bucketed_loader(self, dataset: Dataset) -> DataLoader:
        """Batches of similar ink width, each cropped to its ink (``width_buckets``)."""
        images = getattr(dataset, "images", None)
        if images is None or images.ndim != 3:
            raise ValueError(f"width_buckets needs line images (N, H, W) in the training set; {type(self).__name__} has none")
        batches = WidthBucketBatchSampler(RandomSampler(dataset), self.batch_size, drop_last=False,
                                          widths=ink_extent(images), pool=self.width_buckets)  # fmt: skip
        return DataLoader(dataset, batch_sampler=batches, collate_fn=CropToInk(), **self._loader_kwargs())

    def _loader_kwargs(self) -> dict:
        """What every loader of the module shares: its worker processes and, on a GPU, pinned memory."""
        pin_memory = self.trainer is not None and isinstance(self.trainer.accelerator, CUDAAccelerator)
        return dict(num_workers=self.num_workers, persistent_workers=self.num_workers > 0, pin_memory=pin_memory)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.data_train, "train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.data_val, "validation", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.data_test, "test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()
