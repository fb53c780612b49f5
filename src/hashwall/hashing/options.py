"""Knobs of the hashing pipeline, with defaults that match Meta's reference behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hashwall.media.limits import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_VIDEO_SECONDS,
    NO_LIMITS,
    VideoLimits,
)


class HashMode(StrEnum):
    """``exact`` is bit-exact with Meta's C++ PDQ; ``fast`` trades bit-exactness for speed.

    Fast mode decodes only JPEG luma (at reduced scale for large photos) and computes PDQ as
    matrix products (:mod:`hashwall.signals.pdq_linear`). Its hashes stay within 10 bits of the
    exact ones for quality >= 80 (Meta's consistency rule for PDQ implementations); see
    benchmarks/hash_bench.py for speed and drift.
    """

    EXACT = "exact"
    FAST = "fast"


#: Fast mode decodes JPEGs at 1/2, 1/4 or 1/8 scale only while both sides stay >= this many
#: pixels. At 512 the reference's 512x512 squash still finds a decoded pixel near every pixel it
#: samples: drift stays <= 2 bits. At 256 a 1 MP photo decodes at 1/2 scale, 20 % faster, but
#: texture photos drift up to 14 bits, beyond Meta's 10-bit rule (benchmarks/hash_bench.py).
FAST_DRAFT_SIDE = 512


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
    #: Refuse videos longer than this many seconds (by the container's or stream's duration).
    max_video_seconds: float = DEFAULT_MAX_VIDEO_SECONDS
    #: Caps on decoding videos and animations (frames, duration, time, threads).
    video_limits: VideoLimits = NO_LIMITS
