"""The start-up scans that fill an in-memory index from the database, as numpy columns.

Used by the bank index (:class:`~hashwall.service.live_index.LiveIndex` over ``entries``)
and the catalog index (the same class over ``catalog_items``): an :class:`IndexSource` names
the tables. At 10M rows, start-up is these scans, so the database does the row work: each
chunk of rows comes back as a few aggregated strings that numpy parses, with no Python
object per row, and order-independent checksums prove the columns line up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Select, literal, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from hashwall.signals import pdq as pdq_signal
from hashwall.store import Entry, EntrySignal, EntryState
from hashwall.store.catalog_models import CatalogItem, CatalogSignal, CatalogState

log = logging.getLogger("hashwall.service")

LOAD_CHUNK = 200_000
_VIDEO_CHUNK = 1_000
_BEFORE_ALL = -(2**63)  # smaller than any id: where the scans start
#: Bytes per value of the signals whose stored values are fixed-width hex.
FIXED_BYTES = {"pdq": pdq_signal.HASH_BYTES, "md5": 16, "sha256": 32}
DIGESTS = ("md5", "sha256")

Int64Array = npt.NDArray[np.int64]
UInt8Array = npt.NDArray[np.uint8]

SignalRow = tuple[int, int, int, str, str, str, int | None]
"""(signal row id, owner id, group id, signal type, variant, value, quality)"""


@dataclass(frozen=True)
class IndexSource:
    """The tables an index is built from: owners (entries or catalog items), each with a
    state and optionally a group (an entry's bank), and their signal rows."""

    owner_model: Any  # Entry | CatalogItem
    signal_model: Any  # EntrySignal | CatalogSignal
    owner_column: str  # the signal table's column naming its owner
    group_column: str | None  # the owner's group column (a bank), or None
    import_column: str  # the owner's bulk-import column
    active: StrEnum  # the state of an indexed owner

    @property
    def owner_table(self) -> str:
        return str(self.owner_model.__tablename__)

    @property
    def signal_table(self) -> str:
        return str(self.signal_model.__tablename__)

    def owner_of(self) -> InstrumentedAttribute[int]:
        """The signal model's owner column."""
        return getattr(self.signal_model, self.owner_column)  # type: ignore[no-any-return]

    def active_among(self, owner_ids: list[int] | Select[Any]) -> Select[int]:
        """The active owners among these ids (a list, or a query selecting them)."""
        owner = self.owner_model
        return select(owner.id).where(owner.id.in_(owner_ids), owner.state == self.active)

    def of_imports(self, import_ids: Select[Any]) -> Select[int]:
        """The owners of the imports that ``import_ids`` selects."""
        owner = self.owner_model
        return select(owner.id).where(getattr(owner, self.import_column).in_(import_ids))

    def signal_rows(self) -> Select[Any]:
        """The columns of :data:`SignalRow`, for whichever owners the caller selects."""
        signal, owner = self.signal_model, self.owner_model
        group = literal(0) if self.group_column is None else getattr(owner, self.group_column)
        return select(
            signal.id,
            self.owner_of(),
            group,
            signal.signal_type,
            signal.variant,
            signal.value,
            signal.quality,
        ).join(owner, owner.id == self.owner_of())


ENTRIES = IndexSource(Entry, EntrySignal, "entry_id", "bank_id", "import_job_id", EntryState.ACTIVE)
CATALOG = IndexSource(CatalogItem, CatalogSignal, "item_id", None, "import_id", CatalogState.ACTIVE)


@dataclass(frozen=True, eq=False)
class SignalChunk:
    """Signal rows of one type and variant from one chunk of the scan, as columns.

    ``values`` holds the decoded bytes for fixed-width types (None otherwise); rows whose
    value did not decode are marked ``malformed``: they are not indexed, though their entry
    is (as an entry whose only PDQ is of low quality is).
    """

    signal_type: str
    variant: str
    ids: Int64Array
    owner_ids: Int64Array
    quality: Int64Array
    values: UInt8Array | None
    malformed: npt.NDArray[np.bool_] | None = None


def snapshot_connection(session: Session) -> Connection:
    """The session's connection for the start-up scans, which are several statements that
    must see one snapshot: SQLite's transaction is one already (BEGIN, WAL); PostgreSQL's
    default READ COMMITTED gives each statement its own, so REPEATABLE READ is asked for.
    (That only takes on a session's first statement; SQLAlchemy warns otherwise, and the
    change log, replayed after start, would still correct any entry that changed between
    two scans.)"""
    if session.get_bind().dialect.name == "postgresql":
        return session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return session.connection()


#: Order-independent checksums of each row's pairing of id with owner, quality and value,
#: computed by the database next to the joined columns and again from the parsed columns:
#: if the aggregates ever came back in different row orders (neither database documents
#: that they cannot), a hash would be paired with the wrong entry; the sums then differ
#: and the chunk is read row by row instead. Terms stay far below 2**63 per chunk.
_CHECK_PRIME = 65521
_ID_WEIGHT = f"(id % {_CHECK_PRIME})"
_QUALITY_TERM = "65537 * (coalesce(quality, 0) % 251)"


def _first_char(dialect: str) -> str:
    """SQL for the character code of a value's first character (one cheap call per row:
    four ``substr`` calls per row doubled the 10M start-up)."""
    return "ascii(value)" if dialect == "postgresql" else "unicode(value)"


def _concat(dialect: str, column: str) -> str:
    """SQL aggregating a column of a chunk into one comma-separated string.

    The columns of a chunk come back as separate aggregates, so they must line up: they do
    because each is an aggregate of the same query level over one scan of one table (no
    join, no ORDER BY or DISTINCT inside them), which both databases evaluate row by row,
    advancing every aggregate of the row's group on it before the next row. Ordering every
    aggregate by id (the documented way to fix the order) made PostgreSQL sort each column
    separately: 2.5x the time.
    """
    if dialect == "postgresql":
        return f"string_agg(CAST({column} AS TEXT), ',')"
    return f"group_concat({column}, ',')"


def _spans(connection: Connection, table: str) -> Iterator[tuple[int, int]]:
    """Ranges (after, upto] of ``LOAD_CHUNK`` ids that cover every row of a table, gaps
    skipped. Ranges of ids rather than ORDER BY id LIMIT n keep every chunk query a primary
    key range scan whatever the planner's statistics say (PostgreSQL without them read and
    sorted the whole table for each chunk)."""
    first_after = text(f"SELECT min(id) FROM {table} WHERE id > :after")
    after = _BEFORE_ALL
    while True:
        first = connection.execute(first_after, {"after": after}).scalar()
        if first is None:
            return
        after = int(first) - 1
        yield after, after + LOAD_CHUNK
        after += LOAD_CHUNK


def active_owners(connection: Connection, source: IndexSource) -> tuple[Int64Array, Int64Array]:
    """Sorted ids of the active owners and their groups (0 without groups), in chunks."""
    dialect = connection.dialect.name
    group = source.group_column or "0"
    table = source.owner_table
    query = text(
        f"SELECT count(*) AS n, {_concat(dialect, 'id')} AS ids, "
        f"{_concat(dialect, group)} AS groups, "
        f"sum({_ID_WEIGHT} * ({group} % {_CHECK_PRIME})) AS pair_check FROM {table} "
        "WHERE id > :after AND id <= :upto AND state = :state"
    )
    one_by_one = text(
        f"SELECT id, {group} AS grp FROM {table} "
        "WHERE id > :after AND id <= :upto AND state = :state ORDER BY id"
    )
    ids: list[Int64Array] = []
    banks: list[Int64Array] = []
    for after, upto in _spans(connection, table):
        params = {"after": after, "upto": upto, "state": source.active.value}
        row = connection.execute(query, params).one()
        if not row.n:
            continue
        chunk_ids, chunk_banks = ints(row.ids, row.n), ints(row.groups, row.n)
        if not _checksum_holds(chunk_ids, chunk_banks % _CHECK_PRIME, row.pair_check):
            log.warning("start-up: %s came back in different orders; reading them again", table)
            rows = connection.execute(one_by_one, params).all()
            chunk_ids = np.asarray([r.id for r in rows], np.int64)
            chunk_banks = np.asarray([r.grp for r in rows], np.int64)
        ids.append(chunk_ids)
        banks.append(chunk_banks)
    if not ids:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    owner_ids, group_ids = np.concatenate(ids), np.concatenate(banks)
    if len(owner_ids) > 1 and not bool(np.all(owner_ids[1:] > owner_ids[:-1])):
        order = np.argsort(owner_ids, kind="stable")
        owner_ids, group_ids = owner_ids[order], group_ids[order]
    return owner_ids, group_ids


class _ChunkQueries:
    """The two forms of the signal scan's chunk query (see :func:`signal_chunks`)."""

    def __init__(self, dialect: str, source: IndexSource) -> None:
        owner = source.owner_column
        columns = (
            f"count(*) AS n, {_concat(dialect, 'id')} AS ids, "
            f"{_concat(dialect, owner)} AS owners, "
            f"{_concat(dialect, 'coalesce(quality, 0)')} AS quality, "
            f"{_concat(dialect, 'value')} AS vals, "
            f"sum({_ID_WEIGHT} * (({owner} % {_CHECK_PRIME}) + {_QUALITY_TERM})) AS pair_check, "
            f"sum({_ID_WEIGHT} * {_first_char(dialect)}) AS value_check"
        )
        chunk = f"{source.signal_table} WHERE id > :after AND id <= :upto AND signal_type <> 'vpdq'"
        self.uniform = text(
            f"SELECT {columns}, count(CASE WHEN signal_type = :signal_type "
            f"AND variant = :variant THEN 1 END) AS matching FROM {chunk}"
        )
        self.grouped = text(
            f"SELECT signal_type, variant, {columns} FROM {chunk} GROUP BY signal_type, variant"
        )


def signal_chunks(connection: Connection, source: IndexSource) -> Iterator[SignalChunk]:
    """Every signal row except vPDQ (see :func:`video_rows`), a range of ids at a time, each
    chunk as a few strings: the ids, owner ids, qualities and values of its rows of one type
    and variant, joined with commas by the database. Fetching 10M rows one Python tuple each
    took most of start-up.

    Most chunks hold one type and variant (the last chunk's, guessed): one aggregate over the
    chunk says so and is used as is. Otherwise the chunk is read again grouped by type and
    variant (the grouping sorts the chunk: about twice the database time). A catalog item's
    rotations and flips are rows of their own variants, so catalog chunks are all grouped.
    """
    queries = _ChunkQueries(connection.dialect.name, source)
    guess: tuple[str, str] | None = ("pdq", "original")
    for id_range in _spans(connection, source.signal_table):
        params: dict[str, Any] = {"after": id_range[0], "upto": id_range[1]}
        if guess is not None:
            row = connection.execute(
                queries.uniform, {**params, "signal_type": guess[0], "variant": guess[1]}
            ).one()
            if not row.n:
                continue
            if row.matching == row.n:
                yield _chunk_of(connection, source, guess, row, id_range)
                continue
        rows = connection.execute(queries.grouped, params).all()
        if rows:
            guess = (rows[0].signal_type, rows[0].variant) if len(rows) == 1 else None
        for row in rows:
            yield _chunk_of(connection, source, (row.signal_type, row.variant), row, id_range)


def _chunk_of(
    connection: Connection,
    source: IndexSource,
    kind: tuple[str, str],
    row: Any,
    id_range: tuple[int, int],
) -> SignalChunk:
    """Columns of one aggregated row of one (type, variant); values that are not all
    well-formed send them down the row-by-row path instead."""
    count = int(row.n)
    nbytes = FIXED_BYTES.get(kind[0])
    values = None if nbytes is None else _fixed_hex(row.vals, count, nbytes)
    if nbytes is not None and values is None:
        return _checked_rows(connection, source, kind, id_range, nbytes)
    chunk = SignalChunk(
        *kind,
        ints(row.ids, count),
        ints(row.owners, count),
        ints(row.quality, count),
        values,
    )
    if nbytes is not None and not _aligned(chunk, row):
        log.warning("start-up: the database returned a chunk's columns in different orders")
        return _checked_rows(connection, source, kind, id_range, nbytes)
    return chunk


def _aligned(chunk: SignalChunk, row: Any) -> bool:
    """Whether the parsed columns pair up as the database's checksums say (see above)."""
    pairs = chunk.owner_ids % _CHECK_PRIME + 65537 * (chunk.quality % 251)
    if not _checksum_holds(chunk.ids, pairs, row.pair_check):
        return False
    if chunk.values is None:
        return True
    width = 2 * chunk.values.shape[1] + 1  # _fixed_hex checked the layout of row.vals
    first_chars = np.frombuffer(row.vals.encode("ascii"), np.uint8)[::width].astype(np.int64)
    return _checksum_holds(chunk.ids, first_chars, row.value_check)


def _checksum_holds(ids: Int64Array, paired: Int64Array, from_database: Any) -> bool:
    """sum((id % prime) * paired) over the parsed rows equals the database's own sum."""
    return int(np.sum(ids % _CHECK_PRIME * paired)) == int(from_database or 0)


def import_owners(connection: Connection, source: IndexSource, import_ids: list[int]) -> Int64Array:
    """The active owners of these imports, aggregated into one string by the database (a
    million ids as rows cost ~1 s in Python, as one string ~0.1 s)."""
    dialect = connection.dialect.name
    jobs = ", ".join(str(int(i)) for i in import_ids)
    query = text(
        f"SELECT count(*) AS n, {_concat(dialect, 'id')} AS ids FROM {source.owner_table} "
        f"WHERE {source.import_column} IN ({jobs}) AND state = :state"
    )
    row = connection.execute(query, {"state": source.active.value}).one()
    return ints(row.ids, row.n)


def ints(joined: str | None, count: int) -> Int64Array:
    """A comma-separated integer column aggregated by the database."""
    if not count:
        return np.zeros(0, np.int64)
    values = np.fromstring(joined or "", dtype=np.int64, sep=",")
    if len(values) != count:
        raise RuntimeError(f"expected {count} integers from the database, parsed {len(values)}")
    return values


def _fixed_hex(joined: str | None, count: int, nbytes: int) -> UInt8Array | None:
    """``count`` comma-separated hex values of ``nbytes`` bytes each, as (count, nbytes)
    bytes; None unless every one is exactly that (one wrong length would shift all the rows
    after it, so this is checked, not assumed)."""
    width = 2 * nbytes + 1
    if joined is None or len(joined) != count * width - 1:
        return None
    if joined.count(",") != count - 1 or joined[width - 1 :: width] != "," * (count - 1):
        return None
    try:
        raw = bytes.fromhex(joined.replace(",", ""))
    except ValueError:
        return None
    if len(raw) != count * nbytes:  # fromhex skips whitespace
        return None
    return np.frombuffer(raw, np.uint8).reshape(count, nbytes)


def _checked_rows(
    connection: Connection,
    source: IndexSource,
    kind: tuple[str, str],
    id_range: tuple[int, int],
    nbytes: int,
) -> SignalChunk:
    """The rows of one type and variant in a chunk, read and decoded one by one; values that
    are not ``nbytes`` bytes of hex can never equal a query's and are marked (and logged)."""
    signal_type, variant = kind
    after, upto = id_range
    signal = source.signal_model
    rows = connection.execute(
        select(signal.id, source.owner_of(), signal.value, signal.quality)
        .where(
            signal.id > after,
            signal.id <= upto,
            signal.signal_type == signal_type,
            signal.variant == variant,
        )
        .order_by(signal.id)
    ).all()
    columns = np.zeros((len(rows), 3), np.int64)
    hashes = np.zeros((len(rows), nbytes), np.uint8)
    malformed = np.zeros(len(rows), bool)
    for i, (row_id, owner_id, value, quality) in enumerate(rows):
        columns[i] = (row_id, owner_id, quality or 0)
        decoded = _decoded(value)
        if len(decoded) == nbytes:
            hashes[i] = np.frombuffer(decoded, np.uint8)
        else:
            malformed[i] = True
            log.warning("%s signal row %d has a malformed value: not indexed", signal_type, row_id)
    return SignalChunk(
        signal_type, variant, columns[:, 0], columns[:, 1], columns[:, 2], hashes, malformed
    )


def _decoded(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""


def video_rows(connection: Connection, source: IndexSource) -> Iterator[tuple[int, str]]:
    """(owner id, value) of every vPDQ signal in id order: rare, large values, one by one."""
    signal = source.signal_model
    query = (
        select(source.owner_of(), signal.value)
        .where(signal.signal_type == "vpdq")
        .order_by(signal.id)
    )
    streamed = connection.execution_options(yield_per=_VIDEO_CHUNK)
    for rows in streamed.execute(query).partitions():
        yield from rows
