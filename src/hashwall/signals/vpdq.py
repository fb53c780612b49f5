"""``vpdq``: Meta's video PDQ, one PDQ hash per sampled frame, matched as frame percentages.

Hashing follows Meta's vPDQ: every n-th decoded frame (``seconds_per_hash``; 0 = every frame) is
hashed with PDQ at its decoded size (or a fixed downsample size), and each hash carries its frame
number, quality and timestamp. Matching follows python-threatexchange: drop frames below quality
50, de-duplicate identical hashes, then count

* ``query_match_percent``: share of the *query* video's unique frames that have a frame within
  distance 31 in the compared video, and
* ``compared_match_percent``: share of the *compared* video's unique frames matched by the query.

A match needs query >= 80 % and compared >= 0 % (Meta's defaults). Frames whose uniform bars were
removed carry a second, ``borderless`` hash; a frame matches when either of its hashes does.

Mirrored copies: each frame also carries the PDQ of the frame mirrored left-right (``mirror``,
JSON only; Meta's text format and CSV keep the primary hash). The query's mirror hashes are
compared with the compared video's primary hashes as a second, whole-video pass, and the better
of the two results counts. The mirror hash is computed while hashing (from the same DCT, so almost
free) and stored, because deriving it later from the hash alone (flipping the sign bits of the
odd horizontal frequencies) is 2-26 bits off on Meta's sample videos, too much of the 31-bit
budget; only the query side's mirror hashes are ever read, so lists may drop them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from hashwall.media.borders import find_uniform_borders
from hashwall.media.video import LumaFrame, VideoFrame
from hashwall.signals import pdq
from hashwall.signals.base import InvalidSignalValue, SignalComparison, SignalType
from hashwall.signals.hexcodec import hamming_matrix, hex_to_bytes_array
from hashwall.signals.pdq import PdqDigest
from hashwall.signals.pdq_linear import digest_from_luma_banded

QUALITY_THRESHOLD = 50
DISTANCE_THRESHOLD = 31
QUERY_MATCH_PERCENT = 80.0
COMPARED_MATCH_PERCENT = 0.0
_CHUNK_ROWS = 512
_FRAME_FORMAT = "frame,quality,hash,timestamp"


@dataclass(frozen=True)
class VpdqFrame:
    """One hashed frame. ``borderless_*`` are set when the frame had uniform bars removed."""

    frame: int
    quality: int
    hash: str
    timestamp: float
    borderless_hash: str | None = None
    borderless_quality: int | None = None
    #: PDQ of the frame mirrored left-right (its quality is the frame's).
    mirror_hash: str | None = None

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "frame": self.frame,
            "quality": self.quality,
            "hash": self.hash,
            "timestamp": round(self.timestamp, 3),
        }
        if self.borderless_hash is not None:
            data["borderless"] = {"hash": self.borderless_hash, "quality": self.borderless_quality}
        if self.mirror_hash is not None:
            data["mirror"] = self.mirror_hash
        return data

    def hashes(self, quality_threshold: int) -> list[str]:
        """The frame's hashes good enough to match on."""
        found = [self.hash] if self.quality >= quality_threshold else []
        if self.borderless_hash is not None and (self.borderless_quality or 0) >= quality_threshold:
            found.append(self.borderless_hash)
        return found


@dataclass(frozen=True)
class FrameMatch:
    query_match_percent: float
    compared_match_percent: float
    min_distance: int | None
    #: The query matched as a left-right mirror image of the compared video.
    mirrored: bool = False

    def is_match(
        self,
        query_percent: float = QUERY_MATCH_PERCENT,
        compared_percent: float = COMPARED_MATCH_PERCENT,
    ) -> bool:
        return (
            self.min_distance is not None
            and self.query_match_percent >= query_percent
            and self.compared_match_percent >= compared_percent
        )


#: Position of the left-right mirror in PDQ's dihedral order (``flipy``).
_MIRROR = pdq.DIHEDRAL_NAMES.index("flipy")


def hash_frames(
    frames: Iterable[VideoFrame], *, remove_borders: bool = True, mirror: bool = True
) -> list[VpdqFrame]:
    """PDQ-hash each decoded frame (at its own size, as Meta's vPDQ does): the exact mode."""
    result = []
    for frame in frames:
        digest = pdq.hash_rgb(frame.rgb, dihedral=mirror, reference_resize=False)
        crop = find_uniform_borders(frame.rgb) if remove_borders else None
        inner = None
        if crop is not None:
            inner = pdq.hash_rgb(crop.apply(frame.rgb), dihedral=False, reference_resize=False)
        result.append(_frame(frame.index, frame.timestamp, digest, inner, mirror))
    return result


def _frame(
    index: int, timestamp: float, digest: PdqDigest, inner: PdqDigest | None, mirror: bool
) -> VpdqFrame:
    """One frame's record: its hash, the borderless one if bars were removed, the mirror."""
    return VpdqFrame(
        index,
        digest.quality,
        digest.hash,
        timestamp,
        inner.hash if inner is not None else None,
        inner.quality if inner is not None else None,
        digest.dihedral[_MIRROR] if mirror else None,
    )


def hash_luma_frames(
    frames: Iterable[LumaFrame], *, remove_borders: bool = True, mirror: bool = True
) -> list[VpdqFrame]:
    """The fast mode: PDQ as banded matrix products straight from the decoder's luma plane.

    Equal to :func:`hash_frames` up to float rounding and the luma difference between FFmpeg's
    Y plane and luma recomputed from its RGB conversion (see docs/hash-formats.md for the
    measured bit differences).
    """
    result = []
    for frame in frames:
        digest = digest_from_luma_banded(frame.luma, levels=frame.levels, dihedral=mirror)
        crop = find_uniform_borders(frame.luma) if remove_borders else None
        inner = None
        if crop is not None:
            height, width = frame.luma.shape
            view = frame.luma[crop.top : height - crop.bottom, crop.left : width - crop.right]
            inner = digest_from_luma_banded(view, levels=frame.levels)
        result.append(_frame(frame.index, frame.timestamp, digest, inner, mirror))
    return result


def _unique_rows(
    frames: Sequence[VpdqFrame], quality_threshold: int
) -> tuple[list[str], list[int]]:
    """Quality-filtered, de-duplicated hashes and, for each, the frame group it belongs to.

    Frames with an identical primary hash are one group (Meta's de-duplication).
    """
    group_of_hash: dict[str, int] = {}
    hashes: list[str] = []
    owners: list[int] = []
    for frame in frames:
        candidates = frame.hashes(quality_threshold)
        if not candidates:
            continue
        group = group_of_hash.setdefault(frame.hash, len(group_of_hash))
        for value in candidates:
            hashes.append(value)
            owners.append(group)
    return hashes, owners


def match_frames(
    query: Sequence[VpdqFrame],
    compared: Sequence[VpdqFrame],
    *,
    distance_threshold: int = DISTANCE_THRESHOLD,
    quality_threshold: int = QUALITY_THRESHOLD,
) -> FrameMatch:
    """Meta's brute-force vPDQ comparison, vectorised; see the module docstring for semantics.

    When the query's frames carry mirror hashes, the mirrored query is compared too and the
    better result (by query match percentage) is returned.
    """
    result = _match_once(query, compared, distance_threshold, quality_threshold)
    if any(frame.mirror_hash is not None for frame in query):
        mirrored_query = [
            VpdqFrame(frame.frame, frame.quality, frame.mirror_hash, frame.timestamp)
            for frame in query
            if frame.mirror_hash is not None
        ]
        mirrored = _match_once(mirrored_query, compared, distance_threshold, quality_threshold)
        if mirrored.min_distance is not None and (
            mirrored.query_match_percent > result.query_match_percent
        ):
            return FrameMatch(
                mirrored.query_match_percent,
                mirrored.compared_match_percent,
                mirrored.min_distance,
                mirrored=True,
            )
    return result


def _match_once(
    query: Sequence[VpdqFrame],
    compared: Sequence[VpdqFrame],
    distance_threshold: int,
    quality_threshold: int,
) -> FrameMatch:
    query_hashes, query_owner = _unique_rows(query, quality_threshold)
    compared_hashes, compared_owner = _unique_rows(compared, quality_threshold)
    if not query_hashes or not compared_hashes:
        return FrameMatch(0.0, 0.0, None)
    left = hex_to_bytes_array(query_hashes, pdq.HASH_BYTES)
    right = hex_to_bytes_array(compared_hashes, pdq.HASH_BYTES)
    row_hit = np.zeros(len(query_hashes), dtype=bool)
    col_hit = np.zeros(len(compared_hashes), dtype=bool)
    best = 256
    for start in range(0, left.shape[0], _CHUNK_ROWS):
        distances = hamming_matrix(left[start : start + _CHUNK_ROWS], right)
        close = distances <= distance_threshold
        row_hit[start : start + _CHUNK_ROWS] = close.any(axis=1)
        col_hit |= close.any(axis=0)
        best = min(best, int(distances.min()))
    return FrameMatch(
        _group_percent(row_hit, query_owner),
        _group_percent(col_hit, compared_owner),
        best,
    )


def _group_percent(hit: NDArray[np.bool_], owners: list[int]) -> float:
    groups = np.asarray(owners)
    matched = np.zeros(int(groups.max()) + 1, dtype=bool)
    np.logical_or.at(matched, groups, hit)
    return round(100.0 * float(matched.mean()), 2)


def parse_frames(value: str) -> list[VpdqFrame]:
    """Parse Meta's text format: ``frame,quality,hash,timestamp`` per line (or ``;``-separated)."""
    frames = []
    records = [r.strip() for r in value.replace(";", "\n").splitlines() if r.strip()]
    if not records:
        raise InvalidSignalValue("vpdq", value, f"no frames; expected {_FRAME_FORMAT!r}")
    for number, record in enumerate(records, start=1):
        parts = [part.strip() for part in record.split(",")]
        if len(parts) != 4:
            raise InvalidSignalValue(
                "vpdq", record, f"frame {number}: expected 4 fields {_FRAME_FORMAT!r}"
            )
        try:
            frame_number, quality, timestamp = int(parts[0]), int(parts[1]), float(parts[3])
        except ValueError:
            raise InvalidSignalValue(
                "vpdq",
                record,
                f"frame {number}: frame, quality must be integers, timestamp a number",
            ) from None
        if not 0 <= quality <= 100:
            raise InvalidSignalValue("vpdq", record, f"frame {number}: quality must be 0-100")
        frames.append(VpdqFrame(frame_number, quality, pdq.SIGNAL.validate(parts[2]), timestamp))
    return frames


def format_frames(frames: Sequence[VpdqFrame], separator: str = ";") -> str:
    """Meta's text format (primary hashes only), the inverse of :func:`parse_frames`."""
    return separator.join(f"{f.frame},{f.quality},{f.hash},{f.timestamp:.3f}" for f in frames)


class VpdqSignal(SignalType):
    name = "vpdq"
    content_types: ClassVar[frozenset[str]] = frozenset({"video"})
    description = "vPDQ video hash: PDQ per frame, matched by % of frames (query >= 80 %)"

    def validate(self, value: str) -> str:
        return format_frames(parse_frames(value))

    def compare(self, a: str, b: str) -> SignalComparison:
        result = match_frames(parse_frames(a), parse_frames(b))
        return SignalComparison(
            self.name,
            result.is_match(),
            distance=result.min_distance,
            query_match_percent=result.query_match_percent,
            compared_match_percent=result.compared_match_percent,
        )


SIGNAL = VpdqSignal()
