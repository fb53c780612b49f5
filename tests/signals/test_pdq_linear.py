"""The matrix formulation of PDQ agrees with Meta's reference code (via pdqhash)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from hashwall.hashing import HashMode, HashOptions, hash_file
from hashwall.signals.hexcodec import hamming_hex
from hashwall.signals.pdq import hash_rgb, reference_downsample
from hashwall.signals.pdq_linear import digest_from_luma, luma_of

from ..conftest import textured_rgb


@pytest.mark.parametrize("size", [(64, 64), (100, 37), (320, 240), (512, 512), (5, 5)])
def test_linear_pdq_equals_reference_code(size: tuple[int, int]) -> None:
    rgb = textured_rgb(21, size)
    ours = digest_from_luma(luma_of(rgb))
    theirs = hash_rgb(rgb)
    assert ours.quality == theirs.quality
    # Float summation order differs; only a coefficient sitting on the median could flip.
    assert hamming_hex(ours.hash, theirs.hash) <= 2
    for mine, reference in zip(ours.dihedral, theirs.dihedral, strict=True):
        assert hamming_hex(mine, reference) <= 2


def test_too_small_images_hash_to_zero_quality() -> None:
    assert digest_from_luma(np.zeros((4, 100), dtype=np.float32)).quality == 0


@pytest.mark.conformance
def test_linear_pdq_bit_exact_on_reference_images(conformance: Path) -> None:
    from PIL import Image

    rows = list(csv.reader((conformance / "expected" / "pdq-reference.csv").open()))
    exact = 0
    for expected, quality, relative in rows:
        rgb = np.asarray(Image.open(conformance / relative).convert("RGB"))
        digest = digest_from_luma(luma_of(reference_downsample(np.ascontiguousarray(rgb))))
        assert digest.quality == int(quality)
        exact += digest.hash == expected
    assert exact == len(rows)


@pytest.mark.conformance
def test_fast_mode_within_meta_tolerance(conformance: Path) -> None:
    """Meta's consistency rule: within 10 bits of the reference wherever quality >= 80."""
    options = HashOptions(mode=HashMode.FAST, apply_exif=False, remove_borders=False)
    rows = list(csv.reader((conformance / "expected" / "pdq-reference.csv").open()))
    for expected, quality, relative in rows:
        if int(quality) < 80:
            continue
        record = hash_file(conformance / relative, options)
        assert record.pdq is not None
        assert hamming_hex(record.pdq.hash, expected) <= 10, relative


def test_fast_mode_reports_full_scale_size_and_crop(tmp_path: Path) -> None:
    from PIL import Image

    picture = np.pad(textured_rgb(3, (1600, 1000)), ((200, 200), (0, 0), (0, 0)))
    path = tmp_path / "big.jpg"
    Image.fromarray(picture).save(path, quality=90)
    fast = hash_file(path, HashOptions(mode=HashMode.FAST))
    exact = hash_file(path, HashOptions(mode=HashMode.EXACT))
    assert (fast.width, fast.height) == (exact.width, exact.height) == (1600, 1400)
    assert fast.pdq is not None and exact.pdq is not None
    assert hamming_hex(fast.pdq.hash, exact.pdq.hash) <= 10
    assert fast.pdq_borderless is not None and exact.pdq_borderless is not None
    for ours, theirs in zip(
        fast.pdq_borderless.crop.as_list(), exact.pdq_borderless.crop.as_list(), strict=True
    ):
        assert abs(ours - theirs) <= 4
