import pytest
from PIL import Image

from model_package.data.preview import main


def test_preview_writes_a_grid_with_one_tile_per_sample(tmp_path, data_dir):
    out = tmp_path / "grid.png"
    main(["HandwritingFontLines", "--num", "3", "--out", str(out), "--init", "num_train=8", "--init", "num_val=2", "--init", "num_test=2"])
    image = Image.open(out)
    assert image.mode == "L" and image.width == 512
    assert image.height == 3 * (22 + 32 + 6)  # caption, line, separator per sample
    assert not list(tmp_path.glob(".*.part"))  # nothing half-written left beside it


def test_preview_paragraph_captions_have_one_row_per_line(tmp_path, data_dir):
    out = tmp_path / "paragraphs.png"
    main(["HandwritingFontParagraphs", "--split", "val", "--num", "2", "--out", str(out),
          "--init", "num_train=2", "--init", "num_val=2", "--init", "num_test=2", "--init", "max_lines=2"])
    assert Image.open(out).width == 512


@pytest.mark.timeout(60)  # the whole default splits (20,000 + 1,000 + 1,000 lines) took minutes
def test_preview_renders_only_what_it_shows(tmp_path, data_dir):
    import h5py

    from model_package.data import HandwritingFontLines

    main(["HandwritingFontLines", "--num", "3", "--out", str(tmp_path / "x.png")])  # the default, full-size module
    full, shown = HandwritingFontLines(), HandwritingFontLines()
    shown.sized_for(3)
    for split in ("train", "val", "test"):
        assert not full.split_path(split).exists()
        with h5py.File(shown.split_path(split)) as f:
            assert len(f["images"]) == 3


def test_preview_unknown_data_module_names_it(tmp_path):
    with pytest.raises(SystemExit, match="unknown data module 'IAMLinez'"):
        main(["IAMLinez", "--out", str(tmp_path / "x.png")])
