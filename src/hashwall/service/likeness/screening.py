"""Screening an upload: intimate score first, faces only above the threshold, hits to review.

A hit becomes a match record of the likeness bank (``query_kind`` and ``signal_type``
``likeness``; ``distance`` = round((1 - similarity) x 1000); the scores, box, frame and
template id in ``details``) and goes through :func:`on_new_records`, the function the match API
uses, so the bank's review queue, webhooks and flood quarantine apply unchanged. The platform's
answer says "match for review" and gives record ids, never who or how similar.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
import uuid
from pathlib import Path

from fastapi import UploadFile
from sqlalchemy import select

from hashwall.service.actions.dispatch import on_new_records
from hashwall.service.actions.queries import signals_json
from hashwall.service.errors import ApiError, printable
from hashwall.service.likeness.enrolment import CONTENT_TYPE
from hashwall.service.likeness.runtime import MODEL_MODULES, LikenessRuntime
from hashwall.service.likeness.schemas import ScreenMatch, ScreenResponse
from hashwall.service.state import ServiceState
from hashwall.store import ChangeKind, MatchRecord
from hashwall.store.action_models import ReviewItem

_CHUNK = 1024 * 1024
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}$")


def _save(upload: UploadFile, max_bytes: int) -> tuple[Path, str]:
    """Copy the upload to a private temporary file (deleted by the caller); its SHA-256."""
    name = printable(upload.filename or "", 500) or "upload"
    match = _SUFFIX.search(name)
    handle, temp_name = tempfile.mkstemp(
        prefix="hashwall-screen-", suffix=match.group(0) if match else ""
    )
    path = Path(temp_name)
    digest = hashlib.sha256()
    written = 0
    try:
        with os.fdopen(handle, "wb") as sink:
            while chunk := upload.file.read(_CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise ApiError(
                        413, f"the file is larger than the {max_bytes}-byte limit", "file"
                    )
                digest.update(chunk)
                sink.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if written == 0:
        path.unlink(missing_ok=True)
        raise ApiError(422, "the file is empty", "file")
    return path, digest.hexdigest()


def check_rate(state: ServiceState, runtime: LikenessRuntime, key_id: int) -> None:
    """429 with Retry-After when ``key_id`` is over its screening limit (counted across all
    workers in the database, see :mod:`.ratelimit`)."""
    wait = runtime.limiter.check(state.db, key_id)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429,
            f"screening rate limit reached for this API key; retry in {seconds} s",
            "X-API-Key",
            {"Retry-After": str(seconds)},
        )


def screen_upload(
    state: ServiceState, runtime: LikenessRuntime, upload: UploadFile, key_id: int
) -> ScreenResponse:
    from hashwall.hashing import HashOptions, hash_file
    from hashwall.likeness.errors import LikenessError, ModelError
    from hashwall.likeness.screen import Screener
    from hashwall.media import MediaError

    runtime.require(MODEL_MODULES)
    check_rate(state, runtime, key_id)
    settings = state.settings
    path, sha256 = _save(upload, settings.max_upload_bytes)
    label = printable(upload.filename or "", 500) or "upload"
    try:
        bank = next(
            (b for b in state.index.banks.values() if b.name == settings.likeness_bank), None
        )
        cached = runtime.cache.current() if bank is not None and bank.enabled else []
        screener = Screener(
            [c.template for c in cached],
            classifier=runtime.classifier(),
            face_models=runtime.face_models,
            threshold=settings.likeness_threshold,
            intimate_threshold=settings.likeness_intimate_threshold,
        )
        try:
            kind, result = screener.screen_path(path)
        except MediaError as error:
            raise ApiError(422, f"cannot screen {label!r}: {error.reason}", "file") from None
        except ModelError as error:
            raise ApiError(503, f"likeness models unavailable: {error}", None) from None
        except LikenessError as error:
            raise ApiError(422, f"cannot screen {label!r}: {error}", "file") from None
        signals = "[]"
        if result.matches:  # hashes kept with the review item (false positive -> negative bank)
            try:
                signals = signals_json(hash_file(path, HashOptions()))
            except (MediaError, OSError, ValueError):
                signals = "[]"
    finally:
        path.unlink(missing_ok=True)
    request_id = str(uuid.uuid4())
    entries = {c.template.template_id: c.entry_id for c in cached}
    records = []
    for hit in result.matches:
        details: dict[str, object] = {
            "what": f"intimate content showing enrolled person {hit.template_id}",
            "template_id": hit.template_id,
            "intimate_score": round(result.intimate_score, 4),
            "similarity": round(hit.similarity, 4),
            "box": list(hit.box),
        }
        if hit.rotation:
            details["rotation"] = hit.rotation
        if hit.frame is not None:
            details["frame"] = hit.frame
            details["timestamp"] = hit.timestamp
        records.append(
            MatchRecord(
                request_id=request_id,
                api_key_id=key_id,
                query_kind=CONTENT_TYPE,
                query_label=label,
                bank_id=bank.id if bank is not None else 0,
                entry_id=entries[hit.template_id],
                signal_type=CONTENT_TYPE,
                distance=round((1 - hit.similarity) * 1000),
                query_variant=f"rotate{hit.rotation}" if hit.rotation else None,
                details=details,
                query_key=f"sha256:{sha256}",
            )
        )
    matches: list[ScreenMatch] = []
    if records:
        with state.db.session() as session:
            session.add_all(records)
            session.flush()
            quarantined = on_new_records(state, session, records, {r.id: signals for r in records})
            reviews = {
                row.match_record_id: row.id
                for row in session.execute(
                    select(ReviewItem.match_record_id, ReviewItem.id).where(
                        ReviewItem.match_record_id.in_([r.id for r in records])
                    )
                )
            }
            matches = [
                ScreenMatch(match_record_id=r.id, review_id=reviews.get(r.id)) for r in records
            ]
        for entry_id in quarantined:
            state.publish(ChangeKind.ENTRY, entry_id)
        state.actions_enqueued()
    return ScreenResponse(
        request_id=request_id,
        content_type=kind.value,
        frames_screened=result.frames_screened,
        intimate=result.intimate,
        match_for_review=bool(matches),
        matches=matches,
    )
