"""The vectorised line composer gives exactly the per-character reference's bytes."""

import numpy as np
import pytest

from model_package.data.line_synthesis import CharacterPools, LineDraws, synthesize_lines, synthesize_lines_reference
from model_package.metadata.vocabulary import LINE_VOCABULARY, Vocabulary

VOCAB = Vocabulary(LINE_VOCABULARY)


def _pools(rng, per_class=5):
    tokens = np.repeat(np.arange(4, 66), per_class)
    images = rng.integers(0, 256, (len(tokens), 28, 28), dtype=np.uint8)  # dense ink: overlaps saturate
    return CharacterPools.from_labelled(images, tokens, len(VOCAB))


@pytest.mark.parametrize("max_overlap", [0.0, 0.33, 0.6, 0.9])  # 1, 2, 3 and up to 10 characters over one column
@pytest.mark.parametrize("chunk", [7, 64])
def test_vectorised_equals_reference(max_overlap, chunk):
    rng = np.random.default_rng(int(max_overlap * 100) + chunk)
    pools = _pools(rng)
    texts = ["", "a", "Hello world 42", "x" * 30, "  spaced  out  "] + [
        "".join(rng.choice(list("abcXYZ019 "), int(rng.integers(0, 31)))) for _ in range(150)
    ]
    draws = LineDraws.draw(len(texts), 30, 0.0, max_overlap, rng)
    fast = synthesize_lines(texts, pools, draws, VOCAB.char_to_idx, 896, chunk=chunk)
    slow = synthesize_lines_reference(texts, pools, draws, VOCAB.char_to_idx, 896)
    assert fast.shape == (len(texts), 28, 896) and fast.dtype == np.uint8
    np.testing.assert_array_equal(fast, slow)
    assert not fast[0].any() and fast[3].any()
    if max_overlap > 0:  # overlapping ink saturates at 255 (a uint8 sum would wrap round, leaving ~1/256 of pixels at 255)
        assert (fast == 255).mean() > 4 * (pools.glyphs == 255).mean()


def test_characters_are_placed_step_apart():
    pools = _pools(np.random.default_rng(0), per_class=1)
    text = "ab"
    draws = LineDraws(overlaps=np.array([0.25]), uniforms=np.zeros((1, 4)))
    line = synthesize_lines([text], pools, draws, VOCAB.char_to_idx, 112)[0]
    a = pools.glyphs[pools.starts[VOCAB.char_to_idx["a"]]].astype(int)
    b = pools.glyphs[pools.starts[VOCAB.char_to_idx["b"]]].astype(int)
    step = 28 - 7
    expected = np.zeros((28, 112), int)
    expected[:, :28] += a
    expected[:, step : step + 28] += b
    np.testing.assert_array_equal(line, np.minimum(expected, 255))


def test_bad_input_is_named():
    pools = _pools(np.random.default_rng(0))
    draws = LineDraws.draw(1, 4, 0, 0.3, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"outside the vocabulary: \['é'\]"):
        synthesize_lines(["café"], pools, draws, VOCAB.char_to_idx, 896)
    with pytest.raises(ValueError, match="longer than max_chars=4"):
        synthesize_lines(["hello"], pools, draws, VOCAB.char_to_idx, 896)
