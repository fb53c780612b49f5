"""``sha256``: cryptographic digest of the file bytes; exact copies only."""

from __future__ import annotations

from hashwall.signals.exact import DigestSignal


class Sha256Signal(DigestSignal):
    name = "sha256"
    algorithm = "sha256"
    digest_bytes = 32
    description = "SHA-256 of the file bytes (exact copies)"


SIGNAL = Sha256Signal()
