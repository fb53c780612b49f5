"""The columnar live index against a real database (SQLite, and PostgreSQL when configured).

Entries loaded at start live in numpy columns, entries added later in an overlay, and a
withdrawn loaded entry is only flagged; these tests check that every path answers as a
freshly loaded index would, through ``match_record`` (what the API calls).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from hashwall.hashing.record import HashRecord
from hashwall.media.sniff import ContentKind
from hashwall.service import index_scan
from hashwall.service.bank_match import Thresholds, match_record
from hashwall.service.change_log import ChangeTailer, latest_change_id
from hashwall.service.live_index import LiveIndex
from hashwall.signals.hexcodec import hex_to_bytes_array
from hashwall.signals.pdq import PdqDigest
from hashwall.signals.vpdq import VpdqFrame
from hashwall.store import (
    Bank,
    Change,
    ChangeKind,
    Database,
    Entry,
    EntrySignal,
    ImportJob,
    create_database,
    upgrade,
)

Signal = tuple[str, str, str, int | None]  # (type, variant, value, quality)


def hex_of(seed: int, nbytes: int = 32) -> str:
    """A fixed pseudo-random hash: different seeds are far apart."""
    return random.Random(seed).randbytes(nbytes).hex()


def near(value: str, bits: int = 3) -> str:
    """The same hash with its lowest ``bits`` bits flipped (well within PDQ's distance)."""
    return f"{int(value, 16) ^ ((1 << bits) - 1):064x}"


@dataclass
class Bench:
    """A database with helpers that write entries the way the service stores them."""

    db: Database

    def bank(self, name: str, **fields: object) -> int:
        with self.db.session() as session:
            bank = Bank(name=name, **fields)
            session.add(bank)
            session.flush()
            return bank.id

    def entry(self, bank_id: int, *signals: Signal, state: str = "active") -> int:
        with self.db.session() as session:
            entry = Entry(bank_id=bank_id, content_type="photo", state=state)
            entry.signals = [
                EntrySignal(
                    signal_type=kind,
                    variant=variant,
                    value=value,
                    value_key=value[:64],
                    quality=quality,
                )
                for kind, variant, value, quality in signals
            ]
            session.add(entry)
            session.flush()
            return entry.id

    def set_state(self, entry_id: int, state: str) -> None:
        with self.db.session() as session:
            session.execute(update(Entry).where(Entry.id == entry_id).values(state=state))

    def loaded(self) -> LiveIndex:
        index = LiveIndex()
        with self.db.session() as session:
            index.load_all(session)
        return index

    def sync(self, index: LiveIndex, *entry_ids: int) -> None:
        index.sync_entries(self.db, entry_ids)

    def clear(self) -> None:
        with self.db.session() as session:
            for table in (EntrySignal, Entry, Bank):
                session.execute(delete(table))


@pytest.fixture
def bench(database_url: str) -> Iterator[Bench]:
    db = create_database(database_url)
    upgrade(db.engine)
    try:
        yield Bench(db)
    finally:
        db.dispose()


def pdq_query(value: str) -> HashRecord:
    return HashRecord("q", ContentKind.PHOTO, "", "", pdq=PdqDigest(value, 100))


def digest_query(md5: str = "", sha256: str = "") -> HashRecord:
    return HashRecord("q", ContentKind.PHOTO, md5, sha256)


def matched(index: LiveIndex, record: HashRecord) -> list[tuple[int, str, str | None]]:
    """(entry, signal, stored variant) of every match, sorted."""
    outcome = match_record(index, record, Thresholds())
    return sorted((hit.entry_id, hit.signal, hit.stored_variant) for hit in outcome.matches)


def pdq_owners(index: LiveIndex, value: str) -> list[tuple[int, int, str] | None]:
    """(row, entry, variant) of every PDQ row the Hamming index finds within distance 31 of
    ``value``, with multiplicity: a row left in the Hamming index, found twice, or an entry
    indexed twice shows up here (the match answer keeps one hit per entry)."""
    [(ids, _distances)] = index.pdq.search(hex_to_bytes_array([value], 32), radius=31)
    found = []
    for row_id in ids.tolist():
        owner = index.pdq_owner(row_id)
        found.append(None if owner is None else (row_id, *owner))
    return sorted(found, key=repr)


# ---------------------------------------------------------------------- examples

A, B, C = hex_of(1), hex_of(2), hex_of(3)
MD5, SHA = hex_of(4, 16), hex_of(5)


def test_load_then_match(bench: Bench) -> None:
    ncii = bench.bank("ncii")
    other = bench.bank("other")
    first = bench.entry(
        ncii,
        ("pdq", "original", A, 100),
        ("pdq", "borderless", B, 90),
        ("md5", "original", MD5, None),
        ("sha256", "original", SHA, None),
    )
    second = bench.entry(other, ("pdq", "original", C, 80))
    bench.entry(ncii, ("pdq", "original", hex_of(6), 100), state="withdrawn")

    index = bench.loaded()

    assert len(index) == 2
    assert index.entry_bank(first) == ncii and index.entry_bank(second) == other
    assert matched(index, pdq_query(near(A))) == [(first, "pdq", "original")]
    assert matched(index, pdq_query(B)) == [(first, "pdq", "borderless")]
    assert matched(index, pdq_query(near(C))) == [(second, "pdq", "original")]
    assert matched(index, digest_query(md5=MD5)) == [(first, "md5", None)]
    assert matched(index, digest_query(sha256=SHA)) == [(first, "sha256", None)]
    assert matched(index, pdq_query(hex_of(6))) == []  # withdrawn before start
    assert matched(index, pdq_query(hex_of(7))) == []
    assert matched(index, digest_query(md5=hex_of(8, 16), sha256=hex_of(9))) == []


def test_columns_returned_in_different_orders_are_caught(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the database ever joined one column of a chunk in another row order than the
    others, hashes would be paired with the wrong entries: the checksums catch it and the
    chunk is read row by row."""
    first_bank, second_bank = bench.bank("first"), bench.bank("second")
    signals = [("md5", "original", hex_of(20 + i, 16), None) for i in range(3)]
    bench.entry(first_bank, *signals, state="withdrawn")  # signal ids now differ from entry ids
    first = bench.entry(first_bank, ("pdq", "original", A, 100))
    second = bench.entry(second_bank, ("pdq", "original", C, 100))
    parse = index_scan.ints
    shuffled = {f"{first},{second}", f"{first_bank},{second_bank}"}

    def out_of_order(joined: str | None, count: int) -> object:
        values = parse(joined, count)
        return values[::-1].copy() if joined in shuffled else values

    monkeypatch.setattr(index_scan, "ints", out_of_order)
    index = bench.loaded()
    assert index.entry_bank(first) == first_bank and index.entry_bank(second) == second_bank
    assert matched(index, pdq_query(near(A))) == [(first, "pdq", "original")]
    assert matched(index, pdq_query(near(C))) == [(second, "pdq", "original")]


def test_withdrawn_loaded_entry_stops_matching(bench: Bench) -> None:
    bank = bench.bank("ncii")
    entry = bench.entry(bank, ("pdq", "original", A, 100), ("md5", "original", MD5, None))
    kept = bench.entry(bank, ("pdq", "original", C, 100))
    index = bench.loaded()

    bench.set_state(entry, "withdrawn")
    bench.sync(index, entry)

    assert matched(index, pdq_query(A)) == []
    assert matched(index, digest_query(md5=MD5)) == []
    assert pdq_owners(index, A) == []
    assert len(index.pdq) == 1 and len(index) == 1
    assert index.entry_bank(entry) is None
    assert matched(index, pdq_query(C)) == [(kept, "pdq", "original")]


def test_reactivated_entry_matches_once(bench: Bench) -> None:
    bank = bench.bank("ncii")
    entry = bench.entry(
        bank,
        ("pdq", "original", A, 100),
        ("md5", "original", MD5, None),
        ("sha256", "x", SHA, None),
    )
    index = bench.loaded()

    bench.set_state(entry, "withdrawn")
    bench.sync(index, entry)
    bench.set_state(entry, "active")
    bench.sync(index, entry)
    bench.sync(index, entry)  # idempotent

    assert [owner[1:] for owner in pdq_owners(index, A) if owner] == [(entry, "original")]
    assert index.digest_entries("md5", MD5) == (entry,)
    assert index.digest_entries("sha256", SHA) == (entry,)
    assert matched(index, pdq_query(A)) == [(entry, "pdq", "original")]
    assert len(index) == 1 and len(index.pdq) == 1

    bench.set_state(entry, "quarantined")  # withdrawn again, now from the overlay
    bench.sync(index, entry)
    assert matched(index, pdq_query(A)) == []
    assert index.digest_entries("md5", MD5) == ()
    assert len(index) == 0 and len(index.pdq) == 0


def test_deleted_entrys_row_id_taken_by_a_new_entry(bench: Bench) -> None:
    """The tailer reads, in one batch, an import whose new entry holds a deleted entry's
    signal row id (SQLite reused the largest rowid before migration 0011) and the deletion:
    the deleted entry is removed first. Once, the index refused the id and the tailer kept
    failing on that batch, leaving a withdrawn entry matchable."""
    bank = bench.bank("ncii")
    kept = bench.entry(bank, ("pdq", "original", A, 100))
    deleted = bench.entry(bank, ("pdq", "original", B, 100))
    index = bench.loaded()
    tailer = ChangeTailer(bench.db, index, start_after=latest_change_id(bench.db), poll_seconds=1)
    with bench.db.session() as session:
        [row_id] = session.scalars(select(EntrySignal.id).where(EntrySignal.entry_id == deleted))
        session.execute(delete(EntrySignal).where(EntrySignal.entry_id == deleted))
        session.execute(update(Entry).where(Entry.id == deleted).values(state="deleted"))
        job = ImportJob(bank_id=bank, idempotency_key="k", format="jsonl")
        session.add(job)
        session.flush()
        newcomer = Entry(bank_id=bank, content_type="photo", state="active", import_job_id=job.id)
        newcomer.signals = [
            EntrySignal(id=row_id, signal_type="pdq", value=C, value_key=C, quality=100)
        ]
        session.add(newcomer)
        session.add(Change(kind=ChangeKind.ENTRY, target_id=deleted))
        session.add(Change(kind=ChangeKind.IMPORT, target_id=job.id))
        session.flush()
        newcomer_id = newcomer.id

    assert tailer.poll_once() == 2

    assert matched(index, pdq_query(B)) == []
    assert matched(index, pdq_query(near(C))) == [(newcomer_id, "pdq", "original")]
    assert matched(index, pdq_query(A)) == [(kept, "pdq", "original")]
    assert len(index) == 2 and len(index.pdq) == 2


def test_tailer_reads_entries_after_what_this_worker_applied(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request thread withdraws an entry and applies it while the tailer is between
    reading the log and syncing: the tailer must not sync from the log's (older) snapshot,
    which would put the withdrawn entry back (on SQLite a transaction keeps its snapshot)."""
    bank = bench.bank("ncii")
    entry = bench.entry(bank, ("pdq", "original", A, 100))
    index = bench.loaded()
    tailer = ChangeTailer(bench.db, index, start_after=latest_change_id(bench.db), poll_seconds=1)
    with bench.db.session() as session:
        session.add(Change(kind=ChangeKind.ENTRY, target_id=entry))  # e.g. a relabel
    read = tailer._read_changes

    def read_then_withdraw() -> object:
        rows = read()
        bench.set_state(entry, "withdrawn")
        bench.sync(index, entry)
        return rows

    monkeypatch.setattr(tailer, "_read_changes", read_then_withdraw)
    tailer.poll_once()
    assert matched(index, pdq_query(A)) == []


def test_signal_ids_are_never_reused(bench: Bench) -> None:
    """Migration 0011: a new signal row never takes the id of a deleted one."""
    bank = bench.bank("ncii")
    first = bench.entry(bank, ("pdq", "original", A, 100))
    with bench.db.session() as session:
        [old_id] = session.scalars(select(EntrySignal.id).where(EntrySignal.entry_id == first))
        session.execute(delete(EntrySignal))
    second = bench.entry(bank, ("pdq", "original", B, 100))
    with bench.db.session() as session:
        [new_id] = session.scalars(select(EntrySignal.id).where(EntrySignal.entry_id == second))
    assert new_id > old_id


def test_signal_rows_out_of_entry_order(bench: Bench) -> None:
    """Rows written for an older entry after a newer one's: a withdrawal still finds them."""
    bank = bench.bank("ncii")
    older = bench.entry(bank, ("md5", "original", MD5, None))
    newer = bench.entry(bank, ("pdq", "original", B, 100), ("pdq", "borderless", C, 100))
    with bench.db.session() as session:
        for value in (A, near(A, 8)):
            session.add(
                EntrySignal(
                    entry_id=older,
                    signal_type="pdq",
                    variant="original",
                    value=value,
                    value_key=value,
                    quality=100,
                )
            )
    index = bench.loaded()
    assert index._base.pdq_by_owner is not None  # the case under test

    bench.set_state(older, "withdrawn")
    bench.sync(index, older)

    assert pdq_owners(index, A) == [] and len(index.pdq) == 2
    assert matched(index, pdq_query(B)) == [(newer, "pdq", "original")]
    assert matched(index, pdq_query(C)) == [(newer, "pdq", "borderless")]


def test_entries_added_after_load(bench: Bench) -> None:
    bank = bench.bank("ncii")
    index = bench.loaded()
    assert len(index) == 0

    entry = bench.entry(bank, ("pdq", "borderless", A, 100), ("sha256", "original", SHA, None))
    bench.sync(index, entry)

    assert matched(index, pdq_query(A)) == [(entry, "pdq", "borderless")]
    assert matched(index, digest_query(sha256=SHA)) == [(entry, "sha256", None)]
    bench.set_state(entry, "deleted")
    bench.sync(index, entry)
    assert matched(index, pdq_query(A)) == [] and matched(index, digest_query(sha256=SHA)) == []


def test_entries_sharing_a_digest(bench: Bench) -> None:
    bank = bench.bank("ncii")
    first = bench.entry(bank, ("md5", "original", MD5, None))
    second = bench.entry(bank, ("md5", "original", MD5, None))
    index = bench.loaded()
    third = bench.entry(bank, ("md5", "original", MD5, None))
    bench.sync(index, third)

    assert sorted(index.digest_entries("md5", MD5)) == [first, second, third]
    bench.set_state(second, "withdrawn")
    bench.sync(index, second)
    assert sorted(index.digest_entries("md5", MD5)) == [first, third]
    assert [hit[0] for hit in matched(index, digest_query(md5=MD5))] == [first, third]


def test_low_quality_pdq_is_not_indexed(bench: Bench) -> None:
    bank = bench.bank("ncii")
    low = bench.entry(bank, ("pdq", "original", A, 49), ("md5", "original", MD5, None))
    unknown = bench.entry(bank, ("pdq", "original", B, None))
    index = bench.loaded()
    late = bench.entry(bank, ("pdq", "original", C, 10))
    bench.sync(index, late)

    assert len(index.pdq) == 0
    for value in (A, B, C):
        assert matched(index, pdq_query(value)) == []
    assert matched(index, digest_query(md5=MD5)) == [(low, "md5", None)]
    assert index.entry_bank(unknown) == bank  # indexed, just not matchable by its PDQ


def test_video_entry(bench: Bench) -> None:
    bank = bench.bank("ncii")
    frames = [VpdqFrame(i, 100, hex_of(100 + i), float(i)) for i in range(5)]
    value = json.dumps([frame.as_json() for frame in frames])
    entry = bench.entry(bank, ("vpdq", "original", value, None), ("md5", "original", MD5, None))
    query = HashRecord("q", ContentKind.VIDEO, "", "", vpdq=frames)
    index = bench.loaded()

    assert index.video_frames(entry) == frames
    assert matched(index, query) == [(entry, "vpdq", None)]
    bench.set_state(entry, "withdrawn")
    bench.sync(index, entry)
    assert matched(index, query) == [] and index.video_frames(entry) is None
    bench.set_state(entry, "active")
    bench.sync(index, entry)
    assert matched(index, query) == [(entry, "vpdq", None)]


def test_malformed_values_and_any_variant(
    bench: Bench, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A value that is not the type's fixed-width hex sends its chunk down the row-by-row path,
    which leaves that value out and keeps the rest; stored variants keep their names."""
    monkeypatch.setattr(index_scan, "LOAD_CHUNK", 4)
    bank = bench.bank("ncii")
    good = [bench.entry(bank, ("pdq", "rotated", hex_of(20 + i), 100)) for i in range(3)]
    bad = bench.entry(bank, ("pdq", "rotated", "zz" * 32, 100), ("md5", "original", "12", None))
    index = bench.loaded()

    for i, entry in enumerate(good):
        assert matched(index, pdq_query(hex_of(20 + i))) == [(entry, "pdq", "rotated")]
    assert len(index.pdq) == 3
    assert index.entry_bank(bad) == bank
    assert "malformed" in caplog.text


# ---------------------------------------------------------------------- property

PDQ_POOL = [hex_of(40 + i) for i in range(3)]
MD5_POOL = [hex_of(50 + i, 16) for i in range(2)]
SHA_POOL = [hex_of(60 + i) for i in range(2)]

signal_strategy = st.one_of(
    st.tuples(
        st.just("pdq"),
        st.sampled_from(["original", "borderless", "custom"]),
        st.sampled_from([*PDQ_POOL, *(near(v) for v in PDQ_POOL)]),
        st.sampled_from([None, 10, 50, 100]),
    ),
    st.tuples(st.just("md5"), st.just("original"), st.sampled_from(MD5_POOL), st.none()),
    st.tuples(st.just("sha256"), st.just("original"), st.sampled_from(SHA_POOL), st.none()),
)


@dataclass(frozen=True)
class Add:
    bank: int
    signals: list[Signal]


@dataclass(frozen=True)
class SetState:
    which: int  # an entry written earlier, modulo their number
    state: str


operation = st.one_of(
    st.builds(Add, bank=st.integers(0, 1), signals=st.lists(signal_strategy, max_size=3)),
    st.builds(SetState, which=st.integers(0, 50), state=st.sampled_from(["active", "withdrawn"])),
)


def answers(index: LiveIndex) -> dict[str, object]:
    """Everything a query can observe, with multiplicities."""
    return {
        "len": len(index),
        "pdq": {v: pdq_owners(index, v) for v in PDQ_POOL},
        "md5": {v: sorted(index.digest_entries("md5", v)) for v in MD5_POOL},
        "sha256": {v: sorted(index.digest_entries("sha256", v)) for v in SHA_POOL},
        "matches": [matched(index, pdq_query(v)) for v in PDQ_POOL]
        + [matched(index, digest_query(md5=m, sha256=s)) for m in MD5_POOL for s in SHA_POOL],
    }


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    before=st.lists(operation, max_size=8),
    after=st.lists(operation, max_size=8),
    chunk=st.sampled_from([2, 3, 200_000]),
)
def test_synced_index_answers_like_a_fresh_one(
    bench: Bench,
    monkeypatch: pytest.MonkeyPatch,
    before: list[Add | SetState],
    after: list[Add | SetState],
    chunk: int,
) -> None:
    """Entries written before start are loaded, then each later change is synced (as the
    worker's own request or the change-log tailer does); the answers must equal those of an
    index loaded afresh from the database."""
    monkeypatch.setattr(index_scan, "LOAD_CHUNK", chunk)
    bench.clear()
    banks = [bench.bank("a"), bench.bank("b")]
    entries: list[int] = []

    def apply(op: Add | SetState) -> int | None:
        if isinstance(op, Add):
            entries.append(bench.entry(banks[op.bank], *op.signals))
            return entries[-1]
        if not entries:
            return None
        entry = entries[op.which % len(entries)]
        bench.set_state(entry, op.state)
        return entry

    for op in before:
        apply(op)
    index = bench.loaded()
    for op in after:
        entry = apply(op)
        if entry is not None:
            bench.sync(index, entry)

    assert answers(index) == answers(bench.loaded())
