"""Fetch StopNCII.org's hash list into a bank, incrementally, with python-threatexchange's
StopNCII client (:class:`StopNCIIAPI`), credential format and checkpoint type.

StopNCII sends each hash as a full snapshot record: ``ImagePDQ`` (photos) or ``VideoMD5``
(videos), with an aggregate ``hashStatus``. ``Received``/``Active`` become (or stay) active
entries, ``Withdrawn`` withdraws and ``Deleted`` deletes the entry - both through change rows,
so the hash stops matching everywhere. A hash first seen withdrawn or deleted is skipped.
Other signal types (TMK, text, URL) and malformed records are counted as skipped.

pytx's own ``StopNCIISignalExchangeAPI.fetch_iter`` is not used for the mapping: it drops
``hashStatus`` (it compares ``hashValue`` with the status enum), so withdrawals would be lost.

Each page is applied in one transaction together with the checkpoint StopNCII hands out for
it (``nextSetTimestamp``), so an interrupted fetch resumes after the last committed page and a
re-run asks only for what changed since.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

from threatexchange.exchanges.clients.stopncii.api import (
    StopNCIIAPI,
    StopNCIICaseStatus,
    StopNCIIHashRecord,
    StopNCIISignalType,
)
from threatexchange.exchanges.impl.stop_ncii_api import StopNCIICheckpoint, StopNCIICredentials

from hashwall.media.sniff import ContentKind
from hashwall.service.errors import ApiError
from hashwall.service.exchange.apply import ApplyResult, RemoteItem, apply_items, source_row
from hashwall.service.exchange.feed import require_bank, upstream
from hashwall.service.exchange.keys import ExchangeSettings
from hashwall.service.hash_input import record_from_value
from hashwall.store import Database, EntryState

log = logging.getLogger("hashwall.service.exchange.stopncii")

ORIGIN = "stopncii"
STATES = {
    StopNCIICaseStatus.Received: EntryState.ACTIVE,
    StopNCIICaseStatus.Active: EntryState.ACTIVE,
    StopNCIICaseStatus.Withdrawn: EntryState.WITHDRAWN,
    StopNCIICaseStatus.Deleted: EntryState.DELETED,
}
SIGNALS = {
    StopNCIISignalType.ImagePDQ: ("pdq", ContentKind.PHOTO),
    StopNCIISignalType.VideoMD5: ("md5", ContentKind.VIDEO),
}


def client_from_env() -> StopNCIIAPI:
    """A client from ``HASHWALL_STOPNCII_KEYS`` (pytx's ``key,subscription[,base_url]``)."""
    keys = ExchangeSettings().stopncii_keys
    if not keys:
        raise ApiError(
            409,
            "StopNCII is not configured: set HASHWALL_STOPNCII_KEYS to "
            "'fetch_function_key,subscription_key'",
            "stopncii",
        )
    try:
        creds = StopNCIICredentials._from_str(keys)
    except ValueError:
        raise ApiError(409, "HASHWALL_STOPNCII_KEYS is malformed", "stopncii") from None
    return StopNCIIAPI(
        creds.subscription_key,
        creds.fetch_function_key,
        base_url_override=creds.base_url_override,
    )


def item_from_record(record: StopNCIIHashRecord) -> RemoteItem | None:
    """A StopNCII hash record as a bank item; ``None`` when hashwall cannot use it."""
    state = STATES.get(record.hashStatus)
    signal = SIGNALS.get(record.signalType)
    if state is None or signal is None:
        return None
    name, kind = signal
    try:
        hashed = record_from_value(name, record.hashValue, "hashValue")
    except ApiError:
        return None
    hashed = dataclasses.replace(hashed, content_type=kind)
    value = hashed.pdq.hash if hashed.pdq is not None else hashed.md5
    metadata: dict[str, Any] = {
        "stopncii": {
            "signal_type": record.signalType.value,
            "status": record.hashStatus.value,
            "last_modified": record.lastModtimestamp,
            "cases": {case: status.value for case, status in record.caseNumbers.items()},
            "feedback": [
                {"source": f.source, "value": f.feedbackValue.value, "tags": sorted(f.tags)}
                for f in record.CSPFeedbacks
            ],
        }
    }
    return RemoteItem(
        remote_id=f"{record.signalType.value}:{value}",
        state=state,
        record=hashed,
        source="stopncii",
        case_ref=",".join(sorted(record.caseNumbers))[:200],
        metadata=metadata,
    )


def checkpoint(db: Database, bank_id: int) -> StopNCIICheckpoint | None:
    with db.session() as session:
        data = source_row(session, bank_id, ORIGIN).checkpoint
    return StopNCIICheckpoint(**data) if data else None


def fetch_pages(db: Database, bank_id: int, client: StopNCIIAPI) -> Iterator[ApplyResult]:
    """Fetch everything changed since the stored checkpoint, one committed page at a time."""
    require_bank(db, bank_id)
    previous = checkpoint(db, bank_id)
    start = previous.update_time if previous else StopNCIIAPI.DEFAULT_START_TIME
    pages = client.fetch_hashes_iter(start_timestamp=start)
    for page in upstream(pages, "StopNCII", "stopncii"):
        items = [item_from_record(record) for record in page.hashRecords]
        usable = [item for item in items if item is not None]
        with db.session() as session:
            source = source_row(session, bank_id, ORIGIN)
            result = apply_items(session, bank_id, ORIGIN, usable, job_format="stopncii")
            result.skipped += len(items) - len(usable)
            source.checkpoint = dataclasses.asdict(StopNCIICheckpoint.from_stopncii_fetch(page))
            source.sequence += 1
        yield result
