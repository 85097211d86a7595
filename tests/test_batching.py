"""Training batches of one line length, cropped to their ink (``width_buckets``)."""

import math

import numpy as np
import pytest
import torch
from torch.utils.data import DistributedSampler, RandomSampler, SequentialSampler

from model_package.data import HandwritingFontLines
from model_package.data.batching import CROP_MARGIN, CROP_MULTIPLE, CropToInk, WidthBucketBatchSampler, ink_extent
from model_package.metadata import handwriting_fonts as meta
from tests.conftest import SMALL_LINES


def _line(width: int, ink_to: int, paper: float = 0.0, ink: float = 1.0, noise: float = 0.0, seed: int = 0) -> torch.Tensor:
    """A (32, width) line, ink high: paper of level ``paper`` (plus noise), strokes up to column ``ink_to``."""
    rng = np.random.default_rng(seed)
    image = np.full((32, width), paper) + rng.normal(0, noise, (32, width))
    image[10:20:3, 5:ink_to] = ink  # a few thin horizontal strokes
    return torch.from_numpy(image.clip(0, 1)).float()


def test_ink_extent_is_one_past_the_last_inked_column_on_any_paper():
    images = torch.stack([
        _line(320, 100),  # black on white
        _line(320, 100, paper=0.3, ink=0.65, noise=0.03),  # faint ink on tinted, grainy paper
        _line(320, 320),  # ink to the edge
        torch.zeros(32, 320),  # blank
        _line(320, 0, paper=0.2, noise=0.03),  # paper alone, grain and all
    ])  # fmt: skip
    assert ink_extent(images).tolist() == [100, 100, 320, 0, 0]
    as_uint8 = (images * 255).round().to(torch.uint8)
    assert ink_extent(as_uint8).tolist() == [100, 100, 320, 0, 0]  # the threshold is relative: any dtype


def test_crop_to_ink_keeps_every_stroke_and_cuts_only_paper():
    crop = CropToInk(margin=16, multiple=32)
    samples = [(_line(320, w)[None], torch.tensor([1, 2])) for w in (50, 150, 90)]
    images, labels = crop(samples)
    assert images.shape == (3, 1, 32, 192)  # 150 + 16 px of paper, rounded up to 32
    assert labels.shape == (3, 2)
    full = torch.stack([s[0] for s in samples])
    assert torch.equal(images, full[..., :192]) and full[..., 192:].sum() == 0
    long = crop(samples + [(_line(320, 310)[None], torch.tensor([1, 2]))])[0]
    assert long.shape[-1] == 320  # never wider than the images


def _batches(widths, batch_size, pool, sampler=None, drop_last=False):
    sampler = sampler if sampler is not None else RandomSampler(range(len(widths)))
    return list(WidthBucketBatchSampler(sampler, batch_size, drop_last, widths, pool))


def test_width_buckets_give_every_sample_once_in_batches_of_one_length():
    torch.manual_seed(0)
    widths = torch.randint(1, 321, (1000,))
    batches = _batches(widths, batch_size=32, pool=1000)  # one pool: the batches cut the sorted widths
    assert sorted(i for b in batches for i in b) == list(range(1000))
    spans = sorted((int(widths[b].min()), int(widths[b].max())) for b in batches)
    assert all(hi <= next_lo for (_, hi), (next_lo, _) in zip(spans, spans[1:]))  # no two batches' ranges overlap
    firsts = [int(widths[b].min()) for b in batches]
    assert firsts != sorted(firsts) and firsts != sorted(firsts, reverse=True)  # ... and come in random order
    random_batches = [list(range(i, min(i + 32, 1000))) for i in range(0, 1000, 32)]  # what a plain loader gives
    assert np.mean([widths[b].max() for b in batches]) < 0.6 * np.mean([widths[b].max() for b in random_batches])


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("n, batch_size, pool", [(1000, 32, 3), (64, 8, 100), (7, 3, 1)])
def test_width_bucket_length_is_the_number_of_batches(n, batch_size, pool, drop_last):
    widths = torch.arange(n)
    batches = _batches(widths, batch_size, pool, drop_last=drop_last)
    sampler = WidthBucketBatchSampler(SequentialSampler(range(n)), batch_size, drop_last, widths, pool)
    assert len(batches) == len(sampler)
    short = [b for b in batches if len(b) != batch_size]
    assert not short if drop_last else len(short) <= pool  # at most one short batch a pool
    if not drop_last:
        assert sorted(i for b in batches for i in b) == list(range(n))


def test_width_buckets_under_ddp_split_the_epoch_between_ranks():
    """Lightning hands its DistributedSampler to the batch sampler's ``sampler``: each rank buckets its own share."""
    widths = torch.randint(1, 321, (640,), generator=torch.Generator().manual_seed(1))
    ranks = [_batches(widths, 32, 5, sampler=DistributedSampler(range(640), num_replicas=2, rank=r, seed=0)) for r in (0, 1)]
    seen = [{i for b in batches for i in b} for batches in ranks]
    assert len(ranks[0]) == len(ranks[1]) == 10  # the ranks take the same number of steps
    assert not seen[0] & seen[1] and len(seen[0] | seen[1]) == 640


def test_width_bucket_data_module_crops_training_batches_only(data_dir):
    dm = HandwritingFontLines(**SMALL_LINES, width_buckets=2)
    dm.prepare_data()
    dm.setup()
    train = list(dm.train_dataloader())
    assert len(train) == math.ceil(SMALL_LINES["num_train"] / SMALL_LINES["batch_size"])
    assert sum(len(y) for _, y in train) == SMALL_LINES["num_train"]
    widths = [x.shape[-1] for x, _ in train]
    assert min(widths) < meta.LINE_WIDTH and all(w % CROP_MULTIPLE == 0 or w == meta.LINE_WIDTH for w in widths)
    for x, _ in train:  # every line ends in paper
        assert (ink_extent(x[:, 0]) <= x.shape[-1] - CROP_MARGIN).all() or x.shape[-1] == meta.LINE_WIDTH
    assert {x.shape[-1] for x, _ in dm.val_dataloader()} == {meta.LINE_WIDTH}  # validation as served
    with pytest.raises(ValueError, match="width_buckets"):
        HandwritingFontLines(**SMALL_LINES, width_buckets=-1)
