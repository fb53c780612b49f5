"""Exact hash indexes for matching uploads against a bank of known NCII hashes.

* :class:`HammingIndex` - exact Hamming range search (PDQ and any fixed bit length),
  multi-index hashing in C, live add/remove, memory-mapped persistence.
* :class:`VideoFrameIndex` - vPDQ frame index returning per-video match percentages.
* :class:`ExactIndex` - md5/sha256 digests, set semantics, same interface.

See docs/index.md for the design and measurements.
"""

from hashwall.index._format import IndexFileError
from hashwall.index._hamming import HammingIndex
from hashwall.index._kernels import HAVE_C as HAVE_COMPILED_KERNELS
from hashwall.index.exact import ExactIndex
from hashwall.index.video import VideoFrameIndex, VideoMatch

__all__ = [
    "HAVE_COMPILED_KERNELS",
    "ExactIndex",
    "HammingIndex",
    "IndexFileError",
    "VideoFrameIndex",
    "VideoMatch",
]
