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


def build_tables(
    hashes: npt.NDArray[np.uint64], starts: npt.NDArray[np.uint32], widths: npt.NDArray[np.uint32]
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """CSR bucket tables for every substring: (offsets, rows)."""
    n, words = hashes.shape
    m = len(widths)
    offsets = np.empty(int(sum((1 << int(k)) + 1 for k in widths)), dtype=np.uint32)
    rows = np.empty(m * n, dtype=np.uint32)
    if HAVE_C:
        _mih.build(hashes, n, words, starts, widths, offsets, rows)
        return offsets, rows
    base = 0  # pragma: no cover
    for i, (s, k) in enumerate(zip(starts, widths, strict=True)):  # pragma: no cover
        keys = extract_keys(hashes, int(s), int(k))
        rows[i * n : (i + 1) * n] = np.argsort(keys, kind="stable")
        counts = np.bincount(keys, minlength=1 << int(k))
        offsets[base] = 0
        offsets[base + 1 : base + 2 + (1 << int(k)) - 1] = np.cumsum(counts)
        base += (1 << int(k)) + 1
    return offsets, rows  # pragma: no cover


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
            snap.offsets,
            snap.rows,
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
