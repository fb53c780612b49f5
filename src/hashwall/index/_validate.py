"""Input checks shared by the indexes.

Matching decisions for NCII takedown must never be made on silently reinterpreted
input (a float array cast to bytes, a transposed batch), so every public entry
point funnels through these helpers and fails loudly with a message that names
the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
UInt8Array = npt.NDArray[np.uint8]
UInt64Array = npt.NDArray[np.uint64]


def as_ids(ids: Any, name: str = "ids") -> Int64Array:
    """Return `ids` as a contiguous 1-D int64 array, rejecting non-integer input."""
    arr = np.asarray(ids)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array (int64), got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"{name} contains values that do not fit in int64")
    return np.ascontiguousarray(arr, dtype=np.int64)


def check_unique(ids: Int64Array, name: str = "ids") -> None:
    """Raise ValueError naming the first duplicated id in one batch."""
    if ids.size < 2:
        return
    if bool(np.all(ids[1:] > ids[:-1])):  # ascending already (bulk loads): no sort needed
        return
    s = np.sort(ids)
    dup = s[1:][s[1:] == s[:-1]]
    if dup.size:
        raise ValueError(f"duplicate {name} in batch: {int(dup[0])}")


def as_hashes(hashes: Any, nbytes: int, name: str = "hashes") -> UInt8Array:
    """Return `hashes` as a contiguous (n, nbytes) uint8 array; a 1-D hash is one row."""
    if not isinstance(hashes, np.ndarray):
        raise TypeError(f"{name} must be a numpy uint8 array of shape (n, {nbytes})")
    if hashes.dtype != np.uint8:
        raise TypeError(f"{name} must have dtype uint8, got {hashes.dtype}")
    if hashes.ndim == 1 and hashes.shape[0] == nbytes:
        hashes = hashes.reshape(1, nbytes)
    if hashes.ndim != 2 or hashes.shape[1] != nbytes:
        raise ValueError(f"{name} must have shape (n, {nbytes}), got {hashes.shape}")
    return np.ascontiguousarray(hashes)


def check_same_length(ids: Int64Array, rows: Sequence[Any] | np.ndarray) -> None:
    """Ids and hashes are paired by position; a length mismatch is a caller bug."""
    if len(ids) != len(rows):
        raise ValueError(f"got {len(ids)} ids but {len(rows)} hashes")


def to_words(hashes: UInt8Array, words: int) -> UInt64Array:
    """Pack (n, nbytes) uint8 hashes into zero-padded little-endian uint64 words.

    Zero padding of both sides leaves Hamming distances unchanged, and a fixed
    64-bit stride lets the kernels use one popcount per word.
    """
    n, nbytes = hashes.shape
    if nbytes == words * 8:
        return np.ascontiguousarray(hashes).view("<u8").astype(np.uint64, copy=False)
    padded = np.zeros((n, words * 8), dtype=np.uint8)
    padded[:, :nbytes] = hashes
    return padded.view("<u8").astype(np.uint64, copy=False)


def from_words(words: UInt64Array, nbytes: int) -> UInt8Array:
    """Inverse of `to_words`."""
    raw = np.ascontiguousarray(words, dtype="<u8").view(np.uint8)
    return np.ascontiguousarray(raw.reshape(words.shape[0], -1)[:, :nbytes])
