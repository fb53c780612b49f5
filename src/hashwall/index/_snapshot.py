"""Immutable MIH snapshot: sorted ids, packed hashes and slot/overflow bucket tables.

A snapshot never changes after it is built except for its tombstone bytes, so
readers can use one without locks while a newer snapshot is built elsewhere and
swapped in.  Rows are kept in id order: an id is found with a binary search (no
10M-entry dict), and hits come out of the kernel already tie-broken by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hashwall.index import _kernels
from hashwall.index._format import IndexFileError
from hashwall.index._plan import Layout, choose_layout, slot_shifts

UInt32Array = npt.NDArray[np.uint32]


def aligned_empty(shape: tuple[int, ...], dtype: Any, align: int = 64) -> np.ndarray:
    """Uninitialised array aligned to a cache line, so a 32-byte hash never straddles two."""
    dt = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dt.itemsize
    if nbytes >= _kernels.HUGE_MIN:  # page-aligned huge-page mapping
        return _kernels.huge_empty(int(np.prod(shape)), dt).reshape(shape)
    raw = np.empty(nbytes + align, dtype=np.uint8)
    start = (-raw.ctypes.data) % align
    out: np.ndarray = raw[start : start + nbytes].view(dt).reshape(shape)
    return out


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One immutable generation of the main index (see module docstring)."""

    bits: int
    ids: npt.NDArray[np.int64]
    hashes: npt.NDArray[np.uint64]
    starts: UInt32Array
    widths: UInt32Array
    shifts: UInt32Array
    slots: UInt32Array
    overflow: UInt32Array
    deleted: npt.NDArray[np.uint8]
    #: (radius, method) -> (scan?, per-table thresholds): fixed for a generation, so worked
    #: out once rather than per search (~10 us of Python on a ~40 us single-query search).
    plans: dict[tuple[int, str], tuple[bool, npt.NDArray[np.int32]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])

    @property
    def words(self) -> int:
        return int(self.hashes.shape[1])

    def find_rows(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Row of each id, or -1 where absent or tombstoned."""
        pos = np.searchsorted(self.ids, ids)
        pos = np.minimum(pos, max(self.n - 1, 0))
        ok = (self.n > 0) & (self.ids[pos] == ids) if self.n else np.zeros(len(ids), bool)
        ok = ok & (self.deleted[pos] == 0) if self.n else ok
        return np.where(ok, pos, -1).astype(np.int64)


def build_snapshot(
    bits: int,
    ids: npt.NDArray[np.int64],
    hashes: npt.NDArray[np.uint64],
    tables: int | None = None,
) -> Snapshot:
    """Sort by id and bucket-sort every substring table (O(n * m), no comparisons)."""
    n, words = hashes.shape
    if n >= 2**32:
        raise ValueError("a single snapshot holds at most 2^32 - 1 hashes; shard the bank")
    order = np.argsort(ids, kind="stable")
    sorted_ids = np.ascontiguousarray(ids[order])
    packed = aligned_empty((n, words), np.uint64)
    np.take(hashes, order, axis=0, out=packed)
    layout = choose_layout(bits, n) if tables is None else _fixed_layout(bits, tables)
    starts = np.asarray(layout.starts, dtype=np.uint32)
    widths = np.asarray(layout.widths, dtype=np.uint32)
    shifts = np.asarray(slot_shifts(layout.widths, n), dtype=np.uint32)
    slots, overflow = _kernels.build_tables(packed, starts, widths, shifts)
    deleted = np.zeros(n, dtype=np.uint8)
    return Snapshot(bits, sorted_ids, packed, starts, widths, shifts, slots, overflow, deleted)


def _fixed_layout(bits: int, tables: int) -> Layout:
    from hashwall.index._plan import MAX_KEY_BITS, split_bits

    if not 1 <= tables <= bits or -(-bits // tables) > MAX_KEY_BITS:
        raise ValueError(f"tables={tables} is not possible for {bits}-bit hashes")
    return split_bits(bits, tables)


def snapshot_sections(snap: Snapshot) -> dict[str, np.ndarray]:
    """Arrays to persist; tables are stored so loading needs no rebuild."""
    return {
        "ids": snap.ids,
        "hashes": snap.hashes,
        "starts": snap.starts,
        "widths": snap.widths,
        "shifts": snap.shifts,
        "slots": snap.slots,
        "overflow": snap.overflow,
        "deleted": snap.deleted,
    }


def snapshot_from_sections(bits: int, s: dict[str, np.ndarray], where: str) -> Snapshot:
    """Rebuild a snapshot from mapped sections, checking every invariant the kernel relies on.

    Checksums catch accidents; these checks also stop a crafted file from steering
    the C kernel outside its arrays.
    """
    try:
        ids, hashes, starts, widths = s["ids"], s["hashes"], s["starts"], s["widths"]
        shifts = s["shifts"]
        slots, overflow, deleted = s["slots"], s["overflow"], s["deleted"]
    except KeyError as e:
        raise IndexFileError(f"{where}: missing section {e}") from None
    n = len(ids)
    words = (bits + 63) // 64
    bad = (
        hashes.ndim != 2
        or hashes.shape != (n, words)
        or len(starts) != len(widths)
        or len(shifts) != len(widths)
        or (len(shifts) and int(shifts.max()) > 1)
        or len(deleted) != n
        or (len(widths) and (int(widths.min()) < 1 or int(widths.max()) > 32))
        or (len(widths) and int((starts.astype(np.int64) + widths).max()) > words * 64)
    )
    if bad:
        raise IndexFileError(f"{where}: section shapes are inconsistent")
    nslots = sum(_kernels.table_slots(int(k), int(x)) for k, x in zip(widths, shifts, strict=True))
    if len(slots) != nslots or overflow.ndim != 1 or n >= _kernels.ROW_LIMIT:
        raise IndexFileError(f"{where}: table sizes are inconsistent")
    # Slots are empty, a row < n (plain or TAG_DATA), a line bitmap, or TAG_OV | i with
    # i < len(overflow); overflow words are counts (<= n) or rows (< n). The kernel also
    # clamps rows and bucket lengths, so even a crafted file cannot steer it outside
    # its arrays.
    verdict = _kernels.validate_tables(slots, overflow, n)
    if verdict == 1:
        raise IndexFileError(f"{where}: bucket slots are corrupted")
    if verdict == 2:
        raise IndexFileError(f"{where}: bucket overflow table is corrupted")
    if n and bool(np.any(np.diff(ids) <= 0)):
        raise IndexFileError(f"{where}: ids or table rows are corrupted")
    return Snapshot(bits, ids, hashes, starts, widths, shifts, slots, overflow, np.array(deleted))
