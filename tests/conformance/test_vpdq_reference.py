"""vPDQ reproduces Meta's sample hashes to Meta's own tolerance.

Same frame count, timestamps within a millisecond, and distance < 31 wherever both qualities are
>= 50 (the check in Meta's vpdq regression test).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hashwall.media.video import iter_video_frames
from hashwall.signals.hexcodec import hamming_hex
from hashwall.signals.vpdq import hash_frames, parse_frames

pytestmark = pytest.mark.conformance

SAMPLE_HASHES = Path(__file__).resolve().parents[2].parent / "shared/conformance/threatexchange"
CASES = sorted(p.stem for p in (SAMPLE_HASHES / "vpdq" / "sample-hashes").glob("*.txt"))


@pytest.mark.parametrize("name", CASES or ["(conformance data absent)"])
def test_vpdq_matches_meta_sample_hashes(conformance: Path, name: str) -> None:
    downsampled = name.endswith("-128x128")
    video = conformance / "tmk" / "sample-videos" / f"{name.removesuffix('-128x128')}.mp4"
    if not video.is_file():
        pytest.skip(f"{video.name} is not shipped with the conformance data (only its hashes are)")
    expected = parse_frames((conformance / "vpdq" / "sample-hashes" / f"{name}.txt").read_text())
    frames = iter_video_frames(
        video, seconds_per_hash=0, frame_size=(128, 128) if downsampled else None
    )
    ours = hash_frames(frames, remove_borders=False)
    assert len(ours) == len(expected)
    for mine, theirs in zip(ours, expected, strict=True):
        assert mine.frame == theirs.frame
        assert abs(mine.timestamp - theirs.timestamp) <= 0.0015
        if mine.quality >= 50 and theirs.quality >= 50:
            assert hamming_hex(mine.hash, theirs.hash) < 31, f"frame {mine.frame}"
