"""Uniform bars are found and removed, and content is never cropped by mistake."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashwall.hashing import hash_file
from hashwall.matching import compare_photos
from hashwall.media.borders import find_uniform_borders

from ..conftest import textured_rgb


def pad(rgb: np.ndarray, top: int, bottom: int, left: int, right: int, value: int) -> np.ndarray:
    return np.pad(rgb, ((top, bottom), (left, right), (0, 0)), constant_values=value)


@pytest.mark.parametrize("value", [0, 255, 128, (200, 30, 30), (30, 60, 200)])
def test_letterbox_detected(value: int | tuple[int, int, int]) -> None:
    picture = textured_rgb(4, (300, 200))
    bar = np.broadcast_to(np.array(value, dtype=np.uint8), (50, 300, 3))
    crop = find_uniform_borders(np.concatenate([bar, picture, bar]))
    assert crop is not None
    assert (crop.top, crop.bottom, crop.left, crop.right) == (50, 50, 0, 0)


def test_pillarbox_detected_with_jpeg_noise(tmp_path: Path) -> None:
    padded = pad(textured_rgb(4, (200, 300)), 0, 0, 120, 120, 0)
    path = tmp_path / "pillar.jpg"
    Image.fromarray(padded).save(path, quality=60)
    crop = find_uniform_borders(np.asarray(Image.open(path).convert("RGB")))
    assert crop is not None
    assert 112 <= crop.left <= 120 and 112 <= crop.right <= 120


def test_grey_input_is_supported() -> None:
    grey = pad(textured_rgb(4, (300, 200)), 0, 0, 40, 40, 0)[..., 0]
    crop = find_uniform_borders(grey)
    assert crop is not None and (crop.left, crop.right) == (40, 40)


def test_no_borders_on_plain_photo() -> None:
    assert find_uniform_borders(textured_rgb(8)) is None


def test_flat_image_is_not_cropped_away() -> None:
    assert find_uniform_borders(np.full((100, 100, 3), 30, dtype=np.uint8)) is None


def test_letterboxed_copy_matches_original(tmp_path: Path) -> None:
    picture = textured_rgb(9, (320, 240))
    Image.fromarray(picture).save(tmp_path / "original.png")
    Image.fromarray(pad(picture, 60, 60, 0, 0, 0)).save(tmp_path / "boxed.png")
    original = hash_file(tmp_path / "original.png")
    boxed = hash_file(tmp_path / "boxed.png")
    assert boxed.pdq_borderless is not None
    assert boxed.pdq_borderless.crop.as_list() == [0, 60, 0, 60]
    result = compare_photos(boxed, original)
    assert result is not None and result.is_match()
    assert result.query_variant.startswith("borderless")
