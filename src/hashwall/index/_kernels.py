"""Dispatch to the compiled kernels, with a slow but exact numpy fallback.

The C extension (`_mih.c`) is built by setup.py; if a platform cannot compile it
the package still installs and stays exact, it just scans instead of probing.
Both paths produce the same results and the same on-disk tables.
"""

from __future__ import annotations

import contextlib
import mmap
from typing import Any

import numpy as np
import numpy.typing as npt

try:
    from hashwall.index import _mih  # type: ignore[attr-defined]

    HAVE_C = True
except ImportError:  # pragma: no cover - exercised only where no compiler exists
    _mih = None
    HAVE_C = False

ROW_BITS = 40
ROW_MASK = (1 << ROW_BITS) - 1


def extract_keys(hashes: npt.NDArray[np.uint64], start: int, width: int) -> npt.NDArray[np.uint32]:
    """Substring [start, start+width) of every row, as an integer key."""
    w, off = divmod(start, 64)
    v = hashes[:, w] >> np.uint64(off)
    if off + width > 64:
        v |= hashes[:, w + 1] << np.uint64(64 - off)
    return (v & np.uint64((1 << width) - 1)).astype(np.uint32)


HUGE_MIN = 4 << 20  # arrays from this size on get their own huge-page mapping


def huge_empty(count: int, dtype: Any) -> np.ndarray:
    """Uninitialised 1-D array; large ones in a fresh private anonymous mapping.

    The search reads these tables at random, so they must be backed by 2 MiB pages
    (measured: ~60 ns per random line with 4 KiB pages vs ~18.5 ns).  numpy's
    allocator goes through malloc, which recycles memory freed by earlier large
    allocations (e.g. another index in the same process) that is already faulted
    in with 4 KiB pages; `MADV_HUGEPAGE` on a fresh mapping, set before the first
    touch, gets huge pages whenever the kernel has them.  Page-aligned, so 32-byte
    hashes never straddle a cache line.
    """
    dt = np.dtype(dtype)
    nbytes = count * dt.itemsize
    if nbytes < HUGE_MIN or not hasattr(mmap, "MAP_ANONYMOUS"):
        return np.empty(count, dtype=dt)
    mm = mmap.mmap(
        -1,
        nbytes,
        flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
        prot=mmap.PROT_READ | mmap.PROT_WRITE,
    )
    if hasattr(mmap, "MADV_HUGEPAGE"):
        with contextlib.suppress(OSError):
            mm.madvise(mmap.MADV_HUGEPAGE)
    return np.frombuffer(mm, dtype=dt, count=count)


SLOT_EMPTY = 0xFFFFFFFF
TAG_DATA = 0x40000000
TAG_LINE = 0x80000000
TAG_OV = 0xC0000000
ROW_LIMIT = 0x3FFFFFFF  # rows and overflow indices are below this
LINE = 16  # slots per 64-byte cache line


def table_slots(width: int, shift: int) -> int:
    """Slots of one table: 2^(width + shift), at least one line."""
    return max(LINE, 1 << (width + shift))


def build_tables(
    hashes: npt.NDArray[np.uint64],
    starts: npt.NDArray[np.uint32],
    widths: npt.NDArray[np.uint32],
    shifts: npt.NDArray[np.uint32],
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """Bucket tables for every substring: (slots, overflow); see `_mih.c` for the encoding.

    Bucket ``key`` of table i is slot ``key << shifts[i]`` of that table.  A slot is
    SLOT_EMPTY, the bucket's only row, TAG_DATA | row (a row of another bucket of
    the same 16-slot line), TAG_LINE | bitmap (the bucket's rows are the TAG_DATA
    slots of this line picked by the bitmap) or TAG_OV | i (``overflow[i]`` is the
    row count and ``overflow[i + 1 :]`` the rows, ascending).
    """
    n, words = hashes.shape
    m = len(widths)
    if n >= ROW_LIMIT:
        raise ValueError("a single snapshot holds at most 2^30 - 2 hashes; shard the bank")
    slots = huge_empty(
        sum(table_slots(int(k), int(x)) for k, x in zip(widths, shifts, strict=True)), np.uint32
    )
    # multi-row buckets hold >= 2 rows, so a table needs at most n + n // 2 words; the
    # unused tail of this allocation is never touched, hence never resident.
    overflow = huge_empty(m * (n + n // 2), np.uint32)
    if HAVE_C:
        used = int(_mih.build(hashes, n, words, starts, widths, shifts, slots, overflow))
    else:  # pragma: no cover - exercised only where no compiler exists
        used = python_build(hashes, starts, widths, shifts, slots, overflow)
    return slots, overflow[:used]


def python_build(
    hashes: npt.NDArray[np.uint64],
    starts: npt.NDArray[np.uint32],
    widths: npt.NDArray[np.uint32],
    shifts: npt.NDArray[np.uint32],
    slots: npt.NDArray[np.uint32],
    overflow: npt.NDArray[np.uint32],
) -> int:
    """The C build in Python (same tables, slow); returns the overflow words used."""
    pos = 0
    base = 0
    for s, k, x in zip(starts.tolist(), widths.tolist(), shifts.tolist(), strict=True):
        keys = extract_keys(hashes, s, k)
        order = np.argsort(keys, kind="stable")
        ns = table_slots(k, x)
        sl = np.full(ns, SLOT_EMPTY, dtype=np.uint32)
        groups: dict[int, list[int]] = {}
        for r in order.tolist():
            groups.setdefault(int(keys[r]) << x, []).append(r)
        lines: dict[int, list[int]] = {}
        for slot in sorted(groups):
            lines.setdefault(slot // LINE, []).append(slot)
        for line, members in sorted(lines.items()):
            free = [i for i in range(LINE) if line * LINE + i not in groups]
            for slot in members:
                rows = groups[slot]
                if len(rows) == 1:
                    sl[slot] = rows[0]
                elif len(free) >= len(rows):
                    take, free = free[: len(rows)], free[len(rows) :]
                    for i, r in zip(take, rows, strict=True):
                        sl[line * LINE + i] = TAG_DATA | r
                    sl[slot] = TAG_LINE | sum(1 << i for i in take)
                else:
                    if pos + 1 + len(rows) > len(overflow) or pos >= ROW_LIMIT:
                        raise ValueError("build: overflow table full; shard the bank")
                    sl[slot] = TAG_OV | pos
                    overflow[pos] = len(rows)
                    overflow[pos + 1 : pos + 1 + len(rows)] = rows
                    pos += 1 + len(rows)
        slots[base : base + ns] = sl
        base += ns
    return pos


def validate_tables(slots: npt.NDArray[np.uint32], overflow: npt.NDArray[np.uint32], n: int) -> int:
    """0 if the tables are in range, 1 for a bad slot, 2 for a bad overflow table."""
    if HAVE_C:
        return int(_mih.validate(slots, overflow, n))
    tag = slots & np.uint32(TAG_OV)  # pragma: no cover
    low = slots & np.uint32(ROW_LIMIT)  # pragma: no cover
    at = low[(tag == TAG_OV) & (slots != SLOT_EMPTY)]  # pragma: no cover
    if bool(np.any((tag <= TAG_DATA) & (low >= n))) or (  # pragma: no cover
        len(at) and int(at.max()) >= len(overflow)
    ):
        return 1  # pragma: no cover
    if len(overflow) and int(overflow.max()) > n:  # pragma: no cover
        return 2  # pragma: no cover
    return 0  # pragma: no cover


def search(
    snap: Any,
    queries: npt.NDArray[np.uint64],
    radius: int,
    thresholds: npt.NDArray[np.int32],
    scan: bool,
    delta_hashes: npt.NDArray[np.uint64],
    delta_alive: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """Hits as (dist << 40 | row) per query, sorted, plus per-query counts.

    Rows >= snap.n refer to the delta segment (row - snap.n).
    """
    if HAVE_C:
        hits, counts = _mih.search(
            snap.hashes,
            snap.n,
            snap.words,
            snap.starts,
            snap.widths,
            snap.shifts,
            snap.slots,
            snap.overflow,
            thresholds,
            queries,
            radius,
            snap.deleted,
            delta_hashes,
            len(delta_hashes),
            delta_alive,
            scan,
        )
        return np.frombuffer(hits, dtype=np.uint64), np.frombuffer(counts, dtype=np.int64)
    return _numpy_search(snap, queries, radius, delta_hashes, delta_alive)  # pragma: no cover


def popcount_rows(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Row-wise popcount of a (n, words) uint64 array."""
    if hasattr(np, "bitwise_count"):
        out: npt.NDArray[np.int64] = np.bitwise_count(x).sum(axis=1, dtype=np.int64)
        return out
    bits = np.unpackbits(x.view(np.uint8), axis=1)  # pragma: no cover
    total: npt.NDArray[np.int64] = bits.sum(axis=1, dtype=np.int64)  # pragma: no cover
    return total  # pragma: no cover


def _numpy_search(
    snap: Any,
    queries: npt.NDArray[np.uint64],
    radius: int,
    delta_hashes: npt.NDArray[np.uint64],
    delta_alive: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:  # pragma: no cover
    allh = np.concatenate([snap.hashes, delta_hashes])
    live = np.concatenate([snap.deleted == 0, delta_alive != 0])
    out: list[npt.NDArray[np.uint64]] = []
    counts = np.zeros(len(queries), dtype=np.int64)
    for qi, q in enumerate(queries):
        d = popcount_rows(allh ^ q)
        rows = np.flatnonzero((d <= radius) & live).astype(np.uint64)
        keys = np.sort((d[rows.astype(np.int64)].astype(np.uint64) << np.uint64(ROW_BITS)) | rows)
        out.append(keys)
        counts[qi] = len(keys)
    hits = np.concatenate(out) if out else np.zeros(0, dtype=np.uint64)
    return hits.astype(np.uint64), counts
