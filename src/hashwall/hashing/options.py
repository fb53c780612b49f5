"""Knobs of the hashing pipeline, with defaults that match Meta's reference behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hashwall.media.image import DEFAULT_MAX_PIXELS


class HashMode(StrEnum):
    """``exact`` is bit-exact with Meta's C++ PDQ; ``fast`` decodes JPEGs at reduced scale.

    Fast hashes stay within 10 bits of the exact ones for quality >= 80 (Meta's own consistency
    rule for PDQ implementations) and are ~4x cheaper; see benchmarks/hash_bench.py.
    """

    EXACT = "exact"
    FAST = "fast"


#: JPEG draft decoding never goes below this many pixels per side in fast mode.
FAST_DRAFT_SIDE = 256


@dataclass(frozen=True)
class HashOptions:
    mode: HashMode = HashMode.EXACT
    #: Rotate/flip as EXIF says, so the hash is of the picture as people see it (and as platforms
    #: re-encode it). Meta's reference ignores EXIF; turn this off to reproduce it exactly.
    apply_exif: bool = True
    #: Also hash the picture with uniform bars (letterbox/pillarbox/frames) removed.
    remove_borders: bool = True
    #: Include the eight rotation/flip variants of every PDQ hash.
    dihedral: bool = True
    #: vPDQ sampling interval; 0 hashes every frame (Meta's sample hashes were made that way).
    seconds_per_hash: float = 1.0
    #: Rescale video frames to (width, height) before hashing, like vPDQ's downsample option.
    frame_size: tuple[int, int] | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
