"""HammingIndex: exact Hamming range search over fixed-length binary hashes.

Structure (see docs/index.md for measurements):

* a large immutable **snapshot** searched by multi-index hashing (MIH) in C;
* a small mutable **delta** segment, brute-forced, that receives new hashes;
* **tombstones** (one byte per snapshot row / delta slot) that make removals
  effective for the very next search;
* **compaction** that merges delta and tombstones into a new snapshot on a
  background thread and swaps it in with one reference assignment.

Concurrency: all mutations take ``_lock``; searches never take it.  A search reads
``self._state`` once (an immutable tuple of arrays and a delta length) and works
on that.  Writers only append beyond the published delta length or flip
tombstone bytes, so a reader never sees a half-written row.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from hashwall.index import _kernels
from hashwall.index._format import IndexFileError, load_sections, save_sections
from hashwall.index._plan import thresholds, use_scan
from hashwall.index._snapshot import (
    Snapshot,
    build_snapshot,
    snapshot_from_sections,
    snapshot_sections,
)
from hashwall.index._validate import (
    as_hashes,
    as_ids,
    check_same_length,
    check_unique,
    from_words,
    to_words,
)

Hits = list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]]
Method = Literal["auto", "mih", "scan"]
_KIND = "hamming"
_EXECUTORS: dict[int, ThreadPoolExecutor] = {}
_EXECUTORS_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class _State:
    """What one search needs, published atomically by writers."""

    snap: Snapshot
    d_hashes: npt.NDArray[np.uint64]
    d_ids: npt.NDArray[np.int64]
    d_alive: npt.NDArray[np.uint8]
    d_len: int


def _executor(workers: int) -> ThreadPoolExecutor:
    with _EXECUTORS_LOCK:
        ex = _EXECUTORS.get(workers)
        if ex is None:
            ex = _EXECUTORS[workers] = ThreadPoolExecutor(workers, "hashwall-index")
        return ex


class HammingIndex:
    """Exact range search over `bits`-bit hashes (PDQ: 256), with live add/remove.

    Parameters
    ----------
    bits:
        Hash length, a positive multiple of 8.
    delta_limit:
        New hashes are brute-forced in a delta segment until it holds this many,
        then a background compaction folds them into the MIH snapshot.  Small keeps
        searches fast; large makes compactions rarer.
    auto_compact:
        Start compactions automatically (otherwise call :meth:`compact`).
    tables:
        Force the number of MIH substrings (default: chosen from the bank size).
    """

    def __init__(
        self,
        bits: int = 256,
        *,
        delta_limit: int = 4096,
        auto_compact: bool = True,
        tables: int | None = None,
    ) -> None:
        if not isinstance(bits, int) or bits <= 0 or bits % 8:
            raise ValueError(f"bits must be a positive multiple of 8, got {bits!r}")
        if delta_limit < 1:
            raise ValueError("delta_limit must be >= 1")
        self.bits = bits
        self.nbytes = bits // 8
        self.words = (bits + 63) // 64
        self.delta_limit = delta_limit
        self.auto_compact = auto_compact
        self._tables = tables
        self._lock = threading.RLock()
        self._compact_lock = threading.Lock()
        self._compaction: threading.Thread | None = None
        self._removed_log: list[npt.NDArray[np.int64]] | None = None
        empty = build_snapshot(bits, np.zeros(0, np.int64), np.zeros((0, self.words), np.uint64))
        self._delta_pos: dict[int, int] = {}
        self._count = 0
        self._state = self._new_delta_state(empty, 16)

    # ------------------------------------------------------------------ basics

    def __len__(self) -> int:
        return self._count

    def __contains__(self, id_: object) -> bool:
        if not isinstance(id_, int | np.integer):
            return False
        st = self._state
        return int(id_) in self._delta_pos or bool(
            st.snap.find_rows(np.array([id_], np.int64))[0] >= 0
        )

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the index arrays (snapshot tables, hashes, ids, tombstones, delta)."""
        st = self._state
        snap = st.snap
        arrays = (snap.ids, snap.hashes, snap.slots, snap.overflow, snap.deleted)
        delta = (st.d_hashes, st.d_ids, st.d_alive)
        return sum(a.nbytes for a in arrays) + sum(a.nbytes for a in delta)

    def __repr__(self) -> str:
        st = self._state
        return (
            f"HammingIndex(bits={self.bits}, size={len(self)}, snapshot={st.snap.n}, "
            f"delta={st.d_len}, tables={len(st.snap.widths)})"
        )

    def _new_delta_state(self, snap: Snapshot, capacity: int) -> _State:
        return _State(
            snap,
            np.zeros((capacity, self.words), np.uint64),
            np.zeros(capacity, np.int64),
            np.zeros(capacity, np.uint8),
            0,
        )

    # ------------------------------------------------------------------ add

    def add(self, ids: Any, hashes: Any) -> None:
        """Add hashes under unique int64 ids; visible to the next search.

        Raises TypeError for wrong dtypes and ValueError for wrong shapes, ids
        repeated in the batch, or ids already in the index (nothing is added then).
        A batch of at least `delta_limit` hashes is built straight into a new
        snapshot (a bulk load); writers wait for it, searches do not.
        """
        ids_a = as_ids(ids)
        h = as_hashes(hashes, self.nbytes)
        check_same_length(ids_a, h)
        if len(ids_a) == 0:
            return
        check_unique(ids_a)
        words = to_words(h, self.words)
        if len(ids_a) >= self.delta_limit:
            # lock order everywhere: _compact_lock before _lock
            with self._compact_lock, self._lock:
                self._check_absent(ids_a)
                self._bulk_build(ids_a, words)
            return
        with self._lock:
            self._check_absent(ids_a)
            self._append_delta(ids_a, words)
            self._count += len(ids_a)
            due = self._state.d_len >= self.delta_limit and self.auto_compact
        if due:
            self.compact(wait=False)

    def _check_absent(self, ids: npt.NDArray[np.int64]) -> None:
        st = self._state
        present = st.snap.find_rows(ids) >= 0
        if self._delta_pos:
            present |= np.fromiter((int(i) in self._delta_pos for i in ids), bool, len(ids))
        if present.any():
            raise ValueError(f"id {int(ids[np.argmax(present)])} is already in the index")

    def _append_delta(self, ids: npt.NDArray[np.int64], words: npt.NDArray[np.uint64]) -> None:
        st = self._state
        start = st.d_len
        end = start + len(ids)
        if end > len(st.d_ids):
            cap = max(16, 2 * end)
            grown = self._new_delta_state(st.snap, cap)
            grown.d_hashes[:start] = st.d_hashes[:start]
            grown.d_ids[:start] = st.d_ids[:start]
            grown.d_alive[:start] = st.d_alive[:start]
            st = grown
        st.d_hashes[start:end] = words
        st.d_ids[start:end] = ids
        st.d_alive[start:end] = 1
        for j, i in enumerate(ids.tolist()):
            self._delta_pos[i] = start + j
        # Publish only after the rows are written: readers bound to the old state
        # never look past its d_len.
        self._state = _State(st.snap, st.d_hashes, st.d_ids, st.d_alive, end)

    def _bulk_build(self, ids: npt.NDArray[np.int64], words: npt.NDArray[np.uint64]) -> None:
        """Fold the current contents and a large batch into a fresh snapshot (locks held)."""
        all_ids, all_words = self._live_rows(self._state)
        snap = build_snapshot(
            self.bits,
            np.concatenate([all_ids, ids]) if len(all_ids) else ids,
            np.concatenate([all_words, words]) if len(all_ids) else words,
            self._tables,
        )
        self._delta_pos = {}
        self._count = snap.n
        self._state = self._new_delta_state(snap, 16)

    @staticmethod
    def _live_rows(st: _State) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
        keep = st.snap.deleted == 0
        dkeep = st.d_alive[: st.d_len] != 0
        if keep.all() and not dkeep.any():
            return st.snap.ids, st.snap.hashes
        return (
            np.concatenate([st.snap.ids[keep], st.d_ids[: st.d_len][dkeep]]),
            np.concatenate([st.snap.hashes[keep], st.d_hashes[: st.d_len][dkeep]]),
        )

    # ------------------------------------------------------------------ remove

    def remove(self, ids: Any) -> None:
        """Withdraw hashes; they stop matching for every search that starts afterwards.

        All ids must be present (ValueError names the first unknown one, and
        nothing is removed then).
        """
        ids_a = as_ids(ids)
        if len(ids_a) == 0:
            return
        check_unique(ids_a)
        with self._lock:
            st = self._state
            rows = st.snap.find_rows(ids_a)
            dpos = [self._delta_pos.get(int(i), -1) for i in ids_a]
            missing = (rows < 0) & (np.asarray(dpos) < 0)
            if missing.any():
                raise ValueError(f"id {int(ids_a[np.argmax(missing)])} is not in the index")
            st.snap.deleted[rows[rows >= 0]] = 1
            for i, p in zip(ids_a.tolist(), dpos, strict=True):
                if p >= 0:
                    st.d_alive[p] = 0
                    del self._delta_pos[i]
            if self._removed_log is not None:
                self._removed_log.append(ids_a)
            self._count -= len(ids_a)

    # ------------------------------------------------------------------ compaction

    def compact(self, wait: bool = True) -> None:
        """Merge delta and tombstones into a new MIH snapshot without blocking searches.

        Adds and removes may continue meanwhile; they are replayed onto the new
        snapshot at the swap.  With ``wait=False`` this returns at once and the
        work runs on a daemon thread (a no-op if one is already running).
        """
        if wait:
            with self._compact_lock:
                self._compact_once()
            return
        with self._lock:
            if self._compaction is not None and self._compaction.is_alive():
                return
            t = threading.Thread(target=self._compact_bg, name="hashwall-compact", daemon=True)
            self._compaction = t
            t.start()

    def wait_compaction(self) -> None:
        """Block until a background compaction (if any) has finished."""
        t = self._compaction
        if t is not None:
            t.join()

    def _compact_bg(self) -> None:
        with self._compact_lock:
            self._compact_once()

    def _compact_once(self) -> None:
        with self._lock:
            st = self._state
            deleted = st.snap.deleted.copy()
            d_alive = st.d_alive[: st.d_len].copy()
            self._removed_log = []
        keep = deleted == 0
        ids = np.concatenate([st.snap.ids[keep], st.d_ids[: st.d_len][d_alive != 0]])
        words = np.concatenate([st.snap.hashes[keep], st.d_hashes[: st.d_len][d_alive != 0]])
        snap = build_snapshot(self.bits, ids, words, self._tables)  # GIL released in C
        with self._lock:
            cur = self._state
            log, self._removed_log = self._removed_log, None
            for removed in log or []:
                rows = snap.find_rows(removed)
                snap.deleted[rows[rows >= 0]] = 1
            tail = slice(st.d_len, cur.d_len)
            alive = cur.d_alive[tail] != 0
            new = self._new_delta_state(snap, max(16, 2 * int(alive.sum())))
            self._delta_pos = {}
            self._state = new
            if alive.any():
                self._append_delta(cur.d_ids[tail][alive], cur.d_hashes[tail][alive])

    # ------------------------------------------------------------------ search

    def search(
        self,
        queries: Any,
        radius: int = 31,
        *,
        workers: int = 1,
        method: Method = "auto",
    ) -> Hits:
        """Every indexed hash within `radius` bits of each query, exactly.

        Returns one ``(ids int64, distances int32)`` pair per query, sorted by
        distance then id.  `workers` > 1 splits a batch over threads (0 = all
        cores); `method` forces MIH probing or a brute-force scan (both exact).
        """
        q = to_words(as_hashes(queries, self.nbytes, "queries"), self.words)
        if not isinstance(radius, int | np.integer) or not 0 <= radius <= self.bits:
            raise ValueError(f"radius must be an integer in [0, {self.bits}], got {radius!r}")
        radius = int(radius)
        st = self._state
        scan, thr = self._plan(st.snap, radius, method)
        workers = (os.cpu_count() or 1) if workers == 0 else max(1, int(workers))
        dh, da = st.d_hashes[: st.d_len], st.d_alive[: st.d_len]
        if workers == 1 or len(q) < 2 * workers:
            hits, counts = _kernels.search(st.snap, q, radius, thr, scan, dh, da)
        else:
            chunks = np.array_split(q, workers)
            parts = list(
                _executor(workers).map(
                    lambda c: _kernels.search(st.snap, c, radius, thr, scan, dh, da), chunks
                )
            )
            hits = np.concatenate([p[0] for p in parts])
            counts = np.concatenate([p[1] for p in parts])
        return self._to_lists(st, hits, counts)

    def _plan(
        self, snap: Snapshot, radius: int, method: Method
    ) -> tuple[bool, npt.NDArray[np.int32]]:
        """Scan or probe, and the per-table probe thresholds, for this generation."""
        plan = snap.plans.get((radius, method))
        if plan is None:
            scan = self._use_scan(snap, radius, method)
            thr = np.asarray(
                thresholds(tuple(snap.widths.tolist()), snap.n, radius)[0]
                if not scan
                else [0] * len(snap.widths),
                dtype=np.int32,
            )
            plan = snap.plans[(radius, method)] = (scan, thr)
        return plan

    def _use_scan(self, snap: Snapshot, radius: int, method: Method) -> bool:
        if method not in ("auto", "mih", "scan"):
            raise ValueError(f"method must be 'auto', 'mih' or 'scan', got {method!r}")
        if method == "scan" or not _kernels.HAVE_C or snap.n == 0:
            return True
        if method == "mih":
            return False
        return use_scan(tuple(snap.widths.tolist()), snap.n, radius)

    @staticmethod
    def _to_lists(st: _State, hits: npt.NDArray[np.uint64], counts: npt.NDArray[np.int64]) -> Hits:
        rows = (hits & np.uint64(_kernels.ROW_MASK)).astype(np.int64)
        dists = (hits >> np.uint64(_kernels.ROW_BITS)).astype(np.int32)
        n = st.snap.n
        in_delta = rows >= n
        if len(counts) == 1 and not in_delta.any():  # one query, main rows: the API's case
            return [(st.snap.ids[rows], dists)]
        if in_delta.any():
            ids = st.d_ids[np.maximum(rows - n, 0)]
            if n:
                ids = np.where(in_delta, ids, st.snap.ids[np.minimum(rows, n - 1)])
            # delta rows are not in id order: restore (query, distance, id) order
            qidx = np.repeat(np.arange(len(counts)), counts)
            order = np.lexsort((ids, dists, qidx))
            ids, dists = ids[order], dists[order]
        else:
            ids = st.snap.ids[rows]
        bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
        return [
            (ids[bounds[i] : bounds[i + 1]], dists[bounds[i] : bounds[i + 1]])
            for i in range(len(counts))
        ]

    # ------------------------------------------------------------------ contents

    def items(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
        """All live (ids, hashes), ids ascending; for export and brute-force checks."""
        ids, words = self._live_rows(self._state)
        order = np.argsort(ids, kind="stable")
        return ids[order], from_words(words[order], self.nbytes)

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write snapshot tables, tombstones and delta to one checksummed file (atomic)."""
        meta, sections = self.to_sections()
        save_sections(path, _KIND, meta, sections)

    def to_sections(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(metadata, arrays) of the current contents, for a file that holds more than this
        index (the service's start-up snapshot). The arrays are the immutable tables plus
        copies of what changes, so they can be written out while the index is in use."""
        with self._lock:
            st = self._state
            alive = st.d_alive[: st.d_len] != 0
            sections = snapshot_sections(st.snap)
            sections["deleted"] = st.snap.deleted.copy()
            sections["delta_ids"] = st.d_ids[: st.d_len][alive]
            sections["delta_hashes"] = st.d_hashes[: st.d_len][alive]
            meta = {"bits": self.bits, "delta_limit": self.delta_limit, "count": self._count}
        return meta, sections

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, verify: bool = True) -> HammingIndex:
        """Memory-map an index written by :meth:`save`; ValueError if it is damaged."""
        meta, s = load_sections(path, _KIND, verify=verify)
        return cls.from_sections(meta, s, str(Path(path)))

    @classmethod
    def from_sections(
        cls, meta: dict[str, Any], s: dict[str, np.ndarray], where: str
    ) -> HammingIndex:
        """The index :meth:`to_sections` described (tables used in place, e.g. memory-mapped);
        IndexFileError, naming ``where``, if they are inconsistent."""
        try:
            bits, delta_limit = int(meta["bits"]), int(meta["delta_limit"])
            idx = cls(bits, delta_limit=delta_limit)
            snap = snapshot_from_sections(bits, s, where)
            d_ids, d_hashes = s["delta_ids"], s["delta_hashes"]
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, IndexFileError):
                raise
            raise IndexFileError(f"{where}: malformed index metadata ({e})") from None
        if d_hashes.shape != (len(d_ids), idx.words):
            raise IndexFileError(f"{where}: delta section shapes are inconsistent")
        idx._state = idx._new_delta_state(snap, 16)
        idx._count = snap.n - int(np.count_nonzero(snap.deleted))
        if len(d_ids):
            try:
                idx._check_absent(np.array(d_ids))
            except ValueError as e:
                raise IndexFileError(f"{where}: {e} twice (corrupted)") from None
            idx._append_delta(np.array(d_ids), np.array(d_hashes))
            idx._count += len(d_ids)
        if idx._count != int(meta.get("count", idx._count)):
            raise IndexFileError(f"{where}: entry count does not match the header")
        return idx
