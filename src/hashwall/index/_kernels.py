"""Dispatch to the compiled kernels, with a slow but exact numpy fallback.

The C extension (`_mih.c`) is built by setup.py; if a platform cannot compile it
the package still installs and stays exact, it just scans instead of probing.
Both paths produce the same results and the same on-disk tables.
"""

from __future__ import annotations

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


SLOT_EMPTY = 0xFFFFFFFF
SLOT_MULTI = 0x80000000


def build_tables(
    hashes: npt.NDArray[np.uint64], starts: npt.NDArray[np.uint32], widths: npt.NDArray[np.uint32]
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """Bucket tables for every substring: (slots, overflow).

    ``slots`` has one uint32 per bucket (tables concatenated): SLOT_EMPTY, the
    bucket's only row, or SLOT_MULTI | i where ``overflow[i]`` is the bucket's row
    count and ``overflow[i + 1 :]`` its rows, ascending.
    """
    n, words = hashes.shape
    m = len(widths)
    if n >= SLOT_MULTI:
        raise ValueError("a single snapshot holds at most 2^31 - 1 hashes; shard the bank")
    slots = np.empty(int(sum(1 << int(k) for k in widths)), dtype=np.uint32)
    # multi-row buckets hold >= 2 rows, so a table needs at most n + n // 2 words; the
    # unused tail of this allocation is never touched, hence never resident.
    overflow = np.empty(m * (n + n // 2), dtype=np.uint32)
    if HAVE_C:
        used = int(_mih.build(hashes, n, words, starts, widths, slots, overflow))
    else:  # pragma: no cover - exercised only where no compiler exists
        used = numpy_build(hashes, starts, widths, slots, overflow)
    return slots, overflow[:used]


def numpy_build(
    hashes: npt.NDArray[np.uint64],
    starts: npt.NDArray[np.uint32],
    widths: npt.NDArray[np.uint32],
    slots: npt.NDArray[np.uint32],
    overflow: npt.NDArray[np.uint32],
) -> int:
    """The C build in numpy (same tables, slower); returns the overflow words used."""
    pos = 0
    base = 0
    for s, k in zip(starts, widths, strict=True):
        keys = extract_keys(hashes, int(s), int(k))
        order = np.argsort(keys, kind="stable").astype(np.uint32)
        counts = np.bincount(keys, minlength=1 << int(k))
        first = np.cumsum(counts) - counts
        sl = np.full(1 << int(k), SLOT_EMPTY, dtype=np.uint32)
        one = counts == 1
        sl[one] = order[first[one]]
        multi = np.flatnonzero(counts >= 2)
        mc = counts[multi]
        at = (pos + np.cumsum(mc + 1) - (mc + 1)).astype(np.int64)
        if pos + int((mc + 1).sum()) >= SLOT_MULTI:
            raise ValueError("build: overflow table exceeds 2^31 words; shard the bank")
        sl[multi] = SLOT_MULTI | at.astype(np.uint32)
        overflow[at] = mc
        # rows of multi buckets, in key order, go after each bucket's count word
        in_multi = np.repeat(counts >= 2, counts)
        ranks = np.arange(int(mc.sum())) - np.repeat(np.cumsum(mc) - mc, mc)
        overflow[np.repeat(at + 1, mc) + ranks] = order[in_multi]
        pos += int((mc + 1).sum())
        slots[base : base + (1 << int(k))] = sl
        base += 1 << int(k)
    return pos


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
