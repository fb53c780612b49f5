"""The platform catalog in memory: which catalog items could match a given bank entry.

A catalog item is the *query* side of a match (the match API is asked "does this item of ours
match a bank?"), so its rows include every rotation/flip of its PDQ hashes. Searching this
index with an entry's *stored* hashes therefore finds exactly the items whose query variants
come near the entry, i.e. the items the match API would be asked about. It only proposes
candidates: :mod:`hashwall.service.sweep` confirms each with the match API's own code, so
thresholds, negative banks and vPDQ percentages are the match API's by construction.

Like :class:`~hashwall.service.live_index.LiveIndex` it is built once at start and converged
per item (idempotent re-reads), from this worker's writes and from the change log.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashwall.hashing.record import BorderlessPdq, HashRecord
from hashwall.index import HammingIndex, VideoFrameIndex
from hashwall.media.borders import BorderCrop
from hashwall.media.sniff import ContentKind
from hashwall.service.live_index import frame_hashes
from hashwall.service.records import frames_from_json, signals_from_record
from hashwall.signals import pdq as pdq_signal
from hashwall.signals import vpdq
from hashwall.signals.hexcodec import hex_to_bytes_array
from hashwall.signals.pdq import DIHEDRAL_NAMES, PdqDigest
from hashwall.store import Database
from hashwall.store.catalog_models import CatalogItem, CatalogSignal, CatalogState

_SYNC_CHUNK = 500
SignalTuple = tuple[str, str, str, int | None]  # (signal_type, variant, value, quality)


def catalog_signals(record: HashRecord) -> list[CatalogSignal]:
    """The entry rows of ``record`` plus the rotations/flips of each PDQ hash."""
    rows = [
        CatalogSignal(
            signal_type=s.signal_type,
            variant=s.variant,
            value=s.value,
            value_key=s.value_key,
            quality=s.quality,
        )
        for s in signals_from_record(record)
    ]
    sources: list[tuple[str, PdqDigest]] = []
    if record.pdq is not None:
        sources.append(("", record.pdq))
    if record.pdq_borderless is not None:
        sources.append(("borderless+", record.pdq_borderless.digest))
    for prefix, digest in sources:
        if len(digest.dihedral) != len(DIHEDRAL_NAMES):
            continue
        for name, value in zip(DIHEDRAL_NAMES[1:], digest.dihedral[1:], strict=True):
            rows.append(
                CatalogSignal(
                    signal_type="pdq",
                    variant=prefix + name,
                    value=value,
                    value_key=value[:64],
                    quality=digest.quality,
                )
            )
    return rows


def record_from_catalog(content_type: str, rows: Sequence[SignalTuple]) -> HashRecord:
    """Rebuild the full query record (with rotations/flips) of a catalog item."""
    values: dict[str, tuple[str, int]] = {}
    md5 = sha256 = ""
    frames = []
    for signal_type, variant, value, quality in rows:
        if signal_type == "pdq":
            values[variant] = (value, quality or 0)
        elif signal_type == "md5":
            md5 = value
        elif signal_type == "sha256":
            sha256 = value
        elif signal_type == "vpdq":
            frames = frames_from_json(value)

    def digest(prefix: str, base: str) -> PdqDigest | None:
        if base not in values:
            return None
        value, quality = values[base]
        names = [prefix + name for name in DIHEDRAL_NAMES[1:]]
        dihedral: tuple[str, ...] = ()
        if all(name in values for name in names):
            dihedral = (value, *(values[name][0] for name in names))
        return PdqDigest(value, quality, dihedral)

    pdq = digest("", "original")
    borderless = digest("borderless+", "borderless")
    kind = ContentKind.VIDEO if content_type == "video" else ContentKind.PHOTO
    return HashRecord(
        "",
        kind,
        md5,
        sha256,
        pdq,
        BorderlessPdq(borderless, BorderCrop(0, 0, 0, 0)) if borderless else None,
        frames,
    )


@dataclass
class IndexedItem:
    item_id: int
    pdq_rows: list[int] = field(default_factory=list)
    digests: list[tuple[str, str]] = field(default_factory=list)


CatalogRow = tuple[int, int, str, str, str, int | None]
"""(signal row id, item id, signal type, variant, value, quality)"""


class CatalogIndex:
    """Active catalog items: every PDQ variant, digests, and video frames."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.pdq = HammingIndex(bits=256)
        self.pdq_owner: dict[int, int] = {}  # signal row id -> item id
        self.digests: dict[tuple[str, str], tuple[int, ...]] = {}
        self.videos = VideoFrameIndex()
        self.items: dict[int, IndexedItem] = {}

    def __len__(self) -> int:
        return len(self.items)

    def _rows(self, session: Session, item_ids: list[int] | None) -> list[CatalogRow]:
        query = (
            select(
                CatalogSignal.id,
                CatalogSignal.item_id,
                CatalogSignal.signal_type,
                CatalogSignal.variant,
                CatalogSignal.value,
                CatalogSignal.quality,
            )
            .join(CatalogItem, CatalogItem.id == CatalogSignal.item_id)
            .where(CatalogItem.state == CatalogState.ACTIVE)
            .order_by(CatalogSignal.id)
        )
        if item_ids is not None:
            query = query.where(CatalogSignal.item_id.in_(item_ids))
        return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]

    def load_all(self, session: Session) -> None:
        with self.lock:
            self._add_rows(self._rows(session, None))

    def _add_rows(self, rows: Sequence[CatalogRow]) -> None:
        pdq_ids: list[int] = []
        pdq_hashes: list[str] = []
        for row_id, item_id, signal_type, _variant, value, quality in rows:
            item = self.items.get(item_id)
            if item is None:
                item = self.items[item_id] = IndexedItem(item_id)
            if signal_type == "pdq":
                if (quality or 0) >= pdq_signal.QUALITY_THRESHOLD:
                    pdq_ids.append(row_id)
                    pdq_hashes.append(value)
                    self.pdq_owner[row_id] = item_id
                    item.pdq_rows.append(row_id)
            elif signal_type in ("md5", "sha256"):
                key = (signal_type, value)
                self.digests[key] = (*self.digests.get(key, ()), item_id)
                item.digests.append(key)
            elif signal_type == "vpdq":
                hashes = frame_hashes(frames_from_json(value), vpdq.QUALITY_THRESHOLD)
                if hashes:
                    self.videos.add_video(item_id, hex_to_bytes_array(hashes, 32))
        if pdq_ids:
            self.pdq.add(
                np.asarray(pdq_ids, dtype=np.int64),
                hex_to_bytes_array(pdq_hashes, pdq_signal.HASH_BYTES),
            )

    def _remove(self, item_id: int) -> None:
        item = self.items.pop(item_id, None)
        if item is None:
            return
        if item.pdq_rows:
            self.pdq.remove(np.asarray(item.pdq_rows, dtype=np.int64))
            for row_id in item.pdq_rows:
                self.pdq_owner.pop(row_id, None)
        for key in item.digests:
            remaining = tuple(i for i in self.digests.get(key, ()) if i != item_id)
            if remaining:
                self.digests[key] = remaining
            else:
                self.digests.pop(key, None)
        if item_id in self.videos:
            self.videos.remove_video(item_id)

    def sync_items(self, db: Database, item_ids: Iterable[int]) -> None:
        """Make the index agree with the database about these items (idempotent)."""
        self.sync(db, item_ids=item_ids)

    def sync_import(self, db: Database, import_id: int) -> None:
        self.sync(db, imports=[import_id])

    def sync(
        self, db: Database, *, item_ids: Iterable[int] = (), imports: Iterable[int] = ()
    ) -> None:
        """Converge these items and every item of these catalog imports on the database.

        As :meth:`LiveIndex.sync <hashwall.service.live_index.LiveIndex.sync>`: the database
        is read in a transaction begun under the lock (never from an older snapshot), and all
        removals come before any addition (a deleted item's signal row id may be reused).
        """
        with self.lock, db.session() as session:
            ids = set(item_ids)
            for import_id in imports:
                ids.update(
                    session.scalars(
                        select(CatalogItem.id).where(CatalogItem.import_id == import_id)
                    )
                )
            ordered = sorted(ids)
            missing: list[int] = []
            for start in range(0, len(ordered), _SYNC_CHUNK):
                chunk = ordered[start : start + _SYNC_CHUNK]
                active = set(
                    session.scalars(
                        select(CatalogItem.id).where(
                            CatalogItem.id.in_(chunk), CatalogItem.state == CatalogState.ACTIVE
                        )
                    )
                )
                for item_id in chunk:
                    if item_id not in active:
                        self._remove(item_id)
                missing.extend(i for i in chunk if i in active and i not in self.items)
            for start in range(0, len(missing), _SYNC_CHUNK):
                self._add_rows(self._rows(session, missing[start : start + _SYNC_CHUNK]))

    def candidates(self, stored: Sequence[SignalTuple], radius: int) -> set[int]:
        """Items that may match an entry with these stored rows (superset; confirm after)."""
        found: set[int] = set()
        hashes: list[str] = []
        for signal_type, _variant, value, quality in stored:
            if signal_type in ("md5", "sha256"):
                found.update(self.digests.get((signal_type, value), ()))
            elif signal_type == "pdq" and (quality or 0) >= pdq_signal.QUALITY_THRESHOLD:
                hashes.append(value)
            elif signal_type == "vpdq" and len(self.videos):
                frames = frame_hashes(frames_from_json(value), vpdq.QUALITY_THRESHOLD)
                if frames:
                    matches = self.videos.search_video(
                        hex_to_bytes_array(frames, pdq_signal.HASH_BYTES), radius=radius
                    )
                    found.update(int(m.video_id) for m in matches)
        if hashes and len(self.pdq):
            queries = hex_to_bytes_array(hashes, pdq_signal.HASH_BYTES)
            for ids, _distances in self.pdq.search(queries, radius=radius):
                for row_id in ids.tolist():
                    owner = self.pdq_owner.get(row_id)
                    if owner is not None:
                        found.add(owner)
        return found
