"""FSDL's model zoo: shapes, CTC decoding, and a batch each model must memorise."""

import functools

import pytest
import torch
from torchmetrics.functional.text import char_error_rate

from model_package.data import FakeImageData, HandwritingFontLines
from model_package.lit_models import LitClassifier, LitCTC, LitTransformer
from model_package.lit_models.ctc import ctc_greedy_decode
from model_package.metadata.vocabulary import LINE_VOCABULARY
from model_package.models import CNN, MLP, LineCNN, LineCNNSimple, LineCNNTransformer

C = len(LINE_VOCABULARY)


def test_classifier_shapes():
    x = torch.rand(5, 1, 28, 28)
    assert MLP((1, 28, 28), C)(x).shape == (5, C)
    assert CNN((1, 28, 28), C)(x).shape == (5, C)


def test_line_model_shapes():
    x = torch.rand(3, 1, 28, 112)
    simple = LineCNNSimple((1, 28, 112), C)  # four 28-px windows
    assert simple.num_windows == 4 and simple(x).shape == (3, C, 4)
    overlapping = LineCNNSimple((1, 28, 112), C, window_width=28, window_stride=14)
    assert overlapping(x).shape == (3, C, 7)
    line = LineCNN((1, 32, 128), C)  # /8 -> 16 columns, 2-column windows every column -> 15
    assert line.num_windows == 15 and line(torch.rand(3, 1, 32, 128)).shape == (3, C, 15)
    emnist_lines = LineCNN((1, 28, 896), C, window_width=16, window_stride=8)  # 28 rows -> 4 after /8
    assert emnist_lines(torch.rand(1, 1, 28, 896)).shape == (1, C, 111)
    with pytest.raises(ValueError, match="multiples of 8"):
        LineCNN((1, 32, 128), C, window_width=12)


def test_line_cnn_simple_classifies_each_window_alone():
    torch.manual_seed(0)
    model = LineCNNSimple((1, 28, 84), C).eval()
    x = torch.rand(2, 1, 28, 84)
    y = x.clone()
    y[..., 28:56] = 0  # change the middle window only
    a, b = model(x), model(y)
    # Equal up to float rounding, which differs between CPUs (other convolution kernels on AVX2 than
    # on AVX512): atol 1e-4 is ~1/700 of what the changed window moves (0.077 here), so it still
    # tells "untouched" from "changed".
    same = dict(rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(a[..., 0], b[..., 0], **same)
    torch.testing.assert_close(a[..., 2], b[..., 2], **same)
    assert (a[..., 1] - b[..., 1]).abs().max() > 100 * same["atol"]
    torch.testing.assert_close(a[0, :, 1], model.cnn(x[:1, :, :, 28:56])[0], **same)


def test_line_cnn_transformer_shapes_decoding_and_script():
    torch.manual_seed(0)
    model = LineCNNTransformer((1, 32, 128), C, 10, 1, 2, 3, tf_dim=32, tf_fc_dim=32, tf_num_layers=1).eval()
    assert (model.enc_height, model.enc_width) == (1, 15)
    x = torch.rand(2, 1, 32, 128)
    assert model.encode(x).shape == (2, 15, 32)
    assert model(x, torch.randint(0, C, (2, 9))).shape == (2, 9, C)
    assert torch.equal(model.predict(x), model.predict(x, use_cache=False))
    assert torch.equal(torch.jit.script(model).predict(x), model.predict(x))


def test_line_cnn_encoder_starts_with_unit_scale_features():
    """A fresh LineCNN encoder must hand the decoder features at unit scale that differ between
    images: with PyTorch's default init the nine conv + ReLU layers gave std ~0.01, below the
    decoder's positional embeddings (0.02), and LineCNNTransformer learned to ignore the image."""
    torch.manual_seed(0)
    encoder = LineCNNTransformer((1, 32, 512), C, 10, 1, 2, 3).encoder
    x = torch.zeros(8, 1, 32, 512)
    for i in range(8):  # a few dark strokes at different places, like ink on a line
        x[i, 0, 8:24, 40 * i : 40 * i + 6] = 1.0
        x[i, 0, 14:17, 300 - 20 * i : 380 - 20 * i] = 1.0
    with torch.no_grad():
        features = encoder(x)  # (B, fc_dim, 1, S)
    assert features.std() > 0.5
    assert features.std(dim=0).mean() > 0.1  # not the same for every image


def _logits(path, classes=6):
    """(1, classes, S) logits whose argmax at each step is ``path``."""
    logits = torch.zeros(1, classes, len(path))
    logits[0, path, torch.arange(len(path))] = 5.0
    return logits


@pytest.mark.parametrize(
    "path, expected",
    [
        ([4, 4, 0, 4, 5, 5, 0, 0, 4], [4, 4, 5, 4]),  # repeats collapse; a blank separates a double letter
        ([0, 0, 0], []),  # only blanks
        ([5, 5, 5, 5], [5]),
        ([4, 0, 4, 0, 4], [4, 4, 4]),
        ([5, 4, 5, 4], [5, 4, 5, 4]),
    ],
)
def test_ctc_greedy_decoding(path, expected):
    assert ctc_greedy_decode(_logits(path), blank=0) == [expected]


def test_ctc_decoding_of_a_batch_and_targets():
    logits = torch.cat([_logits([4, 4, 0, 5]), _logits([0, 5, 5, 0])])
    assert ctc_greedy_decode(logits, blank=0) == [[4, 5], [5]]
    lit = LitCTC(LINE_VOCABULARY, (1, 32, 128), 6)
    v = lit.vocabulary
    y = torch.tensor([v.encode("ab", 6), v.encode("c", 6)])
    targets, lengths = lit.targets(y)
    assert targets.tolist() == [v.char_to_idx[c] for c in "abc"] and lengths.tolist() == [2, 1]


# ------------------------------------------------------------------ memorise one batch


def _memorise(lit, x, read, target, max_steps, lr=2e-3):
    """Train ``lit`` on (x, y) until ``read()`` equals ``target`` (checked every 10 steps); the steps taken."""
    optimizer = torch.optim.Adam(lit.parameters(), lr=lr)
    for step in range(1, max_steps + 1):
        lit.train()
        optimizer.zero_grad()
        lit.loss(*x).backward()
        optimizer.step()
        if step % 10 == 0:
            lit.eval()
            with torch.no_grad():
                if read() == target:
                    return step
    lit.eval()
    with torch.no_grad():
        got = read()
    raise AssertionError(f"not memorised in {max_steps} steps: {list(zip(got, target))[:4]}")


@pytest.mark.parametrize("network", [MLP, CNN])
def test_classifiers_memorise_a_batch(network):
    torch.manual_seed(0)
    dm = FakeImageData(num_train=32, input_dims=(1, 28, 28), max_length=1)
    dm.setup()
    x, y = next(iter(torch.utils.data.DataLoader(dm.data_train, batch_size=32)))
    lit = LitClassifier(dm.idx_to_char, dm.input_dims, network=network)
    _memorise(lit, (x, y), lambda: lit(x).argmax(-1).tolist(), y.tolist(), max_steps=300, lr=1e-3)
    assert (lit(x).argmax(-1) == y).float().mean() == 1.0  # accuracy 1.0


@pytest.fixture(scope="module")
def short_lines(data_dir):
    """16 rendered lines of up to 8 characters, 64 x 256: letters about 24 px wide, so LineCNN's
    windows (every 8 px) give CTC ~3 per letter, room for "l", blank, "l" in a doubled narrow
    letter (at 48 x 384, ~2 a letter, "will" stayed "wil" past 1,200 steps with AVX2 kernels)."""
    dm = HandwritingFontLines(num_train=16, num_val=4, num_test=4, batch_size=16, max_length=8, line_height=64, line_width=256, seed=1)
    dm.prepare_data()
    dm.setup()
    return dm, next(iter(torch.utils.data.DataLoader(dm.data_train, batch_size=16)))


def character_lines(num: int = 16, length: int = 6, seed: int = 0):
    """EMNISTLines without overlap, as FSDL trained LineCNNSimple: (num, 1, 28, 28 * (length + 2))
    images of up to ``length`` characters, each drawn upright in its own 28-px cell, and labels."""
    from emnist_fixture import upright_character

    # letters whose glyphs no other symbol shares in this font (no I/l/1, O/0/o, S/s, ...)
    alphabet = "ABDEFGHJKLMNQRTY23456789abdefghnqrty"

    from model_package.metadata.vocabulary import Vocabulary

    rng = torch.Generator().manual_seed(seed)
    vocab = Vocabulary(LINE_VOCABULARY)
    images = torch.zeros(num, 1, 28, 28 * (length + 2))
    labels = []
    for i in range(num):
        n = int(torch.randint(2, length + 1, (1,), generator=rng))
        text = "".join(alphabet[int(k)] for k in torch.randint(0, len(alphabet), (n,), generator=rng))
        for j, char in enumerate(text):
            images[i, 0, :, 28 * j : 28 * (j + 1)] = torch.from_numpy(upright_character(char)).float() / 255
        labels.append(vocab.encode(text, length + 2))
    return images, torch.tensor(labels)


def test_line_cnn_simple_memorises_a_batch_with_ctc():
    """Windows of one cell moving half a cell: CTC has two steps per character."""
    torch.manual_seed(0)
    x, y = character_lines()
    network = functools.partial(LineCNNSimple, window_width=28, window_stride=14, conv_dim=32, fc_dim=128)
    lit = LitCTC(LINE_VOCABULARY, (1, 28, 224), 8, network=network)
    texts = lit.texts(y)
    _memorise(lit, (x, y), lambda: lit.predict_texts(x), texts, max_steps=600, lr=3e-3)
    assert char_error_rate(lit.predict_texts(x), texts) == 0.0


def test_line_cnn_memorises_a_batch_with_ctc(short_lines):
    torch.manual_seed(0)
    dm, (x, y) = short_lines
    x, y = x[:8], y[:8]  # half the batch: its full-resolution convolutions make a step ~0.15 s on 2 cores
    lit = LitCTC(dm.idx_to_char, dm.input_dims, dm.max_seq_length, network=functools.partial(LineCNN, conv_dim=16, fc_dim=128))
    texts = lit.texts(y)
    _memorise(lit, (x, y), lambda: lit.predict_texts(x), texts, max_steps=800, lr=3e-3)
    assert char_error_rate(lit.predict_texts(x), texts) == 0.0


def test_line_cnn_transformer_memorises_a_batch(short_lines):
    torch.manual_seed(0)
    dm, (x, y) = short_lines
    lit = LitTransformer(dm.idx_to_char, dm.input_dims, dm.max_seq_length, encoder="line_cnn", tf_dim=64, tf_fc_dim=128, tf_num_layers=2)
    assert isinstance(lit.model.encoder.features.convs, torch.nn.Sequential)
    texts = lit.texts(y)
    _memorise(lit, (x, y), lambda: lit.texts(lit.model.predict(x)), texts, max_steps=600)
    assert char_error_rate(lit.texts(lit(x)), texts) == 0.0
