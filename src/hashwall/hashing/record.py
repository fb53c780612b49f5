"""The fingerprint of one file, and its JSON form (the ``hashwall hash`` output format)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hashwall.media.borders import BorderCrop
from hashwall.media.sniff import ContentKind
from hashwall.signals.md5 import SIGNAL as MD5
from hashwall.signals.pdq import SIGNAL as PDQ
from hashwall.signals.pdq import PdqDigest, PdqSignal
from hashwall.signals.registry import get_signal
from hashwall.signals.sha256 import SIGNAL as SHA256
from hashwall.signals.vpdq import VpdqFrame, format_frames, parse_frames


@dataclass(frozen=True)
class BorderlessPdq:
    """The PDQ of a photo with its uniform bars cut off, and which bars were cut."""

    digest: PdqDigest
    crop: BorderCrop

    def as_json(self) -> dict[str, object]:
        return {**self.digest.as_json(), "crop": self.crop.as_list()}


@dataclass(frozen=True)
class HashRecord:
    path: str
    content_type: ContentKind
    md5: str
    sha256: str
    pdq: PdqDigest | None = None
    pdq_borderless: BorderlessPdq | None = None
    vpdq: list[VpdqFrame] = field(default_factory=list)
    width: int | None = None
    height: int | None = None

    def as_json(self) -> dict[str, Any]:
        signals: dict[str, Any] = {}
        if self.pdq is not None:
            pdq_json: dict[str, object] = self.pdq.as_json()
            if self.pdq_borderless is not None:
                pdq_json["borderless"] = self.pdq_borderless.as_json()
            signals["pdq"] = pdq_json
        if self.content_type is ContentKind.VIDEO:
            signals["vpdq"] = [frame.as_json() for frame in self.vpdq]
        signals["md5"] = self.md5
        signals["sha256"] = self.sha256
        record: dict[str, Any] = {
            "path": self.path,
            "content_type": str(self.content_type),
            "signals": signals,
        }
        if self.width is not None and self.height is not None:
            record["size"] = [self.width, self.height]
        return record

    def csv_rows(self) -> list[tuple[str, str]]:
        """python-threatexchange / HMA style ``signal_type,signal_value`` rows."""
        rows: list[tuple[str, str]] = []
        if self.pdq is not None:
            rows.append(("pdq", self.pdq.hash))
        if self.pdq_borderless is not None:
            rows.append(("pdq", self.pdq_borderless.digest.hash))
        if self.vpdq:
            rows.append(("vpdq", format_frames(self.vpdq)))
        rows.append(("md5", self.md5))
        rows.append(("sha256", self.sha256))
        return rows


class RecordFormatError(ValueError):
    """A JSON fingerprint that does not have the shape ``hashwall hash`` writes."""


def _digest_from_json(data: object, where: str) -> PdqDigest:
    if not isinstance(data, dict) or "hash" not in data:
        raise RecordFormatError(f"{where}: expected an object with 'hash' and 'quality'")
    quality = PdqSignal.validate_quality(data.get("quality", 100))
    dihedral = data.get("dihedral") or []
    if not isinstance(dihedral, list) or len(dihedral) not in (0, 8):
        raise RecordFormatError(f"{where}.dihedral: expected a list of 8 hashes")
    return PdqDigest(
        PDQ.validate(data["hash"]), quality, tuple(PDQ.validate(value) for value in dihedral)
    )


def _frame_from_json(data: object, where: str) -> VpdqFrame:
    if not isinstance(data, dict):
        raise RecordFormatError(f"{where}: expected an object with frame, quality, hash, timestamp")
    try:
        borderless = data.get("borderless")
        return VpdqFrame(
            int(data.get("frame", 0)),
            PdqSignal.validate_quality(data.get("quality", 100)),
            PDQ.validate(data["hash"]),
            float(data.get("timestamp", 0.0)),
            PDQ.validate(borderless["hash"]) if isinstance(borderless, dict) else None,
            PdqSignal.validate_quality(borderless.get("quality", 100))
            if isinstance(borderless, dict)
            else None,
            PDQ.validate(data["mirror"]) if data.get("mirror") is not None else None,
        )
    except (KeyError, TypeError) as error:
        raise RecordFormatError(f"{where}: missing or wrong field ({error})") from None


def record_from_json(data: object) -> HashRecord:
    """Rebuild a record from ``hashwall hash`` JSON, validating every hash it carries."""
    if not isinstance(data, dict) or not isinstance(data.get("signals"), dict):
        raise RecordFormatError("expected an object with a 'signals' object")
    signals = data["signals"]
    try:
        kind = ContentKind(data.get("content_type", "video" if "vpdq" in signals else "photo"))
    except ValueError:
        raise RecordFormatError("content_type must be 'photo' or 'video'") from None
    pdq_digest = borderless = None
    if "pdq" in signals:
        pdq_digest = _digest_from_json(signals["pdq"], "signals.pdq")
        inner = signals["pdq"].get("borderless")
        if inner is not None:
            crop = inner.get("crop", [0, 0, 0, 0])
            borderless = BorderlessPdq(
                _digest_from_json(inner, "signals.pdq.borderless"), BorderCrop(*map(int, crop))
            )
    frames_json = signals.get("vpdq", [])
    if not isinstance(frames_json, list):
        raise RecordFormatError("signals.vpdq: expected a list of frames")
    frames = [_frame_from_json(f, f"signals.vpdq[{i}]") for i, f in enumerate(frames_json)]
    return HashRecord(
        path=str(data.get("path", "")),
        content_type=kind,
        md5=MD5.validate(signals["md5"]) if "md5" in signals else "",
        sha256=SHA256.validate(signals["sha256"]) if "sha256" in signals else "",
        pdq=pdq_digest,
        pdq_borderless=borderless,
        vpdq=frames,
    )


#: The quality a bare listed hash counts as (no quality is given with it; lists are curated).
BARE_HASH_QUALITY = 100


def record_from_signal_value(signal_type: str, value: object) -> HashRecord:
    """A record holding a single bare hash (a CSV row, a hash typed on the command line).

    A bare hash carries no quality; listed hashes are curated, so they count as full quality.
    """
    signal = get_signal(signal_type)
    if not isinstance(value, str):
        raise RecordFormatError(f"signal_value for {signal.name} must be a string")
    canonical = signal.validate(value)
    return HashRecord(
        path="",
        content_type=ContentKind.VIDEO if signal.name == "vpdq" else ContentKind.PHOTO,
        md5=canonical if signal.name == "md5" else "",
        sha256=canonical if signal.name == "sha256" else "",
        pdq=PdqDigest(canonical, BARE_HASH_QUALITY) if signal.name == "pdq" else None,
        vpdq=parse_frames(canonical) if signal.name == "vpdq" else [],
    )
