"""Hex strings <-> bytes and Hamming distances, shared by every bit-string signal."""

from __future__ import annotations

import string

import numpy as np
from numpy.typing import NDArray

from hashwall.signals.base import InvalidSignalValue

_HEX_DIGITS = frozenset(string.hexdigits)


def normalize_hex(signal: str, value: object, n_bytes: int) -> str:
    """Lower-case, stripped hex of exactly ``n_bytes`` bytes, or a precise complaint."""
    if not isinstance(value, str):
        raise InvalidSignalValue(signal, value, f"expected a string, got {type(value).__name__}")
    text = value.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    expected = 2 * n_bytes
    if not text:
        raise InvalidSignalValue(signal, value, f"empty; expected {expected} hex digits")
    bad = sorted({ch for ch in text if ch not in _HEX_DIGITS})
    if bad:
        raise InvalidSignalValue(
            signal, value, f"contains non-hex characters {''.join(bad)!r}; expected 0-9 and a-f"
        )
    if len(text) != expected:
        raise InvalidSignalValue(
            signal, value, f"has {len(text)} hex digits; expected {expected} ({n_bytes * 8} bits)"
        )
    return text


def hex_to_bytes_array(values: list[str], n_bytes: int) -> NDArray[np.uint8]:
    """Pack already-validated hex strings into a (n, n_bytes) uint8 array."""
    if not values:
        return np.zeros((0, n_bytes), dtype=np.uint8)
    joined = bytes.fromhex("".join(values))
    return np.frombuffer(joined, dtype=np.uint8).reshape(len(values), n_bytes).copy()


def bits_to_hex(bits: NDArray[np.generic]) -> str:
    """A 0/1 vector (most significant bit first) as hex."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def hamming_hex(a: str, b: str) -> int:
    """Number of differing bits between two equal-length hex strings."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def hamming_matrix(left: NDArray[np.uint8], right: NDArray[np.uint8]) -> NDArray[np.int32]:
    """All pairwise Hamming distances between two (n, k) and (m, k) byte arrays."""
    if left.size == 0 or right.size == 0:
        return np.zeros((left.shape[0], right.shape[0]), dtype=np.int32)
    xor = np.bitwise_xor(left[:, None, :], right[None, :, :])
    distances: NDArray[np.int32] = np.bitwise_count(xor).sum(axis=2, dtype=np.int32)
    return distances
