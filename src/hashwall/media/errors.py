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
