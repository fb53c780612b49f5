"""Read a payload stream with a byte cap, looking at its first bytes before reading the rest."""

from __future__ import annotations

from typing import Protocol

from hashwall.media.sniff import HEADER_BYTES, kind_from_header

_CHUNK = 1 << 16


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class TooLarge(Exception):
    """The payload is over the byte cap (it is drained by the caller's reader, not kept)."""


def read_media(stream: Readable, max_bytes: int) -> bytes | None:
    """The whole payload if it starts like a photo or video, else ``None`` (nothing more is
    read: HTML and scripts cost 512 bytes). Raises :class:`TooLarge` past ``max_bytes``."""
    head = _read_exactly(stream, HEADER_BYTES)
    if kind_from_header(head) is None:
        return None
    parts = [head]
    size = len(head)
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"over {max_bytes} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _read_exactly(stream: Readable, size: int) -> bytes:
    parts: list[bytes] = []
    wanted = size
    while wanted > 0 and (chunk := stream.read(wanted)):
        parts.append(chunk)
        wanted -= len(chunk)
    return b"".join(parts)
