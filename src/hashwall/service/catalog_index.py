"""The platform catalog in memory: which catalog items could match a given bank entry.

A catalog item is the *query* side of a match (the match API is asked "does this item of ours
match a bank?"), so its rows include every rotation/flip of its PDQ hashes. Searching this
index with an entry's *stored* hashes therefore finds exactly the items whose query variants
come near the entry, i.e. the items the match API would be asked about. It only proposes
candidates: :mod:`hashwall.service.sweep` confirms each with the match API's own code, so
thresholds, negative banks and vPDQ percentages are the match API's by construction.

It is a :class:`~hashwall.service.live_index.LiveIndex` over the catalog tables: built once at
start (in columns) and converged per item (idempotent re-reads), from this worker's writes
and from the change log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from hashwall.hashing.record import BorderlessPdq, HashRecord
from hashwall.media.borders import BorderCrop
from hashwall.media.sniff import ContentKind
from hashwall.service.index_scan import CATALOG, DIGESTS
from hashwall.service.live_index import LiveIndex, frame_hashes
from hashwall.service.records import frames_from_json, signals_from_record
from hashwall.signals import pdq as pdq_signal
from hashwall.signals import vpdq
from hashwall.signals.hexcodec import hex_to_bytes_array
from hashwall.signals.pdq import DIHEDRAL_NAMES, PdqDigest
from hashwall.store import Database
from hashwall.store.catalog_models import CatalogSignal

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


class CatalogIndex:
    """Active catalog items: every PDQ variant, digests, and video frames.

    It is a :class:`~hashwall.service.live_index.LiveIndex` over the catalog's tables, so a
    catalog loads as the banks do: numpy columns filled from aggregated chunks, not one
    Python object per signal row. A catalog item has about ten rows (eight rotations and
    flips of its PDQ hash, md5, sha256): the per-row loader this replaces took 5.9 s and
    1 GB for 100k items, and would not have started at all with tens of millions.
    """

    def __init__(self) -> None:
        self._index = LiveIndex(CATALOG)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, item_id: int) -> bool:
        return item_id in self._index

    @property
    def live_index(self) -> LiveIndex:
        """The index underneath, for start-up (:mod:`hashwall.service.index_snapshot`)."""
        return self._index

    def load_all(self, session: Session) -> None:
        """Index every active item; once, at start, on an empty index (see
        :meth:`LiveIndex.load_all <hashwall.service.live_index.LiveIndex.load_all>`)."""
        self._index.load_all(session)

    def sync_items(self, db: Database, item_ids: Iterable[int]) -> None:
        """Make the index agree with the database about these items (idempotent)."""
        self.sync(db, item_ids=item_ids)

    def sync_import(self, db: Database, import_id: int) -> None:
        self.sync(db, imports=[import_id])

    def sync(
        self, db: Database, *, item_ids: Iterable[int] = (), imports: Iterable[int] = ()
    ) -> None:
        """Converge these items and every item of these catalog imports on the database
        (as :meth:`LiveIndex.sync <hashwall.service.live_index.LiveIndex.sync>`)."""
        self._index.sync(db, entry_ids=item_ids, import_jobs=imports)

    def candidates(self, stored: Sequence[SignalTuple], radius: int) -> set[int]:
        """Items that may match an entry with these stored rows (superset; confirm after)."""
        index = self._index
        found: set[int] = set()
        hashes: list[str] = []
        for signal_type, _variant, value, quality in stored:
            if signal_type in DIGESTS:
                found.update(index.digest_entries(signal_type, value))
            elif signal_type == "pdq" and (quality or 0) >= pdq_signal.QUALITY_THRESHOLD:
                hashes.append(value)
            elif signal_type == "vpdq" and len(index.videos):
                frames = frame_hashes(frames_from_json(value), vpdq.QUALITY_THRESHOLD)
                if frames:
                    matches = index.videos.search_video(
                        hex_to_bytes_array(frames, pdq_signal.HASH_BYTES), radius=radius
                    )
                    found.update(int(m.video_id) for m in matches)
        if hashes and len(index.pdq):
            queries = hex_to_bytes_array(hashes, pdq_signal.HASH_BYTES)
            for ids, _distances in index.pdq.search(queries, radius=radius):
                for row_id in ids.tolist():
                    owner = index.pdq_owner(row_id)
                    if owner is not None:
                        found.add(owner[0])
        return found
