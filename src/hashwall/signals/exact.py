"""Cryptographic digests of the file bytes: identical copies only, but no false positives."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import ClassVar

from hashwall.signals.base import SignalComparison, SignalType
from hashwall.signals.hexcodec import normalize_hex

_CHUNK = 1 << 20


class DigestSignal(SignalType):
    """A signal that is a hash of the raw bytes (md5, sha256)."""

    content_types: ClassVar[frozenset[str]] = frozenset({"photo", "video"})
    algorithm: ClassVar[str]
    digest_bytes: ClassVar[int]

    def validate(self, value: str) -> str:
        return normalize_hex(self.name, value, self.digest_bytes)

    def compare(self, a: str, b: str) -> SignalComparison:
        same = self.validate(a) == self.validate(b)
        return SignalComparison(self.name, same, distance=0 if same else 1)

    def new_hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)

    def hash_file(self, path: Path) -> str:
        hasher = self.new_hasher()
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                hasher.update(chunk)
        return hasher.hexdigest()


def digest_file(path: Path, signals: list[DigestSignal]) -> dict[str, str]:
    """Read the file once and feed every digest, so md5 + sha256 cost one pass of I/O."""
    hashers = {signal.name: signal.new_hasher() for signal in signals}
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}
