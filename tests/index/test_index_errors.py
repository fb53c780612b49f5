"""Malformed input and damaged files raise clear exceptions, never wrong answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashwall.index import ExactIndex, HammingIndex, IndexFileError, VideoFrameIndex


@pytest.fixture
def idx() -> HammingIndex:
    rng = np.random.default_rng(0)
    i = HammingIndex(delta_limit=50)
    i.add(np.arange(100), rng.integers(0, 256, (100, 32), dtype=np.uint8))
    i.add(np.arange(100, 110), rng.integers(0, 256, (10, 32), dtype=np.uint8))
    return i


def test_bad_bits() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        HammingIndex(bits=250)


def test_wrong_dtype_and_shape(idx: HammingIndex) -> None:
    with pytest.raises(TypeError, match="uint8"):
        idx.add([200], np.zeros((1, 32), np.int64))
    with pytest.raises(TypeError, match="numpy"):
        idx.add([200], [[0] * 32])
    with pytest.raises(ValueError, match=r"shape \(n, 32\)"):
        idx.add([200], np.zeros((1, 16), np.uint8))
    with pytest.raises(TypeError, match="integer"):
        idx.add(np.array([1.5]), np.zeros((1, 32), np.uint8))
    with pytest.raises(ValueError, match="2 ids but 1 hashes"):
        idx.add([200, 201], np.zeros((1, 32), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(n, 32\)"):
        idx.search(np.zeros((1, 31), np.uint8))
    with pytest.raises(ValueError, match="radius"):
        idx.search(np.zeros((1, 32), np.uint8), radius=-1)
    with pytest.raises(ValueError, match="method"):
        idx.search(np.zeros((1, 32), np.uint8), method="fast")  # type: ignore[arg-type]


def test_duplicate_and_unknown_ids(idx: HammingIndex) -> None:
    with pytest.raises(ValueError, match="duplicate ids in batch: 7"):
        idx.add([7, 7], np.zeros((2, 32), np.uint8))
    with pytest.raises(ValueError, match="id 5 is already"):
        idx.add([500, 5], np.zeros((2, 32), np.uint8))
    with pytest.raises(ValueError, match="id 105 is already"):
        idx.add([105], np.zeros((1, 32), np.uint8))
    assert len(idx) == 110 and 500 not in idx  # nothing half-added
    with pytest.raises(ValueError, match="id 999 is not in the index"):
        idx.remove([3, 999])
    assert 3 in idx  # nothing half-removed
    idx.remove([3])
    with pytest.raises(ValueError, match="id 3 is not"):
        idx.remove([3])


def test_truncated_and_corrupted_files(idx: HammingIndex, tmp_path: Path) -> None:
    path = tmp_path / "a.hwi"
    idx.save(path)
    data = path.read_bytes()
    for cut in (0, 10, 100, len(data) // 2, len(data) - 1):
        bad = tmp_path / f"cut{cut}.hwi"
        bad.write_bytes(data[:cut])
        with pytest.raises(IndexFileError):
            HammingIndex.load(bad)
    for pos in (3, 30, len(data) - 100, len(data) // 2 + 7):
        flipped = bytearray(data)
        flipped[pos] ^= 0x10
        bad = tmp_path / f"flip{pos}.hwi"
        bad.write_bytes(bytes(flipped))
        with pytest.raises(IndexFileError):
            HammingIndex.load(bad)
    assert issubclass(IndexFileError, ValueError)
    with pytest.raises(IndexFileError, match="expected 'exact'"):
        ExactIndex.load(path)
    with pytest.raises(FileNotFoundError):
        HammingIndex.load(tmp_path / "missing.hwi")


def test_exact_errors() -> None:
    e = ExactIndex(16)
    with pytest.raises(ValueError, match="16"):
        e.add([1], [b"x" * 15])
    with pytest.raises(TypeError, match="bytes"):
        e.add([1], ["abc"])
    e.add([1], [b"x" * 16])
    with pytest.raises(ValueError, match="already"):
        e.add([1], [b"y" * 16])
    with pytest.raises(ValueError, match="not in the index"):
        e.remove([2])


def test_video_errors() -> None:
    v = VideoFrameIndex()
    v.add_video(1, np.zeros((2, 32), np.uint8))
    with pytest.raises(ValueError, match="already"):
        v.add_video(1, np.zeros((2, 32), np.uint8))
    with pytest.raises(ValueError, match="at least one"):
        v.add_video(2, np.zeros((0, 32), np.uint8))
    with pytest.raises(ValueError, match="not in the index"):
        v.remove_video(3)
    with pytest.raises(TypeError, match="uint8"):
        v.search_video(np.zeros((1, 32), np.float32))
