"""``md5``: StopNCII shares MD5 of the file bytes for videos; exact copies only."""

from __future__ import annotations

from hashwall.signals.exact import DigestSignal


class Md5Signal(DigestSignal):
    name = "md5"
    algorithm = "md5"
    digest_bytes = 16
    description = "MD5 of the file bytes (exact copies; StopNCII's video hash)"


SIGNAL = Md5Signal()
