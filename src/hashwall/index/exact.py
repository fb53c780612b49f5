"""ExactIndex: md5 / sha256 (any fixed-size digest) lookup with the HammingIndex shape.

Cryptographic digests only ever match exactly, so a dictionary from digest to ids
is both the simplest and the fastest structure; it exists so callers can treat
every signal type through one interface (`add/remove/search/save/load/len`).

Keys are given either as a uint8 array of shape (n, digest_size) or as a list of
`bytes` objects of length digest_size.  Several ids may share one digest (the same
file reported twice); each id holds exactly one digest.  `search` returns, per
query digest, ``(ids, distances)`` with all distances 0, ids ascending.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hashwall.index._format import IndexFileError, load_sections, save_sections
from hashwall.index._validate import as_hashes, as_ids, check_same_length, check_unique

_KIND = "exact"
_EMPTY_IDS = np.zeros(0, np.int64)
_EMPTY_D = np.zeros(0, np.int32)


class ExactIndex:
    """Exact-match index for fixed-size digests (md5: 16 bytes, sha256: 32 bytes)."""

    def __init__(self, digest_size: int = 32) -> None:
        if not isinstance(digest_size, int) or digest_size <= 0:
            raise ValueError(f"digest_size must be a positive int, got {digest_size!r}")
        self.digest_size = digest_size
        self._lock = threading.Lock()
        # Values are tuples (immutable) so readers never see a container mid-update.
        self._by_digest: dict[bytes, tuple[int, ...]] = {}
        self._by_id: dict[int, bytes] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, id_: object) -> bool:
        return isinstance(id_, int | np.integer) and int(id_) in self._by_id

    def _keys(self, keys: Any, name: str = "keys") -> list[bytes]:
        if isinstance(keys, np.ndarray):
            arr = as_hashes(keys, self.digest_size, name)
            return [bytes(r) for r in arr]
        if isinstance(keys, bytes | bytearray):
            keys = [keys]
        if not isinstance(keys, Sequence):
            raise TypeError(f"{name} must be a uint8 array or a list of bytes")
        out = []
        for k in keys:
            if not isinstance(k, bytes | bytearray):
                raise TypeError(f"{name} must contain bytes, got {type(k).__name__}")
            if len(k) != self.digest_size:
                raise ValueError(f"{name}: digest of {len(k)} bytes, expected {self.digest_size}")
            out.append(bytes(k))
        return out

    def add(self, ids: Any, keys: Any) -> None:
        """Add digests under new unique ids (ValueError if an id is already present)."""
        ids_a = as_ids(ids)
        ks = self._keys(keys)
        check_same_length(ids_a, ks)
        check_unique(ids_a)
        with self._lock:
            for i in ids_a.tolist():
                if i in self._by_id:
                    raise ValueError(f"id {i} is already in the index")
            for i, k in zip(ids_a.tolist(), ks, strict=True):
                self._by_id[i] = k
                self._by_digest[k] = (*self._by_digest.get(k, ()), i)

    def remove(self, ids: Any) -> None:
        """Remove ids (ValueError naming the first unknown id; nothing removed then)."""
        ids_a = as_ids(ids)
        check_unique(ids_a)
        with self._lock:
            for i in ids_a.tolist():
                if i not in self._by_id:
                    raise ValueError(f"id {i} is not in the index")
            for i in ids_a.tolist():
                k = self._by_id.pop(i)
                rest = tuple(j for j in self._by_digest[k] if j != i)
                if rest:
                    self._by_digest[k] = rest
                else:
                    del self._by_digest[k]

    def search(
        self, queries: Any, radius: int = 0, **_: Any
    ) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]]:
        """Ids holding each query digest; `radius` is accepted for interface parity only."""
        if radius != 0:
            raise ValueError("ExactIndex only supports radius 0")
        out = []
        for k in self._keys(queries, "queries"):
            hit = self._by_digest.get(k)
            if hit is None:
                out.append((_EMPTY_IDS, _EMPTY_D))
            else:
                ids = np.sort(np.fromiter(hit, np.int64, len(hit)))
                out.append((ids, np.zeros(len(ids), np.int32)))
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        """Checksummed binary file: sorted ids and their digests (no pickle)."""
        with self._lock:
            items = sorted(self._by_id.items())
        ids = np.fromiter((i for i, _ in items), np.int64, len(items))
        digests = np.frombuffer(b"".join(k for _, k in items), np.uint8).reshape(
            len(items), self.digest_size
        )
        save_sections(path, _KIND, {"digest_size": self.digest_size}, {"ids": ids, "keys": digests})

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, verify: bool = True) -> ExactIndex:
        """Read a file written by :meth:`save`; ValueError (IndexFileError) if damaged."""
        meta, s = load_sections(path, _KIND, verify=verify)
        where = str(Path(path))
        try:
            idx = cls(int(meta["digest_size"]))
            ids, keys = s["ids"], s["keys"]
        except (KeyError, TypeError, ValueError) as e:
            raise IndexFileError(f"{where}: malformed exact index ({e})") from None
        if keys.shape != (len(ids), idx.digest_size):
            raise IndexFileError(f"{where}: section shapes are inconsistent")
        try:
            idx.add(np.array(ids), np.array(keys))
        except ValueError as e:
            raise IndexFileError(f"{where}: {e}") from None
        return idx
