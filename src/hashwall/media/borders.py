"""Find uniform bars (letterbox, pillarbox, black/white/coloured frames) around a picture.

Re-uploads of abusive images often arrive inside bars: a portrait screenshot padded to 16:9, a
video frame with black bars, a white "story" frame. PDQ sees the bars as image content and the
hash drifts far from the original; hashing the picture without its bars brings it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

_Pixel = TypeVar("_Pixel", bound=np.generic)

# Grey levels a bar may wander (JPEG/H.264 noise) and still count as one flat colour.
DEFAULT_TOLERANCE = 12.0
# Bars thinner than this fraction of the side are usually compression artefacts, not padding.
MIN_BAR_FRACTION = 0.01
# If less than this fraction of a side would remain, the picture itself is flat: crop nothing.
MIN_CONTENT_FRACTION = 0.1
# Rows/columns are scanned on a subsample this wide; bars are long, so that loses nothing.
_SCAN_SAMPLES = 512


@dataclass(frozen=True)
class BorderCrop:
    """Pixels to remove from each side of an image."""

    left: int
    top: int
    right: int
    bottom: int

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Pillow-style (left, upper, right, lower) box of what stays."""
        return (self.left, self.top, width - self.right, height - self.bottom)

    def apply(self, rgb: NDArray[_Pixel]) -> NDArray[_Pixel]:
        """The picture without its bars, as a contiguous array ready for hashing."""
        height, width = rgb.shape[:2]
        return np.ascontiguousarray(
            rgb[self.top : height - self.bottom, self.left : width - self.right]
        )

    def scaled(self, factor: float) -> BorderCrop:
        """The same bars measured on a version of the image ``factor`` times larger."""
        return BorderCrop(*(round(side * factor) for side in self.as_list()))

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]


def _luma(pixels: NDArray[np.generic], rgb: bool) -> NDArray[np.float32]:
    """Grey levels of pixels that are RGB triplets (last axis) or already grey."""
    if not rgb:
        return pixels.astype(np.float32)
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return (pixels.astype(np.float32) @ weights).astype(np.float32)


def _bar_depth(lines: NDArray[np.generic], tolerance: float, rgb: bool) -> int:
    """How many leading lines (rows of ``lines``) are the same flat colour as the first one.

    Lines are examined in growing chunks, so a picture without bars (the common case) costs a
    glance at a few lines, not a pass over half the image.
    """
    colour = float(np.median(_luma(lines[0], rgb)))
    start, chunk = 0, 8
    while start < lines.shape[0]:
        deviation = np.abs(_luma(lines[start : start + chunk], rgb) - colour)
        flat = (deviation.mean(axis=1) <= tolerance / 2) & (deviation.max(axis=1) <= tolerance * 2)
        if not flat.all():
            return start + int(np.argmin(flat))
        start += chunk
        chunk *= 2
    return int(lines.shape[0])


def find_uniform_borders(
    rgb: NDArray[np.generic], tolerance: float = DEFAULT_TOLERANCE
) -> BorderCrop | None:
    """Detect flat bars on each side; ``None`` when there are none worth removing.

    ``rgb`` is an RGB image (h, w, 3) or a luma image (h, w).

    Each side is judged on its own colour, so a black top bar and a white bottom bar both go.
    """
    height, width = rgb.shape[:2]
    if height < 8 or width < 8:
        return None
    row_step = max(1, height // _SCAN_SAMPLES)
    col_step = max(1, width // _SCAN_SAMPLES)
    sample = rgb[::row_step, ::col_step]
    h, w = sample.shape[:2]
    columns = np.swapaxes(sample, 0, 1)  # lines of a column-wise scan, without copying
    is_rgb = rgb.ndim == 3
    depths = {
        "top": _bar_depth(sample[: h // 2], tolerance, is_rgb),
        "bottom": _bar_depth(sample[::-1][: h // 2], tolerance, is_rgb),
        "left": _bar_depth(columns[: w // 2], tolerance, is_rgb),
        "right": _bar_depth(columns[::-1][: w // 2], tolerance, is_rgb),
    }
    crop = BorderCrop(
        left=_to_pixels(depths["left"], col_step, width),
        top=_to_pixels(depths["top"], row_step, height),
        right=_to_pixels(depths["right"], col_step, width),
        bottom=_to_pixels(depths["bottom"], row_step, height),
    )
    remaining_w = width - crop.left - crop.right
    remaining_h = height - crop.top - crop.bottom
    if remaining_w < MIN_CONTENT_FRACTION * width or remaining_h < MIN_CONTENT_FRACTION * height:
        return None
    if crop.left == crop.top == crop.right == crop.bottom == 0:
        return None
    return crop


def _to_pixels(depth: int, step: int, side: int) -> int:
    """Scale a subsampled bar depth back to pixels; drop bars too thin to be padding."""
    pixels = depth * step
    if pixels < max(2, MIN_BAR_FRACTION * side):
        return 0
    return pixels
