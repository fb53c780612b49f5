"""Compare two fingerprints at Meta's default thresholds, across bars, rotations and flips."""

from __future__ import annotations

from dataclasses import dataclass

from hashwall.hashing.record import HashRecord
from hashwall.signals import pdq, vpdq
from hashwall.signals.base import SignalComparison
from hashwall.signals.hexcodec import hamming_hex


@dataclass(frozen=True)
class PdqVariant:
    """One hash a photo can be matched by, and how it was derived from the photo."""

    hash: str
    quality: int
    name: str  # "original", "borderless", "rotate90", "borderless+flipx", ...


def query_variants(record: HashRecord, *, dihedral: bool = True) -> list[PdqVariant]:
    """Every hash of the query photo: as is, without bars, and (optionally) rotated/flipped."""
    variants: list[PdqVariant] = []
    sources = []
    if record.pdq is not None:
        sources.append(("", record.pdq))
    if record.pdq_borderless is not None:
        sources.append(("borderless", record.pdq_borderless.digest))
    for prefix, digest in sources:
        names = pdq.DIHEDRAL_NAMES if dihedral and digest.dihedral else ("original",)
        hashes = digest.dihedral if dihedral and digest.dihedral else (digest.hash,)
        for name, value in zip(names, hashes, strict=True):
            label = "+".join(part for part in (prefix, "" if name == "original" else name) if part)
            variants.append(PdqVariant(value, digest.quality, label or "original"))
    return variants


def stored_variants(record: HashRecord) -> list[PdqVariant]:
    """The hashes a listed photo is stored under (rotations are covered by the query side)."""
    return query_variants(record, dihedral=False)


@dataclass(frozen=True)
class PhotoComparison:
    distance: int
    query_variant: str
    stored_variant: str
    query_quality: int
    stored_quality: int

    def is_match(
        self,
        distance_threshold: int = pdq.DISTANCE_THRESHOLD,
        quality_threshold: int = pdq.QUALITY_THRESHOLD,
    ) -> bool:
        return (
            self.distance <= distance_threshold
            and self.query_quality >= quality_threshold
            and self.stored_quality >= quality_threshold
        )


def compare_photos(query: HashRecord, stored: HashRecord) -> PhotoComparison | None:
    """The closest pair of variants between two photos; ``None`` if either has no PDQ."""
    best: PhotoComparison | None = None
    for left in query_variants(query):
        for right in stored_variants(stored):
            distance = hamming_hex(left.hash, right.hash)
            if best is None or distance < best.distance:
                best = PhotoComparison(distance, left.name, right.name, left.quality, right.quality)
    return best


def compare_records(a: HashRecord, b: HashRecord) -> list[SignalComparison]:
    """Every signal the two records share, compared (a is the query side)."""
    results = [
        SignalComparison(name, left == right, distance=0 if left == right else 1)
        for name, left, right in (("md5", a.md5, b.md5), ("sha256", a.sha256, b.sha256))
        if left and right
    ]
    photo = compare_photos(a, b)
    if photo is not None:
        note = f"query {photo.query_variant} vs {photo.stored_variant}"
        if photo.distance <= pdq.DISTANCE_THRESHOLD and not photo.is_match():
            note += f"; quality below {pdq.QUALITY_THRESHOLD}, too featureless to trust"
        results.append(
            SignalComparison("pdq", photo.is_match(), distance=photo.distance, note=note)
        )
    if a.vpdq and b.vpdq:
        video = vpdq.match_frames(a.vpdq, b.vpdq)
        results.append(
            SignalComparison(
                "vpdq",
                video.is_match(),
                distance=video.min_distance,
                query_match_percent=video.query_match_percent,
                compared_match_percent=video.compared_match_percent,
            )
        )
    return results
