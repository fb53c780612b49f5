"""Match fingerprints against a hash list: exact digests, PDQ through the Hamming index, vPDQ."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hashwall.hashing.record import HashRecord
from hashwall.index import HammingIndex
from hashwall.matching.compare import PdqVariant, query_variants, stored_variants
from hashwall.matching.hashlist import HashList, HashListEntry
from hashwall.signals import pdq, vpdq
from hashwall.signals.hexcodec import hex_to_bytes_array


@dataclass(frozen=True)
class ListMatch:
    """One listed entry that a query matched, with the strongest evidence found."""

    entry: HashListEntry
    signal: str
    distance: int
    query_variant: str | None = None
    query_match_percent: float | None = None
    compared_match_percent: float | None = None

    def as_json(self, query_path: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": query_path,
            "entry": self.entry.describe(),
            "signal": self.signal,
            "distance": self.distance,
        }
        if self.query_variant is not None:
            data["query_variant"] = self.query_variant
        if self.query_match_percent is not None:
            data["query_match_percent"] = self.query_match_percent
            data["compared_match_percent"] = self.compared_match_percent
        return data


_SIGNAL_RANK = {"sha256": 0, "md5": 1, "pdq": 2, "vpdq": 3}


class Matcher:
    """An in-memory matcher over one hash list (the offline counterpart of a bank).

    ``distance_threshold`` and ``quality_threshold`` may only be made stricter than Meta's
    defaults through the CLI; the class itself accepts any value for experiments.
    """

    def __init__(
        self,
        hash_list: HashList,
        *,
        distance_threshold: int = pdq.DISTANCE_THRESHOLD,
        quality_threshold: int = pdq.QUALITY_THRESHOLD,
    ) -> None:
        self.hash_list = hash_list
        self.distance_threshold = distance_threshold
        self.quality_threshold = quality_threshold
        self._by_digest: dict[str, list[int]] = {}
        self._variant_owner: list[tuple[int, PdqVariant]] = []
        self._videos: list[int] = []
        for position, entry in enumerate(hash_list.entries):
            self._register(position, entry.record)
        self._index = HammingIndex(bits=256)
        if self._variant_owner:
            ids = np.arange(len(self._variant_owner), dtype=np.int64)
            hashes = hex_to_bytes_array([v.hash for _, v in self._variant_owner], pdq.HASH_BYTES)
            self._index.add(ids, hashes)

    def _register(self, position: int, record: HashRecord) -> None:
        for digest in (record.md5, record.sha256):
            if digest:
                self._by_digest.setdefault(digest, []).append(position)
        for variant in stored_variants(record):
            if variant.quality >= self.quality_threshold:
                self._variant_owner.append((position, variant))
        if record.vpdq:
            self._videos.append(position)

    def match(self, record: HashRecord) -> list[ListMatch]:
        """Every listed entry the record matches, best evidence per entry, ordered by line."""
        best: dict[int, ListMatch] = {}
        entries = self.hash_list.entries

        def offer(position: int, found: ListMatch) -> None:
            current = best.get(position)
            if current is None or (_SIGNAL_RANK[found.signal], found.distance) < (
                _SIGNAL_RANK[current.signal],
                current.distance,
            ):
                best[position] = found

        for name, digest in (("sha256", record.sha256), ("md5", record.md5)):
            for position in self._by_digest.get(digest, []) if digest else []:
                offer(position, ListMatch(entries[position], name, 0))
        self._match_pdq(record, offer)
        if record.vpdq:
            for position in self._videos:
                result = vpdq.match_frames(record.vpdq, entries[position].record.vpdq)
                if result.is_match() and result.min_distance is not None:
                    offer(
                        position,
                        ListMatch(
                            entries[position],
                            "vpdq",
                            result.min_distance,
                            query_match_percent=result.query_match_percent,
                            compared_match_percent=result.compared_match_percent,
                        ),
                    )
        return [best[position] for position in sorted(best)]

    def _match_pdq(self, record: HashRecord, offer: Callable[[int, ListMatch], None]) -> None:
        variants = [v for v in query_variants(record) if v.quality >= self.quality_threshold]
        if not variants or len(self._index) == 0:
            return
        queries = hex_to_bytes_array([v.hash for v in variants], pdq.HASH_BYTES)
        hits = self._index.search(queries, radius=self.distance_threshold)
        entries = self.hash_list.entries
        for variant, (ids, distances) in zip(variants, hits, strict=True):
            for row, distance in zip(ids.tolist(), distances.tolist(), strict=True):
                position, _stored = self._variant_owner[row]
                offer(position, ListMatch(entries[position], "pdq", int(distance), variant.name))
