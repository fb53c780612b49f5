"""Bucket tables: the C build equals the numpy reference, and damaged tables are caught."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashwall.index import HammingIndex, IndexFileError, _kernels, _plan
from hashwall.index._format import load_sections, save_sections


@pytest.mark.parametrize("n", [0, 1, 7, 1000, 20000])
def test_c_build_equals_numpy_build(n: int) -> None:
    rng = np.random.default_rng(n)
    h = rng.integers(0, 2**63, (n, 4), dtype=np.uint64)
    if n > 10:
        h[n // 2 :] = h[: n - n // 2]  # duplicate hashes: multi-row buckets in every table
    starts = np.array([0, 13, 40, 64, 100, 200], np.uint32)
    widths = np.array([13, 12, 20, 5, 8, 1], np.uint32)
    slots, overflow = _kernels.build_tables(h, starts, widths)
    ref_slots = np.empty_like(slots)
    ref_over = np.empty(len(widths) * (n + n // 2), np.uint32)
    used = _kernels.numpy_build(h, starts, widths, ref_slots, ref_over)
    assert np.array_equal(slots, ref_slots)
    assert np.array_equal(overflow, ref_over[:used])
    # every row appears exactly once per table, singletons inline, others in overflow
    single = slots[slots < _kernels.SLOT_MULTI]
    multi = slots[(slots >= _kernels.SLOT_MULTI) & (slots != _kernels.SLOT_EMPTY)] & 0x7FFFFFFF
    counts = overflow[multi]
    assert len(single) + int(counts.sum()) == len(widths) * n
    assert used == int(counts.sum()) + len(multi)


def _tamper(src: Path, dst: Path, name: str, fn: object) -> None:
    meta, s = load_sections(src, "hamming")
    s = {k: np.array(v) for k, v in s.items()}
    fn(s[name])  # type: ignore[operator]
    save_sections(dst, "hamming", meta, s)


def test_crafted_tables_are_rejected(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    idx = HammingIndex(tables=16, delta_limit=10)
    h = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    idx.add(np.arange(400), np.concatenate([h, h[:100]]))  # singleton and multi-row buckets
    path = tmp_path / "a.hwi"
    idx.save(path)
    s = idx._state.snap
    single = int(np.flatnonzero(s.slots < _kernels.SLOT_MULTI)[0])
    multi = int(np.flatnonzero((s.slots >= _kernels.SLOT_MULTI) & (s.slots != 0xFFFFFFFF))[0])

    def big_row(a: np.ndarray) -> None:
        a[single] = 400

    def far_multi(a: np.ndarray) -> None:
        a[multi] = _kernels.SLOT_MULTI | 0x7FFFFFF0

    def big_count(a: np.ndarray) -> None:
        a[0] = 401

    for name, fn in (("slots", big_row), ("slots", far_multi), ("overflow", big_count)):
        bad = tmp_path / "bad.hwi"
        _tamper(path, bad, name, fn)
        with pytest.raises(IndexFileError, match="corrupted"):
            HammingIndex.load(bad)


def test_kernel_clamps_damaged_tables() -> None:
    """Memory safety does not depend on load checks: the kernel clamps rows and lengths."""
    rng = np.random.default_rng(4)
    idx = HammingIndex(tables=16, delta_limit=10)
    h = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    idx.add(np.arange(300), np.concatenate([h[:150], h[:150]]))
    s = idx._state.snap
    slots, over = s.slots.copy(), s.overflow.copy()
    slots[slots < _kernels.SLOT_MULTI] = 10**6  # rows past the end
    over[over > 2] = 10**6  # huge counts and rows
    damaged = type(s)(s.bits, s.ids, s.hashes, s.starts, s.widths, slots, over, s.deleted)
    thr = np.full(len(s.widths), 2, np.int32)
    q = np.ascontiguousarray(s.hashes[:20])
    hits, counts = _kernels.search(damaged, q, 31, thr, False, s.hashes[:0], s.deleted[:0])
    rows = hits & np.uint64(_kernels.ROW_MASK)
    assert s.n == 300 and len(counts) == 20 and len(rows) > 0 and int(rows.max()) < s.n


@pytest.mark.parametrize("n", [0, 1, 1000, 100_000, 1_000_000, 10_000_000, 100_000_000])
@pytest.mark.parametrize("bits", [64, 256])
def test_layouts_are_disjoint_and_within_budget(n: int, bits: int) -> None:
    layout = _plan.choose_layout(bits, n)
    ends = [s + w for s, w in zip(layout.starts, layout.widths, strict=True)]
    assert list(layout.starts) == [0, *ends[:-1]] and ends[-1] <= bits
    assert max(layout.widths) <= _plan.MAX_KEY_BITS
    slot_bytes = sum(4 << k for k in layout.widths)
    if n >= 1_000_000:
        assert slot_bytes <= _plan.SLOT_BYTES_PER_HASH * n
    t, _ = _plan.thresholds(layout.widths, n, min(31, bits - 1))
    assert sum(x + 1 for x in t) >= min(31, bits - 1) + 1  # pigeonhole: exact
