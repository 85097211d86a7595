"""Training batches of lines of similar length, each cropped to its ink: less paper to convolve.

Line images are left-aligned and padded with paper to one width (the quickstart: 320 px, where
half the lines end by x = 165), so a random batch is nearly all as wide as the widest line in it.
:class:`WidthBucketBatchSampler` draws batches from pools of similar ink width and
:class:`CropToInk` cuts each batch to the ink of its widest line (plus a margin): on the
quickstart's lines the mean batch is ~184 px wide instead of 320, and a training step costs ~0.6
of a full-width one. Every line still ends in paper, and validation and test keep the full width
(the geometry served).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import BatchSampler, Sampler, default_collate

INK_CONTRAST = 0.4  # a column holds ink where its darkest pixel is this far from the paper towards the ink
MIN_INK = 0.3  # ... and an image holds ink where its darkest pixel is this much of full scale above its paper


def ink_extent(images: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Images (N, H, W), any dtype, ink high -> (N,) int64: one past each image's last column of
    ink (0 for a blank image). The threshold is per image, between its paper (median) and its
    darkest ink (maximum), so coloured paper or faint ink is measured alike; an image whose
    darkest pixel is less than ``MIN_INK`` of full scale (255 for uint8, else 1) above its paper
    is paper alone (grain and noise). (Placing one picture's line is another job:
    :func:`~model_package.data.preprocess.crop_to_ink`, an absolute threshold on levelled ink, the
    whole ink box; this one only finds where each line's ink ends, for cropping batches.)"""
    full = 255.0 if images.dtype == torch.uint8 else 1.0
    out = []
    for part in images.split(chunk):
        flat = part.flatten(1)  # (n, H * W)
        # the paper's level: the median of every 7th pixel (of the ~1,500 of a 32 x 320 line it is
        # the paper's as surely as of all 10,240, at a seventh of the cost: 0.8 ms a batch of 32, not 5.6)
        paper = flat[:, ::7].median(1).values.float()  # (n,)
        ink = flat.amax(1).float()  # (n,)
        columns = part.amax(1).float()  # (n, W) each column's darkest pixel
        has_ink = columns > (paper + INK_CONTRAST * (ink - paper))[:, None]  # (n, W)
        has_ink &= (ink - paper > MIN_INK * full)[:, None]  # paper alone has no ink at all
        last = part.shape[-1] - has_ink.flip(1).to(torch.uint8).argmax(1)  # (n,) one past the last True
        out.append(torch.where(has_ink.any(1), last, torch.zeros_like(last)))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


class WidthBucketBatchSampler(BatchSampler):
    """Batches of similar ink width: the indices ``sampler`` gives (shuffled, and a rank's share
    under DDP: Lightning passes its DistributedSampler here) are taken ``pool`` batches at a time,
    sorted by ``widths`` within the pool and cut into batches, and the epoch's batches are then
    shuffled, so the order of lengths is random and each batch holds lines of one length."""

    def __init__(self, sampler: Sampler[int] | Sequence[int], batch_size: int, drop_last: bool, widths: Sequence[int], pool: int = 100):
        super().__init__(sampler, batch_size, drop_last)
        if pool < 1:
            raise ValueError(f"pool must be at least 1 batch, got {pool}")
        self.widths = torch.as_tensor(widths)
        self.pool = pool

    def __iter__(self) -> Iterator[list[int]]:
        indices = torch.as_tensor(list(self.sampler), dtype=torch.long)
        size = self.pool * self.batch_size
        batches = []
        for start in range(0, len(indices), size):
            chunk = indices[start : start + size]
            chunk = chunk[torch.sort(self.widths[chunk], stable=True).indices]  # by width, within the pool
            batches += [b.tolist() for b in chunk.split(self.batch_size) if len(b) == self.batch_size or not self.drop_last]
        for i in torch.randperm(len(batches)).tolist():  # the global generator: seed_everything fixes it
            yield batches[i]

    def __len__(self) -> int:
        n = len(self.sampler)
        size = self.pool * self.batch_size
        whole, rest = divmod(n, size)
        last = rest // self.batch_size if self.drop_last else math.ceil(rest / self.batch_size)
        return whole * self.pool + last


CROP_MARGIN = 8  # pixels of paper kept after a batch's last ink: one column of the stride-8 encoder
CROP_MULTIPLE = 16  # batch widths rounded up to this: ~18 widths on the quickstart's lines


class CropToInk:
    """A collate function: stacks (image (C, H, W), label) samples like the default and cuts the
    images to the ink of the widest line in the batch, plus ``margin`` pixels of paper, rounded up
    to a ``multiple`` of pixels (a few widths, so the convolution kernels chosen for each are reused).
    On the quickstart's lines (width buckets of 100 batches) the mean batch is 184 px wide with the
    defaults, 199 with a margin of 16 rounded to 32, and reads as well: 0.211 / 0.146 validation
    CER at 1,000 / 2,000 fixed steps against 0.217 / 0.146 (one AMD EPYC core each). The ink is
    measured on the batch, after the dataset's train-time transform (IAM lines' augmentation moves
    it), not taken from the sampler's widths of the stored images: 0.8 ms a batch of 32."""

    def __init__(self, margin: int = CROP_MARGIN, multiple: int = CROP_MULTIPLE):
        if margin < 0 or multiple < 1:
            raise ValueError(f"bad crop: margin={margin}, multiple={multiple}")
        self.margin, self.multiple = margin, multiple

    def __call__(self, samples: list) -> list:
        images, labels = default_collate(samples)  # (B, C, H, W), (B, L)
        full = images.shape[-1]
        extent = int(ink_extent(images.amax(1)).max()) if len(images) else full  # (B, H, W) -> one width
        width = min(full, math.ceil((extent + self.margin) / self.multiple) * self.multiple)
        return [images[..., :width], labels]
