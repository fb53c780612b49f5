"""The fast photo mode: luma decoded at reduced scale, PDQ through matrix products.

Against the exact mode it skips full-resolution JPEG decoding and colour conversion, the
512x512 nearest-neighbour squash (folded into the PDQ matrices as a gather) and pdqhash's
per-pixel float64 loops. benchmarks/hash_bench.py measures speed and drift from the exact mode.
"""

from __future__ import annotations

from pathlib import Path

from hashwall.hashing.options import FAST_DRAFT_SIDE, HashOptions
from hashwall.hashing.record import BorderlessPdq
from hashwall.media.borders import find_uniform_borders
from hashwall.media.image import load_luma
from hashwall.signals.pdq import PdqDigest
from hashwall.signals.pdq_linear import reference_digest_from_luma


def hash_photo_fast(
    path: Path, options: HashOptions
) -> tuple[PdqDigest, BorderlessPdq | None, tuple[int, int]]:
    """PDQ (and borderless PDQ) of a photo; sizes and crops are reported in full-scale pixels."""
    decoded = load_luma(
        path,
        apply_exif=options.apply_exif,
        max_pixels=options.max_pixels,
        draft_size=(FAST_DRAFT_SIDE, FAST_DRAFT_SIDE),
    )
    full_width, full_height = decoded.full_size
    digest = reference_digest_from_luma(decoded.luma, decoded.full_size, dihedral=options.dihedral)
    borderless = None
    crop = find_uniform_borders(decoded.luma) if options.remove_borders else None
    if crop is not None:
        scale = full_width / decoded.luma.shape[1]
        full_crop = crop.scaled(scale)
        inner_size = (
            full_width - full_crop.left - full_crop.right,
            full_height - full_crop.top - full_crop.bottom,
        )
        inner = reference_digest_from_luma(
            crop.apply(decoded.luma), inner_size, dihedral=options.dihedral
        )
        borderless = BorderlessPdq(inner, full_crop)
    return digest, borderless, decoded.full_size
