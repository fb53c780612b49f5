"""Declared origin of a picture: the IPTC DigitalSourceType in its XMP packet.

Generators and editors that follow IPTC's guidance write, for example,
``Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/
trainedAlgorithmicMedia"``. A declared generative-AI origin supports a "digital forgery"
removal request. Its absence proves nothing: metadata is stripped by almost every re-upload,
and anyone can write any value. Only the XMP packet is read (it is plain text inside JPEG,
PNG, WebP, GIF, TIFF and MP4 alike), so no format-specific parser is needed.
"""

from __future__ import annotations

import re
from typing import Any

#: IPTC NewsCodes for media made or changed by generative or algorithmic means.
GENERATIVE = frozenset(
    {
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "algorithmicMedia",
        "compositeSynthetic",
    }
)
_PACKET = re.compile(rb"<x:xmpmeta\b.*?</x:xmpmeta>", re.DOTALL)
_SOURCE_TYPE = re.compile(rb"digitalsourcetype/([A-Za-z]+)", re.IGNORECASE)
#: Bytes searched for a packet: XMP sits in the header of every format we know, and searching
#: a whole video would cost more than hashing it.
SEARCH_BYTES = 4 << 20


def declared_source_type(data: bytes) -> dict[str, Any] | None:
    """``{"digital_source_type": ..., "generative_ai": bool}`` from the first XMP packet that
    declares one, else ``None``."""
    for packet in _PACKET.finditer(data[:SEARCH_BYTES]):
        found = _SOURCE_TYPE.search(packet.group(0))
        if found:
            value = found.group(1).decode("ascii")
            return {"digital_source_type": value, "generative_ai": value in GENERATIVE}
    return None
