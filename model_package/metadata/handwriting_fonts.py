"""Shapes and font splits of the offline handwriting-font data sets.

Fonts come from PyPI's ``fontpkg-*`` packages (dependencies of this package). Train, validation
and test are split BY FONT, so validation and test are written in hands training never saw.
``permanent-marker`` is left out: its lowercase letters are small capitals, so case is ambiguous.
"""

LINE_HEIGHT = 32  # pixels per line of text
LINE_WIDTH = 512  # padded width of a line image
MAX_LINE_LENGTH = 32  # characters per line, without <S> and <E>

TRAIN_FONTS = ["caveat", "dancing-script", "delius", "satisfy", "shadows-into-light", "yellowtail", "zeyada"]
VAL_FONTS = ["kalam"]
TEST_FONTS = ["indie-flower"]
