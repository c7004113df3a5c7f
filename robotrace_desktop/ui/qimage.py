"""numpy RGB frames ↔ QImage, without copying the pixels when that is safe.

Decoded frames are (H, W, 3) uint8 arrays that the frame cache shares read-only; a video pane
shows them 30-120 times a second, so wrapping the array's memory in a QImage (Format_RGB888
with an explicit bytes-per-line) is cheaper than copying every frame. PySide6 holds a reference
to the array while the Python QImage wrapper lives, and the cache never writes into its arrays,
so the wrapped pixels stay valid and unchanged. A QImage handed to C++ code that may keep an
implicitly shared copy beyond the wrapper's life (clipboard, another thread) must be ``.copy()``-ed
first — ``VideoPane.current_image`` does that.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def rgb_to_qimage(rgb: np.ndarray, *, copy: bool = False) -> QImage:
    """A QImage over ``rgb`` ((H, W, 3) uint8). Zero-copy when the rows are contiguous;
    otherwise (a strided view, a non-uint8 array) the pixels are copied once. ``copy=True``
    returns a QImage that owns its pixels."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {rgb.shape}")
    if rgb.dtype != np.uint8 or not rgb.flags.c_contiguous:
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, width * 3, QImage.Format.Format_RGB888)
    return image.copy() if copy else image


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """An (H, W, 3) uint8 copy of ``image``'s pixels (any format; alpha dropped). For tests and
    exports: reading back what a pane shows or what a widget grab painted."""
    converted = image.convertToFormat(QImage.Format.Format_RGB888)
    height, width = converted.height(), converted.width()
    stride = converted.bytesPerLine()
    raw = np.frombuffer(converted.constBits(), dtype=np.uint8, count=stride * height)
    return raw.reshape(height, stride)[:, : width * 3].reshape(height, width, 3).copy()
