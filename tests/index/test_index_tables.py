"""Bucket tables: the C build equals the numpy reference, and damaged tables are caught."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashwall.index import HammingIndex, IndexFileError, _kernels, _plan
from hashwall.index._format import load_sections, save_sections


@pytest.mark.parametrize("n", [0, 1, 7, 1000, 20000])
@pytest.mark.parametrize("shift", [0, 1])
def test_c_build_equals_python_build(n: int, shift: int) -> None:
    rng = np.random.default_rng(n)
    h = rng.integers(0, 2**63, (n, 4), dtype=np.uint64)
    if n > 10:
        h[n // 2 :] = h[: n - n // 2]  # duplicate hashes: multi-row buckets in every table
    starts = np.array([0, 13, 40, 64, 100, 200], np.uint32)
    widths = np.array([13, 12, 20, 5, 8, 1], np.uint32)
    shifts = np.array([shift, 0, shift, shift, 1, shift], np.uint32)
    slots, overflow = _kernels.build_tables(h, starts, widths, shifts)
    ref_slots = np.empty_like(slots)
    ref_over = np.empty(len(widths) * (n + n // 2), np.uint32)
    used = _kernels.python_build(h, starts, widths, shifts, ref_slots, ref_over)
    assert np.array_equal(slots, ref_slots)
    assert np.array_equal(overflow, ref_over[:used])
    # every row appears exactly once per table: inline, in its line, or in overflow
    tag = slots & _kernels.TAG_OV
    single = int(np.count_nonzero(slots < _kernels.TAG_DATA))
    data = int(np.count_nonzero(tag == _kernels.TAG_DATA))
    ov = (tag == _kernels.TAG_OV) & (slots != _kernels.SLOT_EMPTY)
    counts = overflow[slots[ov] & _kernels.ROW_LIMIT]
    line_rows = sum(bin(int(v) & 0xFFFF).count("1") for v in slots[tag == _kernels.TAG_LINE])
    assert line_rows == data
    assert single + data + int(counts.sum()) == len(widths) * n
    assert used == int(counts.sum()) + int(ov.sum())


def _tamper(src: Path, dst: Path, name: str, fn: object) -> None:
    meta, s = load_sections(src, "hamming")
    s = {k: np.array(v) for k, v in s.items()}
    fn(s[name])  # type: ignore[operator]
    save_sections(dst, "hamming", meta, s)


def test_crafted_tables_are_rejected(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    idx = HammingIndex(tables=16, delta_limit=10)
    h = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    # singletons, small multi-row buckets (in their line) and big ones (in overflow)
    idx.add(np.arange(500), np.concatenate([h, h[:100], np.repeat(h[100:105], 20, axis=0)]))
    path = tmp_path / "a.hwi"
    idx.save(path)
    s = idx._state.snap
    single = int(np.flatnonzero(s.slots < _kernels.TAG_DATA)[0])
    multi = int(np.flatnonzero((s.slots >= _kernels.TAG_LINE) & (s.slots != 0xFFFFFFFF))[0])
    assert len(s.overflow) and np.any((s.slots & _kernels.TAG_OV) == _kernels.TAG_LINE)

    def big_row(a: np.ndarray) -> None:
        a[single] = 500

    def far_multi(a: np.ndarray) -> None:
        a[multi] = _kernels.TAG_OV | 0x3FFFFFF0

    def big_count(a: np.ndarray) -> None:
        a[0] = 501

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
    idx.add(np.arange(300), np.concatenate([h[:140], h[:140], np.repeat(h[140:141], 20, axis=0)]))
    s = idx._state.snap
    slots, over = s.slots.copy(), s.overflow.copy()
    slots[slots < _kernels.TAG_DATA] = 10**6  # rows past the end
    data = (slots & _kernels.TAG_OV) == _kernels.TAG_DATA
    slots[data] = _kernels.TAG_DATA | 10**6
    over[over > 2] = 10**6  # huge counts and rows
    assert data.any() and len(over)
    damaged = type(s)(s.bits, s.ids, s.hashes, s.starts, s.widths, s.shifts, slots, over, s.deleted)
    thr = np.full(len(s.widths), 2, np.int32)
    q = np.ascontiguousarray(s.hashes[:20])
    hits, counts = _kernels.search(damaged, q, 31, thr, False, s.hashes[:0], s.deleted[:0])
    rows = hits & np.uint64(_kernels.ROW_MASK)
    assert s.n == 300 and len(counts) == 20 and all(int(r) < s.n for r in rows)


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


@pytest.mark.parametrize("count", [0, 10, (_kernels.HUGE_MIN // 4) + 3])
def test_huge_empty_arrays(count: int) -> None:
    a = _kernels.huge_empty(count, np.uint32)
    assert a.shape == (count,) and a.dtype == np.uint32 and a.flags.writeable
    a[:] = 7
    assert int(a.sum()) == 7 * count
    if count * 4 >= _kernels.HUGE_MIN:
        assert a.ctypes.data % 4096 == 0  # own page-aligned mapping


def test_buckets_of_every_size_are_searched_exactly() -> None:
    """In-line buckets of 2..15 rows (the kernel expands <= 4 branch-free) and spilled ones."""
    rng = np.random.default_rng(5)
    sizes = np.tile(np.arange(1, 21), 6)  # 16+ rows cannot fit in a 16-slot line: overflow
    base = rng.integers(0, 256, (len(sizes), 32), dtype=np.uint8)
    bank = np.repeat(base, sizes, axis=0)
    near = rng.integers(0, 256, bank.shape, dtype=np.uint8) & (rng.random(bank.shape) < 0.02)
    bank[::3] ^= near[::3]  # some near (not exact) duplicates too
    idx = HammingIndex(tables=16, delta_limit=10)  # a bulk load: all rows in the snapshot
    idx.add(np.arange(len(bank), dtype=np.int64), bank)
    s = idx._state.snap
    tag = s.slots & _kernels.TAG_OV
    line_sizes = {bin(int(v) & 0xFFFF).count("1") for v in s.slots[tag == _kernels.TAG_LINE]}
    assert set(range(2, 16)) <= line_sizes
    assert np.any((tag == _kernels.TAG_OV) & (s.slots != _kernels.SLOT_EMPTY))
    queries = np.concatenate([base, rng.integers(0, 256, (20, 32), dtype=np.uint8)])
    for radius in (0, 8, 31):
        got = idx.search(queries, radius, method="mih")
        want = idx.search(queries, radius, method="scan")
        for (gi, gd), (wi, wd) in zip(got, want, strict=True):
            assert gi.tolist() == wi.tolist() and gd.tolist() == wd.tolist()
    assert sum(len(g[0]) for g in got) > len(bank) // 2  # radius 31: most rows are hits
