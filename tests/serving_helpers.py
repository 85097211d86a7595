"""Images for the serving tests."""

import numpy as np
from PIL import Image

from model_package.data.render import Augmentation, render_line


def rendered_line_png(text: str, path, font: str = "caveat", scale: int = 2) -> None:
    """A clean line as a user would have it: dark ink on light paper, twice the model's size."""
    ink = render_line(text, font, 32, 512, np.random.default_rng(0), Augmentation.none(), degraded=False)
    image = Image.fromarray(255 - ink).resize((512 * scale, 32 * scale), Image.Resampling.BICUBIC)
    image.save(path)
