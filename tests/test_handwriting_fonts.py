import numpy as np
import pytest

from model_package.data import HandwritingFontCharacters, HandwritingFontLines, HandwritingFontParagraphs
from model_package.data.handwriting_fonts import EMNIST_CLASSES, character_image
from model_package.data.fonts import FontError, installed_fonts
from model_package.data.render import Augmentation, render_line, sample_bilinear
from model_package.metadata import handwriting_fonts as meta
from tests.conftest import SMALL_LINES


@pytest.fixture(scope="module")
def lines(data_dir):
    dm = HandwritingFontLines(**SMALL_LINES)
    dm.prepare_data()
    dm.setup()
    return dm


def test_declared_dims_fit_every_sample(lines):
    assert lines.input_dims == (1, meta.LINE_HEIGHT, meta.LINE_WIDTH)
    assert lines.output_dims == (meta.MAX_LINE_LENGTH + 2,)
    x, y = next(iter(lines.train_dataloader()))
    assert x.shape == (8, 1, meta.LINE_HEIGHT, meta.LINE_WIDTH) and x.dtype.is_floating_point
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert y.shape == (8, meta.MAX_LINE_LENGTH + 2)
    assert len(lines.idx_to_char) == 83


def test_labels_are_the_rendered_texts(lines):
    _, labels, texts = lines.load_split("val")
    vocab = lines.vocabulary
    assert [vocab.decode(row) for row in labels] == texts
    assert all(0 < len(t) <= meta.MAX_LINE_LENGTH for t in texts)


def test_every_image_has_ink(lines):
    images, _, _ = lines.load_split("train")
    flat = images.reshape(len(images), -1).astype(int)
    contrast = flat.max(axis=1) - np.median(flat, axis=1)  # darkest ink above the paper
    assert (contrast > 64).all(), sorted(contrast)[:5]


def test_same_seed_same_data_other_seed_other_data(data_dir, lines):
    again = HandwritingFontLines(**SMALL_LINES)
    a_images, _, a_texts = lines.load_split("train")
    other = HandwritingFontLines(**SMALL_LINES, seed=1)
    assert again.split_path("train") == lines.split_path("train")
    assert other.split_path("train") != lines.split_path("train")
    # Render afresh (not from the cache) to prove determinism of the generator itself.
    from model_package.data.handwriting_fonts import render_split

    b_images, b_texts = render_split(again.specs["train"], processes=1)
    assert b_texts == a_texts and np.array_equal(b_images, a_images)
    c_images, c_texts = render_split(other.specs["train"], processes=1)
    assert c_texts != a_texts and not np.array_equal(c_images, a_images)


def test_parallel_rendering_matches_serial(data_dir):
    dm = HandwritingFontLines(num_train=40, num_val=4, num_test=4)
    from model_package.data.handwriting_fonts import render_split

    serial = render_split(dm.specs["train"], processes=1, chunk=40)
    parallel = render_split(dm.specs["train"], processes=2, chunk=10)
    assert serial[1] == parallel[1] and np.array_equal(serial[0], parallel[0])


def test_fonts_are_disjoint_across_splits(lines):
    fonts = {split: set(spec.fonts) for split, spec in lines.specs.items()}
    assert not fonts["train"] & fonts["val"] and not fonts["train"] & fonts["test"] and not fonts["val"] & fonts["test"]
    with pytest.raises(FontError, match="fonts must differ between splits.*kalam"):
        HandwritingFontLines(train_fonts=["caveat", "kalam"], val_fonts=["kalam"], test_fonts=["indie-flower"])


def test_validation_and_test_text_is_held_out(lines):
    from model_package.data.handwriting_fonts import _sentences

    text = lines.specs["train"].text  # "offline" in tests (no npm); Brown's split: tests/test_npm_data.py
    train, held_out = set(_sentences(text, "train")), set(_sentences(text, "val"))
    assert train and held_out and not train & held_out


def test_unknown_font_is_named():
    with pytest.raises(FontError, match="val_fonts: font 'no-such-hand' is not installed"):
        HandwritingFontLines(val_fonts=["no-such-hand"])


def test_default_fonts_are_installed_and_cover_the_vocabulary():
    assert set(meta.TRAIN_FONTS + meta.VAL_FONTS + meta.TEST_FONTS) <= set(installed_fonts())


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="num_val must be positive"):
        HandwritingFontLines(num_val=0)


def test_warp_samples_as_scipy_does():
    """The warp's bilinear sampling (torch) reads the pixels scipy's order-1 map_coordinates reads,
    inside the image; a point beyond it is paper."""
    from scipy import ndimage

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 90)).astype(np.uint8)
    ys = rng.uniform(0, 39, (30, 120)).astype(np.float32)
    xs = rng.uniform(0, 89, (30, 120)).astype(np.float32)
    expected = ndimage.map_coordinates(image.astype(np.float32), [ys, xs], order=1)
    got = sample_bilinear(image, ys, xs)
    assert got.shape == (30, 120) and got.dtype == np.uint8
    assert np.abs(got.astype(np.float32) - expected).max() <= 0.5 + 1e-3  # rounding only
    assert not sample_bilinear(image, ys - 50, xs).any() and not sample_bilinear(image, ys, xs + 95).any()


def test_render_line_keeps_text_inside_and_left_aligned():
    rng = np.random.default_rng(0)
    img = render_line("Hello world", "kalam", 32, 512, rng, Augmentation.none())
    assert img.shape == (32, 512) and img.dtype == np.uint8
    cols = np.flatnonzero(img.max(axis=0) > 64)
    assert cols[0] < 16 and cols[-1] < 400  # a short text stays left, with room to spare
    longer = render_line("Hello world, hello again world", "kalam", 32, 512, np.random.default_rng(0), Augmentation.none())
    assert np.flatnonzero(longer.max(axis=0) > 64)[-1] > cols[-1]


def test_paragraphs_stack_lines_with_newlines(data_dir):
    dm = HandwritingFontParagraphs(num_train=12, num_val=4, num_test=4, max_lines=3)
    dm.prepare_data()
    dm.setup()
    assert dm.input_dims == (1, 3 * meta.LINE_HEIGHT, meta.LINE_WIDTH)
    assert len(dm.idx_to_char) == 84 and dm.idx_to_char[-1] == "\n"
    images, labels, texts = dm.load_split("train")
    assert [dm.vocabulary.decode(row) for row in labels] == texts
    assert any("\n" in t for t in texts)
    for image, text in zip(images, texts):
        n = text.count("\n") + 1
        band_ink = [image[k * meta.LINE_HEIGHT : (k + 1) * meta.LINE_HEIGHT].max() > 128 for k in range(3)]
        assert band_ink == [k < n for k in range(3)]  # one line of ink per line of text, none below


def test_characters_are_emnist_shaped_and_labelled(data_dir):
    dm = HandwritingFontCharacters(num_train=120, num_val=20, num_test=20)
    assert dm.input_dims == (1, 28, 28) and dm.output_dims == (1,) and dm.max_seq_length == 1
    assert EMNIST_CLASSES == list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    dm.prepare_data()
    dm.setup()
    images, labels, texts = dm.load_split("train")
    assert images.shape == (120, 28, 28) and labels.shape == (120, 1)
    assert [dm.idx_to_char[i] for i in labels[:, 0]] == texts  # the token of the rendered class
    assert set(texts) <= set(EMNIST_CLASSES) and len(set(texts)) > 40  # classes drawn evenly
    x, y = dm.data_train[0]
    assert x.shape == (1, 28, 28) and y.shape == (1,)
    assert {s.fonts for s in dm.specs.values()} == {tuple(meta.TRAIN_FONTS), tuple(meta.VAL_FONTS), tuple(meta.TEST_FONTS)}


def test_character_image_centres_the_ink_in_an_emnist_frame():
    ink = np.zeros((64, 128), np.uint8)
    ink[10:50, 90:100] = 255  # a tall bar far right
    out = character_image(ink, Augmentation.none(), np.random.default_rng(0))
    rows, cols = np.flatnonzero(out.max(1) > 128), np.flatnonzero(out.max(0) > 128)
    assert (rows[0], rows[-1]) == (2, 25)  # fills 24 rows, 2 pixels of paper above and below
    assert abs((cols[0] + cols[-1]) / 2 - 13.5) <= 1  # centred horizontally


@pytest.mark.parametrize("text", ["the cat sat on the mat", "jumpy quay", "Hello, world!"])
@pytest.mark.parametrize("zoom", [1, 3])
def test_a_rendered_line_saved_as_a_png_is_served_with_the_training_geometry(text, zoom, tmp_path):
    """One placement policy: a training line written to a black-on-white PNG (at its size, or 3x
    like a photo) and read back by serving's preprocessing has the same ink rows and columns."""
    from PIL import Image

    from model_package.data.preprocess import to_model_input

    trained = render_line(text, "caveat", 32, 512, np.random.default_rng(0), Augmentation.none())  # uint8, ink high
    picture = Image.fromarray(255 - trained)
    picture = picture.resize((512 * zoom, 32 * zoom), Image.Resampling.BICUBIC)
    picture.save(tmp_path / "line.png")
    served = to_model_input(Image.open(tmp_path / "line.png"), 32, 512)

    def box(image):
        mask = image > 0.5 * image.max()
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        return rows[0], rows[-1], cols[0], cols[-1]

    (t0, b0, l0, r0), (t1, b1, l1, r1) = box(trained / 255.0), box(served)
    assert abs(t0 - t1) <= 1 and abs(b0 - b1) <= 1 and abs((b0 - t0) - (b1 - t1)) <= 2, (t0, b0, t1, b1)
    assert abs(l0 - l1) <= 2 and abs(r0 - r1) <= 2 * zoom + 2, (l0, r0, l1, r1)


def test_training_lines_are_what_serving_makes_of_their_picture(lines):
    """The data module's lines (tinted, textured, lit paper in the renderer) are stored as the
    predictor sees a picture of them: paper at 0, darkest ink at 255, and serving's preprocessing
    of such a line changes it no further (the same placement and photometry)."""
    from PIL import Image

    from model_package.data.preprocess import to_model_input

    images, _, _ = lines.load_split("train")  # (N, H, W) uint8, ink high, augmented
    assert np.all(np.median(images.reshape(len(images), -1), axis=1) <= 4)  # the paper levelled (was ~50)
    assert np.all(images.reshape(len(images), -1).max(axis=1) >= 224)  # the darkest ink near full (resampled)
    height, width = images.shape[1:]
    changes = [np.abs(to_model_input(Image.fromarray(255 - image), height, width) - image / 255.0).mean() for image in images]
    # most lines are a fixed point; some ~10% rescale, where a faint speck at the edge of the
    # first crop is dropped by the second (before: every augmented line changed by ~0.2)
    assert np.mean(np.array(changes) < 0.01) >= 0.75, sorted(changes)


def test_crop_to_ink_keeps_thin_strokes_and_drops_specks_of_grain():
    from model_package.data.preprocess import crop_to_ink

    ink = np.zeros((40, 400), np.float32)
    ink[10:30, 50:51] = 1.0  # a stroke one pixel wide
    ink[12, 60:120] = 0.6  # and a faint hairline
    ink[2, 0:400:9] = 0.4  # lone specks of grain above the strokes ...
    ink[5:40:6, 130:400:11] = 0.4  # ... and right of them
    crop = crop_to_ink(ink)
    assert crop.shape == (20, 70)  # rows 10..29, columns 50..119: the strokes' box alone


def test_augmentation_varies_the_scan_and_none_switches_it_off():
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    full = [render_line("A line of text", "caveat", 32, 512, np.random.default_rng(i), Augmentation()) for i in range(12)]
    paper = [float(np.median(img)) for img in full]
    assert max(paper) - min(paper) > 10  # paper tone, texture, lighting vary between samples
    clean = render_line("A line of text", "caveat", 32, 512, rng_a, Augmentation.none())
    assert np.median(clean) == 0 and clean.max() == 255  # white paper, full-contrast ink
    assert np.array_equal(clean, render_line("A line of text", "caveat", 32, 512, rng_b, Augmentation.none()))
    # neighbours: some augmented crops have ink in the top or bottom rows that the text alone has not
    touching = [img[:2].max() > 128 or img[-2:].max() > 128 for img in full]
    assert any(touching)
