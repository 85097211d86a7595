"""Greedy decoding speed: cached keys/values beside full recomputation, same weights, one run.

    python -m model_package.bench decode [--batch 1] [--threads N]

The model is FSDL's paragraph size: Transformer decoder of 4 layers, dim 256, feed-forward 256,
4 heads, over a ResNet that downsamples 32x like FSDL's resnet18 trunk (576 x 640 paragraph ->
18 x 20 = 360 memory positions). The end token is made unreachable so that both methods decode
the full length: 682 tokens for a paragraph (FSDL's IAM paragraph maximum), 89 for a line of
56 x 1536 (FSDL's IAM line shape and maximum). Both must give the same tokens.
"""

from __future__ import annotations

import argparse
import time

import torch

from model_package.models.resnet import ResNetConfig
from model_package.models.resnet_transformer import ResNetTransformer

PARAGRAPH = ((1, 576, 640), 682)  # (input dims, tokens incl. <S>)
LINE = ((1, 56, 1536), 89)


def build_model(max_seq_length: int) -> ResNetTransformer:
    torch.manual_seed(0)
    resnet = ResNetConfig(
        in_channels=[1, 32, 64, 128, 256],
        out_channels=[32, 64, 128, 256, 256],
        kernel_sizes=[3, 3, 3, 3, 3],
        strides=[2, 2, 2, 2, 2],
    )
    model = ResNetTransformer(
        input_dims=PARAGRAPH[0], num_classes=84, max_seq_length=max_seq_length,
        start_index=1, end_index=-1,  # never emitted: decode the full length
        pad_index=3, resnet=resnet, tf_dim=256, tf_fc_dim=256, tf_nhead=4, tf_num_layers=4,
    )
    return model.eval()


def timed(model: ResNetTransformer, images: torch.Tensor, use_cache: bool) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    tokens = model.predict(images, use_cache=use_cache)
    return time.perf_counter() - start, tokens


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=1, help="images decoded together")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--paragraph-tokens", type=int, default=PARAGRAPH[1])
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = build_model(max(args.paragraph_tokens, LINE[1]))
    print(f"greedy decoding, batch {args.batch}, {torch.get_num_threads()} torch threads, "
          f"decoder 4 x 256 (fc 256, 4 heads), {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters")
    print(f"{'case':<28} {'method':<20} {'seconds':>8} {'tokens/s':>10}  same tokens")
    cases = [("line", LINE[0], LINE[1]), ("paragraph", PARAGRAPH[0], args.paragraph_tokens)]
    for kind, dims, length in cases:
        name = f"{kind} {dims[1]}x{dims[2]}"
        model.max_seq_length = length
        images = torch.rand(args.batch, *dims)
        model.predict(images[:, :, :64, :64], use_cache=True)  # warm-up
        cached_s, cached = timed(model, images, use_cache=True)
        full_s, full = timed(model, images, use_cache=False)
        same = "yes" if torch.equal(cached, full) else "NO"
        generated = args.batch * (length - 1)
        for method, seconds in [("full recompute", full_s), ("cached K/V", cached_s)]:
            print(f"{name:<28} {method:<20} {seconds:>8.2f} {generated / seconds:>10.1f}  {same}")
        print(f"decode speedup at {length - 1} tokens: {full_s / cached_s:.1f}x")


if __name__ == "__main__":
    main()
