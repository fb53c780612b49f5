"""ExactIndex and VideoFrameIndex behaviour, including persistence."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from hashwall.index import ExactIndex, VideoFrameIndex, VideoMatch


def test_exact_roundtrip(tmp_path: Path) -> None:
    digests = [hashlib.sha256(str(i).encode()).digest() for i in range(50)]
    e = ExactIndex(32)
    e.add(np.arange(50), digests)
    e.add([100], np.frombuffer(digests[3], np.uint8).reshape(1, 32))  # same file, 2nd report
    got = e.search([digests[3], digests[4], b"\0" * 32])
    assert got[0][0].tolist() == [3, 100] and got[0][1].tolist() == [0, 0]
    assert got[1][0].tolist() == [4] and got[2][0].size == 0
    e.remove([3])
    assert e.search([digests[3]])[0][0].tolist() == [100]
    e.save(tmp_path / "e.hwi")
    e2 = ExactIndex.load(tmp_path / "e.hwi")
    assert len(e2) == len(e) == 50
    assert e2.search([digests[3]])[0][0].tolist() == [100]
    md5 = ExactIndex(16)
    md5.add([1], [hashlib.md5(b"a").digest()])
    assert md5.search([hashlib.md5(b"a").digest()])[0][0].tolist() == [1]


def flip(h: np.ndarray, rng: np.random.Generator, k: int) -> np.ndarray:
    h = h.copy()
    for b in rng.choice(256, k, replace=False):
        h[b // 8] ^= np.uint8(1 << (b % 8))
    return h


def test_video_percentages(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (10, 32), dtype=np.uint8)  # bank video 1: 10 frames
    b = rng.integers(0, 256, (4, 32), dtype=np.uint8)  # bank video 2: 4 frames
    v = VideoFrameIndex()
    v.add_video(1, a)
    v.add_video(2, b)
    # query: 5 frames near a[0..4] (within 10 bits), 3 unrelated frames
    q = np.concatenate(
        [[flip(a[i], rng, 10) for i in range(5)], rng.integers(0, 256, (3, 32), np.uint8)]
    )
    got = v.search_video(q, radius=31)
    assert got == [VideoMatch(1, 100.0 * 5 / 8, 50.0)]
    # query = whole of video 2 plus one frame of video 1
    got = v.search_video(np.concatenate([b, a[:1]]))
    assert got == [VideoMatch(2, 80.0, 100.0), VideoMatch(1, 20.0, 10.0)]
    assert v.search_video(q, min_compared_percent=60.0) == []
    v.save(tmp_path / "v.hwi")
    v2 = VideoFrameIndex.load(tmp_path / "v.hwi")
    assert v2.search_video(q) == v.search_video(q)
    v.remove_video(1)
    assert v.search_video(q) == []
    v.add_video(3, a[:2])
    got = v.search_video(a)
    assert got == [VideoMatch(3, 20.0, 100.0)]
    assert len(v) == 2 and v.frame_count == 6


@pytest.mark.parametrize("radius", [0, 31])
def test_video_duplicate_frames_count_once(radius: int) -> None:
    a = np.random.default_rng(4).integers(0, 256, (3, 32), dtype=np.uint8)
    v = VideoFrameIndex()
    v.add_video(7, np.concatenate([a, a[:1]]))  # a repeated frame in the bank video
    got = v.search_video(a[:1], radius=radius)
    assert got == [VideoMatch(7, 100.0, 50.0)]
