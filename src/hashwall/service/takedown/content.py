"""Turn what a request identifies into hash records: an uploaded copy, hashes, catalog items.

* an uploaded copy is hashed with the same pipeline as ``hashwall hash`` from a private
  temporary file that is deleted before this returns (no intimate media is kept);
* hashes the requester gives are used as they are (already checked by intake validation);
* catalog ids and URLs of catalog items use the hashes stored for those items.

A URL or catalog id that is not in the catalog is kept with the request for the reviewer,
not refused, and the requester's answer is the same either way: the intake is public, and an
answer that differed would tell anyone what the platform hosts (issue 14; docs/security.md).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashwall.cases.intake import FieldError, IntakeError, RemovalRequest
from hashwall.hashing import HashOptions, HashRecord, hash_file
from hashwall.hashing.record import record_from_signal_value
from hashwall.media import MediaError, MediaTooLarge
from hashwall.service.catalog_index import SignalTuple, record_from_catalog
from hashwall.service.errors import printable
from hashwall.service.public_uploads import public_hash_options
from hashwall.store.catalog_models import CatalogItem, CatalogSignal, CatalogState

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState


@dataclass(frozen=True)
class Identified:
    """One piece of content to add to the takedown bank, and where it came from."""

    record: HashRecord
    label: str
    source: str  # upload, hashes, catalog_id, url


def hash_upload_bytes(
    data: bytes, name: str | None, max_bytes: int, options: HashOptions | None = None
) -> HashRecord:
    """Hash an uploaded copy; a :class:`FieldError` on ``upload`` when it cannot be used.

    The intake is public: ``options`` carry the public decoding limits
    (:func:`~hashwall.service.public_uploads.public_hash_options`)."""
    label = printable(name or "", 200) or "upload"
    if not data:
        raise IntakeError([FieldError("upload", "the file is empty")])
    if len(data) > max_bytes:
        raise IntakeError([FieldError("upload", f"the file is larger than {max_bytes} bytes")])
    suffix = Path(label).suffix if len(Path(label).suffix) <= 9 else ""
    handle, temp_name = tempfile.mkstemp(prefix="hashwall-takedown-", suffix=suffix)
    path = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as sink:
            sink.write(data)
        record = hash_file(path, options or HashOptions())
    except MediaTooLarge as error:
        message = (
            f"{label!r} is too large to process here: {error.plain}. Send a smaller copy or a "
            "shorter clip (a screenshot will do), or give the address where it is posted"
        )
        raise IntakeError([FieldError("upload", message)]) from None
    except MediaError as error:
        raise IntakeError(
            [FieldError("upload", f"cannot hash {label!r}: {error.reason}")]
        ) from None
    except (OSError, ValueError) as error:
        raise IntakeError([FieldError("upload", f"cannot hash {label!r}: {error}")]) from None
    finally:
        path.unlink(missing_ok=True)
    return record


def _catalog_record(session: Session, item: CatalogItem) -> HashRecord:
    rows: list[SignalTuple] = [
        (row.signal_type, row.variant, row.value, row.quality)
        for row in session.scalars(
            select(CatalogSignal).where(CatalogSignal.item_id == item.id).order_by(CatalogSignal.id)
        )
    ]
    return record_from_catalog(item.content_type, rows)


def _catalog_items(session: Session, request: RemovalRequest) -> list[CatalogItem]:
    """The hosted items the request names; unknown ids and URLs are silently left to the
    reviewer (they stay in the stored request), so the answer does not reveal them."""
    found: dict[int, CatalogItem] = {}
    active = CatalogItem.state == CatalogState.ACTIVE
    for content_id in request.catalog_ids:
        item = session.scalars(
            select(CatalogItem).where(CatalogItem.content_id == content_id, active)
        ).first()
        if item is not None:
            found[item.id] = item
    for url in request.urls:
        item = session.scalars(select(CatalogItem).where(CatalogItem.url == url, active)).first()
        if item is not None:
            found[item.id] = item
    return list(found.values())


def identify(
    state: ServiceState,
    request: RemovalRequest,
    upload: bytes | None,
    upload_name: str | None,
) -> list[Identified]:
    """Every piece of content the request names, hashed; IntakeError for unusable input."""
    found: list[Identified] = []
    errors: list[FieldError] = []
    if upload is not None:
        try:
            settings = state.settings
            options = public_hash_options(settings)
            record = hash_upload_bytes(
                upload, upload_name, settings.public_max_upload_bytes, options
            )
            found.append(Identified(record, printable(upload_name or "upload", 200), "upload"))
        except IntakeError as error:
            errors.extend(error.errors)
    for index, item in enumerate(request.hashes):
        record = record_from_signal_value(item.signal_type, item.signal_value)
        found.append(Identified(record, f"hashes.{index}", "hashes"))
    with state.db.session() as session:
        for catalog_item in _catalog_items(session, request):
            record = _catalog_record(session, catalog_item)
            found.append(Identified(record, catalog_item.content_id[:200], "catalog"))
    if errors:
        raise IntakeError(errors)
    return found
