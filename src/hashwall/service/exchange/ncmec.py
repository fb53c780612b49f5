"""Fetch NCMEC's hash sharing list into a bank, incrementally, with python-threatexchange's
NCMEC client (:class:`NCMECHashAPI`), its fetch strategy
(:meth:`NCMECSignalExchangeAPI.fetch_iter`), credential type and checkpoint type.

pytx's ``fetch_iter`` is used as it is because NCMEC's API needs it: entries come in no time
order, so only an exhausted time window is a safe checkpoint, and generating a cursor over a
huge window is slow, so it probes and shrinks windows before paging through one. Every page it
yields carries an :class:`NCMECCheckpoint` (the window start plus NCMEC's paging URL, or the
window end once exhausted); hashwall applies the page and stores that checkpoint in one
transaction, so an interrupted fetch resumes mid-window and a re-run asks only from the end of
the last completed window.

Entries map one to one: an ``image`` becomes a photo entry, a ``video`` a video entry, with
their ``pdq`` and ``md5`` fingerprints (checked by pytx's signal classes and by hashwall's); a
``deletedImage``/``deletedVideo`` tombstone deletes the entry (final, hashes erased). Other
fingerprints (``sha1``, PhotoDNA, NetClean, ...) are counted in ``ignored_signals``; an entry
left with no usable fingerprint is counted as skipped.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from threatexchange.exchanges.clients.ncmec.hash_api import (
    GetEntriesResponse,
    NCMECEndpoint,
    NCMECEntryType,
    NCMECEntryUpdate,
    NCMECEnvironment,
    NCMECHashAPI,
    _XMLWrapper,
)
from threatexchange.exchanges.impl.ncmec_api import (
    NCMECCheckpoint,
    NCMECCollabConfig,
    NCMECCredentials,
    NCMECSignalExchangeAPI,
    _NCMECPagingInfo,
)
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.signal_base import SignalType

from hashwall.media.sniff import ContentKind
from hashwall.service.errors import ApiError
from hashwall.service.exchange.apply import RemoteItem, apply_items, source_row
from hashwall.service.exchange.feed import FetchedPage, require_bank, upstream
from hashwall.service.exchange.keys import ExchangeSettings
from hashwall.service.hash_input import record_from_value
from hashwall.service.records import record_from_signals
from hashwall.store import Database, EntryState

SOURCE = "ncmec"
#: NCMEC fingerprint name -> (hashwall signal, pytx signal class that validates it).
SIGNALS: dict[str, tuple[str, type[SignalType]]] = {
    "pdq": ("pdq", PdqSignal),
    "md5": ("md5", VideoMD5Signal),
}
KINDS = {NCMECEntryType.image: ContentKind.PHOTO, NCMECEntryType.video: ContentKind.VIDEO}
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclasses.dataclass(frozen=True)
class NCMECConfig:
    credentials: NCMECCredentials = dataclasses.field(repr=False)
    #: pytx's environment name, or the base URL when it was overridden.
    environment: str
    base_url: str

    @property
    def origin(self) -> str:
        """Entry ids are per environment, so each environment has its own links/checkpoint."""
        return f"{SOURCE}:{self.environment}"[:100]


def _environment(text: str) -> tuple[str, str] | None:
    """``(name, base URL)`` for a pytx environment name or a URL; ``None`` for anything else."""
    if text in NCMECEnvironment.__members__:
        return text, NCMECEnvironment[text].value
    if text.startswith(("https://", "http://")):
        return text.rstrip("/"), text.rstrip("/")
    return None


def config_from_env() -> NCMECConfig:
    """``HASHWALL_NCMEC_CREDENTIALS=user,password[,environment or base URL]`` (409 if unset).

    pytx's own format is ``user:password``; a comma list matches hashwall's StopNCII setting
    and leaves room for the environment. The password may itself contain commas: the last
    part is taken as the environment only when it names one.
    """
    raw = ExchangeSettings().ncmec_credentials.strip()
    if not raw:
        raise ApiError(
            409,
            "NCMEC is not configured: set HASHWALL_NCMEC_CREDENTIALS to 'user,password' "
            "(optionally ',Environment' such as ',NGO', or ',https://base-url')",
            SOURCE,
        )
    user, _, password = raw.partition(",")
    head, _, tail = password.rpartition(",")
    found = _environment(tail.strip()) if head else None
    if found is not None:
        password = head
    name, base_url = found or ("Industry", NCMECEnvironment.Industry.value)
    credentials = NCMECCredentials(user.strip(), password.strip())
    if not credentials._are_valid():
        raise ApiError(409, "HASHWALL_NCMEC_CREDENTIALS needs a user and a password", SOURCE)
    return NCMECConfig(credentials, name, base_url)


def _utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime(_DATE_FORMAT)


class _HashAPI(NCMECHashAPI):
    """pytx's client at ``base_url``, asking for its time windows in UTC.

    pytx 1.2.17 takes an environment enum only; the base URL is set after construction (its
    session mounts the retrying adapter on ``_base_url``, so retries apply there too, and
    ``next`` paging URLs are appended to it). Its ``get_entries`` formats ``from``/``to`` with
    ``datetime.fromtimestamp``: local time labelled ``Z``. On a host east of UTC the window end
    then lies in the future and entries added before the next run would be skipped for good,
    so this override sends the same request with UTC dates and parses it with pytx's parser.
    """

    def __init__(self, config: NCMECConfig) -> None:
        creds = config.credentials
        super().__init__(creds.user, creds.password, NCMECEnvironment.Industry)
        self._base_url = config.base_url

    def get_entries(
        self, *, start_timestamp: int = 0, end_timestamp: int = 0, next_: str = ""
    ) -> GetEntriesResponse:
        end_timestamp = end_timestamp or int(time.time())
        window = {"from": _utc(start_timestamp), "to": _utc(end_timestamp)}
        response = self._get(NCMECEndpoint.entries, next_=next_, **window)
        return GetEntriesResponse.from_xml(_XMLWrapper(response), int(time.time()))


class _Exchange(NCMECSignalExchangeAPI):
    """pytx's NCMEC fetch strategy, with :class:`_HashAPI` as its client."""

    def __init__(self, config: NCMECConfig) -> None:
        collab = NCMECCollabConfig(name="hashwall", environment=NCMECEnvironment.Industry)
        creds = config.credentials
        super().__init__(collab, creds.user, creds.password)
        self._config = config

    def get_client(self, environment: NCMECEnvironment) -> NCMECHashAPI:
        return _HashAPI(self._config)


def _fingerprints(update: NCMECEntryUpdate, ignored: Counter[str]) -> list[tuple[str, str, int]]:
    """Usable ``(signal, value, quality)`` of an entry; the rest counted in ``ignored``."""
    usable = []
    for name, raw in sorted(update.fingerprints.items()):
        key = name.lower()
        if key not in SIGNALS:
            ignored[key] += 1
            continue
        ours, cls = SIGNALS[key]
        try:
            value = cls.validate_signal_str(raw.strip()).lower()
            hashed = record_from_value(ours, value, "fingerprint")
        except Exception:  # pytx raises ValueError or its own; hashwall raises ApiError
            ignored[f"{key} (invalid)"] += 1
            continue
        quality = hashed.pdq.quality if hashed.pdq is not None else 0
        usable.append((ours, value, quality))
    return usable


def _metadata(update: NCMECEntryUpdate) -> dict[str, Any]:
    votes: dict[str, Counter[str]] = {}
    for fingerprint, feedback in update.feedback.items():
        votes[fingerprint] = Counter(f.feedback_type.value for f in feedback)
    return {
        "ncmec": {
            "entry_id": update.id,
            "member_id": update.member_id,
            "entry_type": update.entry_type.value,
            "classification": update.classification,
            "feedback": {name: dict(sorted(count.items())) for name, count in votes.items()},
        }
    }


def item_from_update(update: NCMECEntryUpdate, ignored: Counter[str]) -> RemoteItem | None:
    """An NCMEC entry as a bank item; ``None`` when it has no fingerprint hashwall uses."""
    remote_id = f"{update.member_id}-{update.id}"[:200]  # pytx's key for an entry
    if update.deleted:
        return RemoteItem(remote_id, EntryState.DELETED, None, source=SOURCE)
    usable = _fingerprints(update, ignored)
    if not usable:
        return None
    kind = KINDS[update.entry_type]
    rows = [(ours, "original", value, quality or None) for ours, value, quality in usable]
    return RemoteItem(
        remote_id=remote_id,
        state=EntryState.ACTIVE,
        record=record_from_signals(str(kind), rows),
        source=SOURCE,
        case_ref=update.id[:200],
        metadata=_metadata(update),
    )


def _load(data: dict[str, Any]) -> NCMECCheckpoint | None:
    if not data:
        return None
    paging = data.get("paging_info")
    return NCMECCheckpoint(
        get_entries_max_ts=int(data["get_entries_max_ts"]),
        paging_info=_NCMECPagingInfo(**paging) if paging else None,
    )


def checkpoint(db: Database, bank_id: int, config: NCMECConfig) -> NCMECCheckpoint | None:
    with db.session() as session:
        return _load(source_row(session, bank_id, config.origin).checkpoint)


def _settle(mark: NCMECCheckpoint | None) -> None:
    """pytx asserts that a window resumed mid-page ended before the new run's end (now - 5 s);
    a retry in the same second as the failure of the last window waits for the next second."""
    while mark and mark.paging_info and mark.paging_info.paging_end_ts >= int(time.time()) - 5:
        time.sleep(0.05)


def fetch_pages(db: Database, bank_id: int, config: NCMECConfig) -> Iterator[FetchedPage]:
    """Fetch everything changed since the stored checkpoint, one committed page at a time."""
    require_bank(db, bank_id)
    mark = checkpoint(db, bank_id, config)
    _settle(mark)
    deltas = _Exchange(config).fetch_iter([], mark)
    for delta in upstream(deltas, "NCMEC", SOURCE):
        ignored: Counter[str] = Counter()
        updates = [u for u in delta.updates.values() if u is not None]
        items = [item_from_update(update, ignored) for update in updates]
        usable = [item for item in items if item is not None]
        with db.session() as session:
            source = source_row(session, bank_id, config.origin)
            result = apply_items(session, bank_id, config.origin, usable, job_format=SOURCE)
            result.skipped += len(items) - len(usable)
            if delta.checkpoint is not None:
                source.checkpoint = dataclasses.asdict(delta.checkpoint)
            source.sequence += 1
        yield FetchedPage(result, ignored)
