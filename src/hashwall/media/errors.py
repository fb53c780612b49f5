"""The one exception type the media layer raises."""

from __future__ import annotations

from pathlib import Path


class MediaError(Exception):
    """A file that cannot be hashed, with the reason in plain words.

    The message always starts with the file name so a line in a batch log is enough to act on.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class MediaTooLarge(MediaError):
    """A file over a decoding limit (pixels, frames, duration, decoding time), refused before
    or while decoding. ``plain`` says what was too large without command-line advice, for
    the service to show to people who sent the file."""

    def __init__(self, path: str | Path, reason: str, plain: str | None = None) -> None:
        super().__init__(path, reason)
        self.plain = plain or reason
