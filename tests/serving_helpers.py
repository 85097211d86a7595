"""Images for the serving tests."""

import numpy as np
from PIL import Image

from model_package.data.render import Augmentation, render_line, render_page


def rendered_line_png(text: str, path, font: str = "caveat", scale: int = 2, width: int = 512, seed: int = 0) -> None:
    """A clean line as a user would have it: dark ink on light paper, ``scale`` x 32 px high."""
    ink = render_line(text, font, 32, width, np.random.default_rng(seed), Augmentation.none(), degraded=False)
    image = Image.fromarray(255 - ink).resize((width * scale, 32 * scale), Image.Resampling.BICUBIC)
    image.save(path)


def rendered_page_png(texts: list[str], path, font: str = "indie-flower", skew_degrees: float = 1.5, seed: int = 0) -> None:
    """A page of ``texts`` in ``font``, dark ink on light paper, a little skewed."""
    aug = Augmentation.fonts_only()
    page = render_page(texts, font, np.random.default_rng(seed), aug, size=40, pitch=(1.3, 1.6), skew_degrees=skew_degrees)
    Image.fromarray(255 - page).save(path)
