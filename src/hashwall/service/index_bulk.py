"""Signal rows of many new owners (a bulk import's entries) gathered as numpy columns.

Why: the live index's overlay keeps a Python object per entry (a dict entry, an
:class:`~hashwall.service.live_index.IndexedEntry` with its lists, a dict entry per PDQ row):
~18 us and a few hundred bytes per entry, so a million-entry import took ~18 s and ~0.5 GB to
index. :class:`Additions` instead collects the rows column by column (one ``zip`` transposes
each streamed partition in C) for :meth:`~hashwall.service.live_index.LiveIndex` to append to
its base in one step, as the start-up load builds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hashwall.service.index_scan import DIGESTS, FIXED_BYTES, SignalRow
from hashwall.signals import pdq as pdq_signal
from hashwall.signals.hexcodec import hex_to_bytes_array

Int64Array = npt.NDArray[np.int64]
UInt8Array = npt.NDArray[np.uint8]


def _ints(values: Sequence[Any]) -> Int64Array:
    return np.fromiter(values, np.int64, len(values))


def joined(parts: list[npt.NDArray[Any]], dtype: Any, width: int = 0) -> npt.NDArray[Any]:
    """The parts as one array of ``dtype`` (``width`` columns when empty, for 2-D parts)."""
    if parts:
        return np.concatenate(parts).astype(dtype, copy=False)
    return np.zeros((0, width) if width else 0, dtype)


@dataclass
class Additions:
    """New owners and their indexable rows, as columns (owners named by id, not position).

    ``videos`` (vPDQ values, few and large) stay Python pairs for the caller to index."""

    rows: int = 0  # signal rows taken
    owner_ids: list[Int64Array] = field(default_factory=list)  # a row's owner, repeats kept
    group_ids: list[Int64Array] = field(default_factory=list)  # and its group (bank)
    pdq_ids: list[Int64Array] = field(default_factory=list)
    pdq_owner_ids: list[Int64Array] = field(default_factory=list)
    pdq_variants: list[list[str]] = field(default_factory=list)
    pdq_hashes: list[UInt8Array] = field(default_factory=list)
    digests: dict[str, list[tuple[Int64Array, UInt8Array]]] = field(
        default_factory=lambda: {kind: [] for kind in DIGESTS}
    )
    videos: list[tuple[int, str]] = field(default_factory=list)

    def add(self, rows: Sequence[SignalRow]) -> None:
        """Take one partition of :data:`SignalRow` tuples (all of new owners)."""
        if not rows:
            return
        ids, owners, groups, types, variants, values, qualities = zip(*rows, strict=True)
        self.rows += len(rows)
        self.owner_ids.append(_ints(owners))
        self.group_ids.append(_ints(groups))
        by_type: dict[str, list[int]] = {}
        for i, signal_type in enumerate(types):
            by_type.setdefault(signal_type, []).append(i)
        for signal_type, picked in by_type.items():
            if signal_type == "pdq":
                # Like Meta's matcher, hashes too featureless to trust are not matchable.
                kept = [i for i in picked if (qualities[i] or 0) >= pdq_signal.QUALITY_THRESHOLD]
                self.pdq_ids.append(_ints([ids[i] for i in kept]))
                self.pdq_owner_ids.append(_ints([owners[i] for i in kept]))
                self.pdq_variants.append([variants[i] for i in kept])
                self.pdq_hashes.append(
                    hex_to_bytes_array([values[i] for i in kept], pdq_signal.HASH_BYTES)
                )
            elif signal_type in self.digests:
                hashes = hex_to_bytes_array([values[i] for i in picked], FIXED_BYTES[signal_type])
                self.digests[signal_type].append((_ints([owners[i] for i in picked]), hashes))
            elif signal_type == "vpdq":
                self.videos.extend((owners[i], values[i]) for i in picked)

    def owner_columns(self) -> tuple[Int64Array, Int64Array]:
        """Sorted distinct owner ids and their groups (arrays, not a dict: 10M owners as a
        dict took ~1 GB)."""
        ids = joined(self.owner_ids, np.int64)
        groups = joined(self.group_ids, np.int64)
        distinct, first = np.unique(ids, return_index=True)
        return distinct, groups[first]

    def pdq_columns(self) -> tuple[Int64Array, Int64Array, list[str], UInt8Array]:
        """(row ids, owner ids, variant per row, hashes)."""
        variants = [name for part in self.pdq_variants for name in part]
        return (
            joined(self.pdq_ids, np.int64),
            joined(self.pdq_owner_ids, np.int64),
            variants,
            joined(self.pdq_hashes, np.uint8, pdq_signal.HASH_BYTES),
        )

    def digest_columns(self, kind: str) -> tuple[Int64Array, UInt8Array]:
        """(owner ids, values) of one digest kind."""
        parts = self.digests[kind]
        return (
            joined([p[0] for p in parts], np.int64),
            joined([p[1] for p in parts], np.uint8, FIXED_BYTES[kind]),
        )
