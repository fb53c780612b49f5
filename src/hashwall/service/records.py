"""Between fingerprints (:class:`HashRecord`) and stored rows (:class:`EntrySignal`).

An entry stores exactly the values the matcher indexes: PDQ as hashed and without bars (the
query side covers rotations and flips), the two digests, and vPDQ frames as JSON so that
borderless frame hashes survive the round trip.
"""

from __future__ import annotations

import json
from typing import Any

from hashwall.hashing.record import BorderlessPdq, HashRecord
from hashwall.media.borders import BorderCrop
from hashwall.media.sniff import ContentKind
from hashwall.signals.pdq import PdqDigest
from hashwall.signals.vpdq import VpdqFrame
from hashwall.store import EntrySignal

#: A stored signal row's values: (signal_type, variant, value, quality).
SignalValues = tuple[str, str, str, int | None]


def signal_values(record: HashRecord) -> list[SignalValues]:
    """The rows an entry stores for a record, as plain tuples (bulk imports write these
    without building ORM objects; :func:`signals_from_record` wraps them)."""
    rows: list[SignalValues] = []
    if record.pdq is not None:
        rows.append(("pdq", "original", record.pdq.hash, record.pdq.quality))
    if record.pdq_borderless is not None:
        digest = record.pdq_borderless.digest
        rows.append(("pdq", "borderless", digest.hash, digest.quality))
    if record.vpdq:
        frames = json.dumps([frame.as_json() for frame in record.vpdq], separators=(",", ":"))
        rows.append(("vpdq", "original", frames, None))
    if record.md5:
        rows.append(("md5", "original", record.md5, None))
    if record.sha256:
        rows.append(("sha256", "original", record.sha256, None))
    return rows


def signals_from_record(record: HashRecord) -> list[EntrySignal]:
    return [_row(*values) for values in signal_values(record)]


def _row(signal_type: str, variant: str, value: str, quality: int | None) -> EntrySignal:
    return EntrySignal(
        signal_type=signal_type,
        variant=variant,
        value=value,
        value_key=value[:64],
        quality=quality,
    )


def frames_from_json(value: str) -> list[VpdqFrame]:
    frames: list[VpdqFrame] = []
    for item in json.loads(value):
        borderless: dict[str, Any] | None = item.get("borderless")
        frames.append(
            VpdqFrame(
                int(item["frame"]),
                int(item["quality"]),
                str(item["hash"]),
                float(item["timestamp"]),
                str(borderless["hash"]) if borderless else None,
                int(borderless["quality"]) if borderless else None,
            )
        )
    return frames


def record_from_signals(
    content_type: str, signals: list[tuple[str, str, str, int | None]]
) -> HashRecord:
    """Rebuild a record from ``(signal_type, variant, value, quality)`` rows."""
    pdq = borderless = None
    md5 = sha256 = ""
    frames: list[VpdqFrame] = []
    for signal_type, variant, value, quality in signals:
        if signal_type == "pdq" and variant == "borderless":
            borderless = BorderlessPdq(PdqDigest(value, quality or 0), BorderCrop(0, 0, 0, 0))
        elif signal_type == "pdq":
            pdq = PdqDigest(value, quality or 0)
        elif signal_type == "md5":
            md5 = value
        elif signal_type == "sha256":
            sha256 = value
        elif signal_type == "vpdq":
            frames = frames_from_json(value)
    kind = ContentKind.VIDEO if content_type == "video" else ContentKind.PHOTO
    return HashRecord("", kind, md5, sha256, pdq, borderless, frames)
