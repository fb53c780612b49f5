"""Match one fingerprint against every bank in the live index.

Rules, in order:

* digests (sha256, md5) match on identical values;
* PDQ: every query variant (as is, without bars, eight rotations/flips) of quality at least
  ``min_quality`` is searched within ``max_distance``; a hit counts when it is also within its
  bank's own threshold;
* vPDQ: the frame index proposes candidate videos, then Meta's exact percentages decide
  (query >= 80 % of unique frames matched);
* a hit on an entry of a **negative** bank suppresses every positive hit made through the same
  query variant (a known false positive stays known whichever bank holds the look-alike);
* per entry the strongest evidence is reported (sha256 < md5 < pdq < vpdq, then distance).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from hashwall.hashing.record import HashRecord
from hashwall.matching.compare import query_variants
from hashwall.service.live_index import BankInfo, LiveIndex, frame_hashes
from hashwall.signals import pdq as pdq_signal
from hashwall.signals import vpdq
from hashwall.signals.hexcodec import hex_to_bytes_array

_SIGNAL_RANK = {"sha256": 0, "md5": 1, "pdq": 2, "vpdq": 3}
Usable = Callable[[int], BankInfo | None]


@dataclass(frozen=True)
class Thresholds:
    """Per-request thresholds; the API only lets them be stricter than Meta's defaults."""

    max_distance: int = pdq_signal.DISTANCE_THRESHOLD
    min_quality: int = pdq_signal.QUALITY_THRESHOLD
    min_query_match_percent: float = vpdq.QUERY_MATCH_PERCENT


@dataclass(frozen=True)
class Hit:
    entry_id: int
    bank: BankInfo
    signal: str
    distance: int
    query_variant: str
    stored_variant: str | None = None
    query_match_percent: float | None = None
    compared_match_percent: float | None = None

    def rank(self) -> tuple[int, int]:
        return (_SIGNAL_RANK[self.signal], self.distance)


@dataclass(frozen=True)
class MatchOutcome:
    matches: list[Hit]  # positive banks, best evidence per entry
    negative: list[Hit]  # negative-bank hits, which suppressed matches of their variant
    suppressed: int  # positive hits dropped because a negative entry matched the same variant


def match_record(
    index: LiveIndex,
    record: HashRecord,
    thresholds: Thresholds,
    bank_ids: set[int] | None = None,
) -> MatchOutcome:
    hits: list[Hit] = []

    def usable(entry_id: int) -> BankInfo | None:
        bank_id = index.entry_bank(entry_id)
        if bank_id is None:  # withdrawn while we searched
            return None
        bank = index.banks.get(bank_id)
        if bank is None or not bank.enabled:
            return None
        if bank_ids is not None and bank.id not in bank_ids and not bank.negative:
            return None
        return bank

    for name, digest in (("sha256", record.sha256), ("md5", record.md5)):
        for entry_id in index.digest_entries(name, digest) if digest else ():
            bank = usable(entry_id)
            if bank is not None:
                hits.append(Hit(entry_id, bank, name, 0, name))
    hits.extend(_pdq_hits(index, record, thresholds, usable))
    if record.vpdq:
        hits.extend(_vpdq_hits(index, record, thresholds, usable))
    return _resolve(hits)


def _pdq_hits(
    index: LiveIndex, record: HashRecord, thresholds: Thresholds, usable: Usable
) -> list[Hit]:
    variants = [v for v in query_variants(record) if v.quality >= thresholds.min_quality]
    if not variants or len(index.pdq) == 0:
        return []
    queries = hex_to_bytes_array([v.hash for v in variants], pdq_signal.HASH_BYTES)
    found: list[Hit] = []
    for variant, (ids, distances) in zip(
        variants, index.pdq.search(queries, radius=thresholds.max_distance), strict=True
    ):
        for row_id, distance in zip(ids.tolist(), distances.tolist(), strict=True):
            owner = index.pdq_owner(row_id)
            if owner is None:
                continue
            entry_id, stored_variant = owner
            bank = usable(entry_id)
            if bank is None or distance > bank.pdq_threshold:
                continue
            found.append(Hit(entry_id, bank, "pdq", int(distance), variant.name, stored_variant))
    return found


def _vpdq_hits(
    index: LiveIndex, record: HashRecord, thresholds: Thresholds, usable: Usable
) -> list[Hit]:
    hashes = frame_hashes(record.vpdq, thresholds.min_quality)
    if not hashes or len(index.videos) == 0:
        return []
    candidates = index.videos.search_video(
        hex_to_bytes_array(hashes, pdq_signal.HASH_BYTES), radius=thresholds.max_distance
    )
    found: list[Hit] = []
    for candidate in candidates:
        frames = index.video_frames(candidate.video_id)
        bank = usable(candidate.video_id)
        if frames is None or bank is None:
            continue
        result = vpdq.match_frames(
            record.vpdq,
            frames,
            distance_threshold=min(thresholds.max_distance, bank.pdq_threshold),
            quality_threshold=thresholds.min_quality,
        )
        if result.min_distance is not None and result.is_match(
            query_percent=thresholds.min_query_match_percent
        ):
            found.append(
                Hit(
                    candidate.video_id,
                    bank,
                    "vpdq",
                    result.min_distance,
                    "video",
                    query_match_percent=result.query_match_percent,
                    compared_match_percent=result.compared_match_percent,
                )
            )
    return found


def _resolve(hits: list[Hit]) -> MatchOutcome:
    negative_variants = {(h.signal, h.query_variant) for h in hits if h.bank.negative}
    best: dict[int, Hit] = {}
    negative: dict[int, Hit] = {}
    suppressed = 0
    for hit in hits:
        if hit.bank.negative:
            target = negative
        elif (hit.signal, hit.query_variant) in negative_variants:
            suppressed += 1
            continue
        else:
            target = best
        current = target.get(hit.entry_id)
        if current is None or hit.rank() < current.rank():
            target[hit.entry_id] = hit
    by_bank: defaultdict[int, list[Hit]] = defaultdict(list)
    for hit in best.values():
        by_bank[hit.bank.id].append(hit)
    ordered = [
        hit
        for bank_id in sorted(by_bank)
        for hit in sorted(by_bank[bank_id], key=lambda h: (h.rank(), h.entry_id))
    ]
    return MatchOutcome(ordered, sorted(negative.values(), key=lambda h: h.entry_id), suppressed)
