"""Declared origin of a picture or video: C2PA Content Credentials and the IPTC
DigitalSourceType in its XMP packet.

Generators and editors that follow IPTC's guidance declare, for example,
``http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia``: in XMP
(``Iptc4xmpExt:DigitalSourceType``), or in a signed C2PA manifest's actions. A declared
generative-AI origin supports a "digital forgery" removal request. Its absence proves nothing:
metadata is stripped by almost every re-upload, and most generators write none. XMP is plain
text that anyone can write; a C2PA manifest is signed, and the finding says by whom and what
the validation found (a certificate outside the C2PA trust list shows as
``signingCredential.untrusted``).

``hashwall hash`` records carry what :func:`file_provenance` finds; ``hashwall scan`` examines
only files that matched a bank, so the cost does not touch its rate. C2PA needs the official
``c2pa-python`` bindings (in the ``scan`` extra); without them only XMP is read.
"""

from __future__ import annotations

import importlib
import io
import json
import re
from pathlib import Path
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
_SOURCE_TYPE = re.compile(r"digitalsourcetype/([A-Za-z]+)", re.IGNORECASE)
#: Bytes searched for an XMP packet or a C2PA label: both sit in the header of every format we
#: know, and searching a whole video would cost more than hashing it.
SEARCH_BYTES = 4 << 20
_ACTIONS = ("c2pa.actions", "c2pa.actions.v2")


def provenance(data: bytes) -> dict[str, Any] | None:
    """``{"xmp": ..., "c2pa": ..., "generative_ai": bool}`` with what was found, else None."""
    found: dict[str, Any] = {}
    xmp = declared_source_type(data)
    if xmp is not None:
        found["xmp"] = xmp
    credentials = content_credentials(data)
    if credentials is not None:
        found["c2pa"] = credentials
    if not found:
        return None
    found["generative_ai"] = any(part.get("generative_ai") for part in found.values())
    return found


def file_provenance(path: Path) -> dict[str, Any] | None:
    """:func:`provenance` of a file: its first 4 MiB, or all of it when it holds a C2PA
    manifest (the manifest's hash covers the whole file); None when unreadable."""
    try:
        with path.open("rb") as handle:
            data = handle.read(SEARCH_BYTES)
            if b"c2pa" in data and len(data) == SEARCH_BYTES:
                data += handle.read()
    except OSError:
        return None
    return provenance(data)


def declared_source_type(data: bytes) -> dict[str, Any] | None:
    """The DigitalSourceType of the first XMP packet that declares one."""
    for packet in _PACKET.finditer(data[:SEARCH_BYTES]):
        value = _source_type(packet.group(0).decode("utf-8", errors="replace"))
        if value is not None:
            return {"digital_source_type": value, "generative_ai": value in GENERATIVE}
    return None


def content_credentials(data: bytes) -> dict[str, Any] | None:
    """The active C2PA manifest's declared source type, signer and validation problems."""
    format = _mime_type(data)
    if format is None or b"c2pa" not in data[:SEARCH_BYTES]:
        return None
    try:
        c2pa: Any = importlib.import_module("c2pa")
    except ImportError:
        return None
    try:
        report = json.loads(c2pa.Reader(format, io.BytesIO(data)).json())
    except Exception as error:  # the bindings raise C2paError and others for broken manifests
        return {"error": f"{type(error).__name__}: {error}"[:300]}
    return _summarise(report)


def _summarise(report: dict[str, Any]) -> dict[str, Any] | None:
    manifest = report.get("manifests", {}).get(report.get("active_manifest") or "")
    if not isinstance(manifest, dict):
        return None
    types = [
        value
        for assertion in manifest.get("assertions", [])
        if assertion.get("label") in _ACTIONS
        for action in assertion.get("data", {}).get("actions", [])
        if (value := _source_type(str(action.get("digitalSourceType", "")))) is not None
    ]
    signature = manifest.get("signature_info") or {}
    generators = manifest.get("claim_generator_info") or [{}]
    return {
        "digital_source_type": types[0] if types else None,
        "generative_ai": any(value in GENERATIVE for value in types),
        "claim_generator": generators[0].get("name") or manifest.get("claim_generator"),
        "signer": signature.get("common_name") or signature.get("issuer"),
        "validation": sorted({str(s.get("code")) for s in report.get("validation_status", [])}),
    }


def _source_type(text: str) -> str | None:
    found = _SOURCE_TYPE.search(text)
    return found.group(1) if found else None


def _mime_type(data: bytes) -> str | None:
    """The media type the C2PA reader is told (it parses by format)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "image/heic"
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    return None
