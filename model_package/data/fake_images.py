"""FakeImageData: random images and labels of any shape, for smoke tests (FSDL's FakeImageData)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model_package.data.base_data_module import BaseDataModule
from model_package.data.dataset import ImageTextDataset
from model_package.metadata.vocabulary import LINE_VOCABULARY, Vocabulary


class FakeImageData(BaseDataModule):
    """Noise images (1, H, W) with random texts: ``max_length > 1`` gives line labels
    ``<S> text <E> <P>...`` of ``max_length`` tokens; ``max_length=1`` one character token per image
    (for classifiers). Seeded: the same ``seed`` gives the same data."""

    def __init__(
        self,
        batch_size: int = 8,
        num_workers: int = 0,
        num_train: int = 64,
        num_val: int = 16,
        num_test: int = 16,
        input_dims: Sequence[int] = (1, 28, 28),
        max_length: int = 1,
        seed: int = 0,
    ):
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if len(input_dims) != 3 or input_dims[0] != 1 or min(input_dims) < 1:
            raise ValueError(f"input_dims must be (1, H, W), got {tuple(input_dims)}")
        if max_length < 1 or max_length == 2:
            raise ValueError(f"max_length must be 1 (a character) or at least 3 (<S>, text, <E>), got {max_length}")
        self.input_dims = tuple(input_dims)
        self.output_dims = (max_length,)
        self.idx_to_char = list(LINE_VOCABULARY)
        self.sizes = {"train": num_train, "val": num_val, "test": num_test}
        self.seed = seed

    def _split(self, k: int, n: int) -> ImageTextDataset:
        rng = np.random.default_rng([self.seed, k])
        vocab = Vocabulary(self.idx_to_char)
        chars = sorted(vocab.characters)
        images = rng.integers(0, 256, (n, *self.input_dims[1:]), dtype=np.uint8)
        length = self.output_dims[0]
        if length == 1:
            labels = np.array([vocab.char_to_idx[c] for c in rng.choice(chars, n)], dtype=np.int64)
        else:
            texts = ["".join(rng.choice(chars, int(rng.integers(1, length - 1)))) for _ in range(n)]
            labels = np.array([vocab.encode(t, length) for t in texts], dtype=np.int64)
        return ImageTextDataset(images, labels)

    def setup(self, stage: str | None = None) -> None:
        if self.data_train is None:
            self.data_train, self.data_val, self.data_test = (self._split(k, n) for k, n in enumerate(self.sizes.values()))

