"""Fetch a ThreatExchange (Meta Graph API) privacy group into a bank, incrementally, with
python-threatexchange's :class:`ThreatExchangeAPI` client (its ``/threat_updates`` cursor and
:class:`ThreatUpdateJSON` records), its opinion parsing
(:meth:`FBThreatExchangeIndicatorRecord.from_threatexchange_json`) and its checkpoint type
(:class:`FBThreatExchangeCheckpoint`).

``/threat_updates`` is a change stream ordered by ``last_updated``. Each page is applied in one
transaction with a checkpoint holding the newest ``last_updated`` seen, so an interrupted fetch
resumes after the last committed page and a re-run asks only for what changed since
(``start_time``). ThreatExchange keeps tombstones for 90 days; a checkpoint older than pytx's
85-day limit is stale and the fetch starts over from the beginning.

pytx's ``FBThreatExchangeSignalExchangeAPI.fetch_iter`` is not used: in 1.2.17 it asserts on an
empty page, lets one record without ``last_updated`` abort its whole page, and asks for the
descriptor fields without ``id``, which its own opinion parser reads. The loop here is the same
cursor walk with those cases handled: a malformed record is skipped and counted.

Indicators map as pytx's signal types declare them: ``HASH_PDQ`` → a photo's PDQ,
``HASH_VIDEO_MD5``/``HASH_VIDEO_SHA256`` → a video's digest, ``HASH_MD5``/``HASH_SHA256`` → a
video's digest when tagged ``media_type_video``, a photo's otherwise. A ``should_delete``
tombstone (or an indicator whose descriptors are no longer visible) withdraws the entry, and so
does one every owner marks ``NON_MALICIOUS``: withdrawn rather than deleted because
ThreatExchange can share the same indicator again, and a later update then reactivates it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from typing import Any

from threatexchange.exchanges.clients.fb_threatexchange.api import (
    ThreatExchangeAPI,
    is_valid_app_token,
)
from threatexchange.exchanges.clients.fb_threatexchange.threat_updates import ThreatUpdateJSON
from threatexchange.exchanges.fetch_state import SignalOpinionCategory
from threatexchange.exchanges.impl.fb_threatexchange_api import (
    FBThreatExchangeCheckpoint,
    FBThreatExchangeIndicatorRecord,
)
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.sha256 import VideoSHA256Signal
from threatexchange.signal_type.signal_base import SignalType

from hashwall.media.sniff import ContentKind
from hashwall.service.errors import ApiError
from hashwall.service.exchange.apply import RemoteItem, apply_items, source_row
from hashwall.service.exchange.feed import FetchedPage, require_bank, upstream
from hashwall.service.exchange.keys import ExchangeSettings
from hashwall.service.hash_input import record_from_value
from hashwall.store import Database, EntryState

SOURCE = "threatexchange"
PAGE_SIZE = 500
VIDEO_TAG = "media_type_video"
#: Indicator type -> (hashwall signal, pytx class that validates it, content kind; ``None``:
#: decided by the ``media_type_video`` tag, as pytx's ``INDICATOR_TYPE`` declarations say).
TYPES: dict[str, tuple[str, type[SignalType], ContentKind | None]] = {
    "HASH_PDQ": ("pdq", PdqSignal, ContentKind.PHOTO),
    "HASH_VIDEO_MD5": ("md5", VideoMD5Signal, ContentKind.VIDEO),
    "HASH_MD5": ("md5", VideoMD5Signal, None),
    "HASH_VIDEO_SHA256": ("sha256", VideoSHA256Signal, ContentKind.VIDEO),
    "HASH_SHA256": ("sha256", VideoSHA256Signal, None),
}
#: What a record that does not have the shape ``/threat_updates`` documents raises here.
MALFORMED = (KeyError, TypeError, ValueError, AttributeError)


@dataclasses.dataclass(frozen=True)
class ThreatExchangeConfig:
    token: str = dataclasses.field(repr=False)
    privacy_group: int
    #: pytx's ``endpoint_override``; ``None`` for its default Graph API version.
    base_url: str | None = None

    @property
    def origin(self) -> str:
        """Each privacy group has its own links and checkpoint, so one bank can hold several."""
        return f"{SOURCE}:{self.privacy_group}"

    def client(self) -> ThreatExchangeAPI:
        return ThreatExchangeAPI(self.token, endpoint_override=self.base_url)


def _not_configured(detail: str) -> ApiError:
    return ApiError(
        409,
        f"ThreatExchange is not configured: {detail} "
        "(HASHWALL_THREATEXCHANGE_TOKEN='app_id|secret', "
        "HASHWALL_THREATEXCHANGE_PRIVACY_GROUP=<id>)",
        SOURCE,
    )


def config_from_env(privacy_group: int | None = None) -> ThreatExchangeConfig:
    """The token and URL from the environment; the group from the caller or the environment."""
    settings = ExchangeSettings()
    token = settings.threatexchange_token.strip()
    if not token:
        raise _not_configured("no app token")
    if not is_valid_app_token(token):
        raise _not_configured("the app token is not of the form app_id|secret")
    if privacy_group is None:
        text = settings.threatexchange_privacy_group.strip()
        if not text.isdigit() or int(text) <= 0:
            raise _not_configured("no privacy group id (a positive number) set or given")
        privacy_group = int(text)
    url = settings.threatexchange_url.strip().rstrip("/")
    if url and not url.startswith(("https://", "http://")):
        raise _not_configured("HASHWALL_THREATEXCHANGE_URL is not an http(s) URL")
    return ThreatExchangeConfig(token, privacy_group, url or None)


def _opinions(record: FBThreatExchangeIndicatorRecord) -> list[dict[str, Any]]:
    return [
        {
            "app_id": opinion.owner_app_id,
            "descriptor_id": opinion.descriptor_id,
            "category": opinion.category.name,
            "tags": sorted(opinion.tags),
        }
        for opinion in record.opinions
    ]


def _matchable(
    update: ThreatUpdateJSON, record: FBThreatExchangeIndicatorRecord, ignored: Counter[str]
) -> RemoteItem | None:
    """The item for a visible indicator; ``None`` (counted) when its value is invalid."""
    ours, cls, kind = TYPES[update.threat_type]
    try:
        value = cls.validate_signal_str(update.indicator.strip()).lower()
        hashed = record_from_value(ours, value, "indicator")
    except Exception:  # pytx raises ValueError or its own; hashwall raises ApiError
        ignored[f"{update.threat_type} (invalid)"] += 1
        return None
    tags = {tag for opinion in record.opinions for tag in opinion.tags}
    kind = kind or (ContentKind.VIDEO if VIDEO_TAG in tags else ContentKind.PHOTO)
    negative = all(o.category is SignalOpinionCategory.NEGATIVE_CLASS for o in record.opinions)
    return RemoteItem(
        remote_id=_remote_id(update),
        state=EntryState.WITHDRAWN if negative else EntryState.ACTIVE,
        record=dataclasses.replace(hashed, content_type=kind),
        source=SOURCE,
        metadata={
            "threatexchange": {
                "id": str(update.raw_json.get("id", "")),
                "type": update.threat_type,
                "last_updated": update.time,
                "opinions": _opinions(record),
            }
        },
    )


def _remote_id(update: ThreatUpdateJSON) -> str:
    """pytx's key for an indicator, (type, indicator), with the hash in lower case."""
    return f"{update.threat_type}:{update.indicator.strip().lower()}"[:200]


def item_from_update(
    update: ThreatUpdateJSON, app_id: int, ignored: Counter[str]
) -> RemoteItem | None:
    """A ``/threat_updates`` record as a bank item; ``None`` when hashwall cannot use it.

    Raises one of :data:`MALFORMED` for a record without the documented fields."""
    if update.threat_type not in TYPES:
        ignored[str(update.threat_type)] += 1
        return None
    if update.should_delete:
        return RemoteItem(_remote_id(update), EntryState.WITHDRAWN, None, source=SOURCE)
    record = FBThreatExchangeIndicatorRecord.from_threatexchange_json(app_id, update)
    if record is None:  # no descriptor visible to this app any more: pytx drops it too
        return RemoteItem(_remote_id(update), EntryState.WITHDRAWN, None, source=SOURCE)
    return _matchable(update, record, ignored)


def checkpoint(
    db: Database, bank_id: int, config: ThreatExchangeConfig
) -> FBThreatExchangeCheckpoint | None:
    with db.session() as session:
        data = source_row(session, bank_id, config.origin).checkpoint
    return FBThreatExchangeCheckpoint(**data) if data else None


def _page_items(
    batch: list[ThreatUpdateJSON], app_id: int, ignored: Counter[str]
) -> tuple[list[RemoteItem], int, int]:
    """``(items, records not used, newest last_updated)`` of one page."""
    items: list[RemoteItem] = []
    unused, newest = 0, 0
    for update in batch:
        try:
            item = item_from_update(update, app_id, ignored)
            newest = max(newest, update.time)
        except MALFORMED:
            item = None
        if item is None:
            unused += 1
        else:
            items.append(item)
    return items, unused, newest


def _save(db: Database, bank_id: int, origin: str, mark: FBThreatExchangeCheckpoint) -> None:
    with db.session() as session:
        source_row(session, bank_id, origin).checkpoint = dataclasses.asdict(mark)


def fetch_pages(db: Database, bank_id: int, config: ThreatExchangeConfig) -> Iterator[FetchedPage]:
    """Fetch the group's updates since the stored checkpoint, one committed page at a time."""
    require_bank(db, bank_id)
    previous = checkpoint(db, bank_id, config)
    start = previous.update_time if previous is not None and not previous.is_stale() else None
    client = config.client()
    cursor = client.get_threat_updates(
        config.privacy_group,
        start_time=start,
        page_size=PAGE_SIZE,
        types=sorted(TYPES),
        fields=FBThreatExchangeIndicatorRecord.te_threat_updates_fields(),
        decode_fn=ThreatUpdateJSON,
    )
    newest = start or 0
    for batch in upstream(iter(cursor), "ThreatExchange", SOURCE):
        ignored: Counter[str] = Counter()
        items, unused, page_newest = _page_items(batch, int(client.app_id), ignored)
        newest = max(newest, page_newest)
        with db.session() as session:
            source = source_row(session, bank_id, config.origin)
            result = apply_items(session, bank_id, config.origin, items, job_format=SOURCE)
            result.skipped += unused
            source.checkpoint = dataclasses.asdict(FBThreatExchangeCheckpoint(newest))
            source.sequence += 1
        yield FetchedPage(result, ignored)
    # A quiet group is still being tailed: renew last_fetch_time so it does not go stale.
    _save(db, bank_id, config.origin, FBThreatExchangeCheckpoint(newest))
