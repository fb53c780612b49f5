"""Hash one item and match it against every bank: the work a scan spreads over cores.

Everything here runs in a worker (a local process or a Ray task). The bank is loaded once per
worker process (:func:`hashwall.scan.banks.load_banks` caches it). Payloads from archives and
URLs are written to a private temporary file and hashed with :func:`hashwall.hashing.hash_file`,
the very code ``hashwall hash`` and ``hashwall match`` use, so pixel and video limits
(decompression bombs) and every hashing option behave the same.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hashwall.hashing.options import HashOptions
from hashwall.scan.banks import BankSpec, load_banks
from hashwall.scan.items import ItemResult, ScanItem
from hashwall.scan.skips import Skip

if TYPE_CHECKING:
    from hashwall.hashing.record import HashRecord


@dataclass(frozen=True)
class WorkerConfig:
    banks: BankSpec
    hash_options: HashOptions


def process_batch(batch: list[ScanItem], config: WorkerConfig) -> list[ItemResult]:
    """Results in the order of ``batch``; one bad item never fails the batch."""
    from threadpoolctl import threadpool_limits

    banks = load_banks(config.banks)
    with threadpool_limits(1):  # one core per worker: BLAS threads would only contend
        return [_timed(item, config, banks) for item in batch]


def _timed(item: ScanItem, config: WorkerConfig, banks: list[Any]) -> ItemResult:
    started = time.process_time()
    result = _process(item, config, banks)
    return replace(result, cpu_seconds=time.process_time() - started)


def _process(item: ScanItem, config: WorkerConfig, banks: list[Any]) -> ItemResult:
    from hashwall.media.errors import MediaError, MediaTooLarge

    try:
        record = _hash(item, config.hash_options)
    except MediaTooLarge as error:
        return ItemResult(item.unit, skip=Skip.TOO_LARGE, source=item.source, detail=error.reason)
    except MediaError as error:
        return ItemResult(
            item.unit, skip=Skip.DECODE_ERROR, source=item.source, detail=error.reason
        )
    except OSError as error:
        return ItemResult(
            item.unit, skip=Skip.UNREADABLE_SOURCE, source=item.source, detail=str(error)
        )
    return ItemResult(item.unit, findings=_match(item, record, banks))


def _skip(item: ScanItem, reason: Skip, detail: str) -> ItemResult:
    return ItemResult(item.unit, skip=reason, source=item.source, detail=detail)


def _match(item: ScanItem, record: HashRecord, banks: list[Any]) -> list[Any]:
    from hashwall.media.provenance import provenance as declared
    from hashwall.scan.findings import finding

    found = [(bank.name, match) for bank in banks for match in bank.matcher.match(record)]
    if not found:
        return []
    provenance = declared(_content(item))
    return [finding(item, record, name, match, provenance) for name, match in found]


def _hash(item: ScanItem, options: HashOptions) -> HashRecord:
    from hashwall.hashing.pipeline import hash_file

    if item.path is not None:
        return hash_file(Path(item.path), options)
    with tempfile.NamedTemporaryFile(prefix="hashwall-scan-") as spool:
        spool.write(item.payload or b"")
        spool.flush()
        return hash_file(Path(spool.name), options)


def _content(item: ScanItem) -> bytes:
    """The matched file's bytes, for its provenance (read again only for the few matches)."""
    if item.payload is not None:
        return item.payload
    try:
        return Path(item.path or "").read_bytes()
    except OSError:
        return b""
