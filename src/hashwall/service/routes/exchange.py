"""Exchange endpoints: export and import a bank as a signed hashwall bundle or as
python-threatexchange files, and fetch StopNCII's, NCMEC's or a ThreatExchange privacy group's
hashes into it (curators and admins).

Export is a POST: a bundle export takes the next sequence number of the bank's origin.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from hashwall.service.auth import Permission, Principal, require
from hashwall.service.errors import ApiError
from hashwall.service.exchange import bundle as bundles
from hashwall.service.exchange import pytx_files
from hashwall.service.exchange.apply import ApplyResult
from hashwall.service.exchange.feed import FetchedPage, FetchTotals, check_egress
from hashwall.service.exchange.keys import bundle_key
from hashwall.service.exchange.live import publish
from hashwall.service.routes.common import Id, load_or_404
from hashwall.service.state import ServiceState, get_state
from hashwall.store import Bank

router = APIRouter(tags=["exchange"])
State = Annotated[ServiceState, Depends(get_state)]
Curator = Annotated[Principal, require(Permission.BANKS_WRITE)]
ExportFormat = Literal["bundle", "pytx", "pytx-csv"]


class ExchangeResult(BaseModel):
    status: str
    created: int
    updated: int
    unchanged: int
    skipped: int
    import_job_id: int | None
    details: dict[str, Any] = {}


def result_out(result: ApplyResult, **details: Any) -> ExchangeResult:
    return ExchangeResult(**result.as_json(), details=details)


_MEDIA = {
    "bundle": "application/x-ndjson",
    "pytx": "text/plain; charset=utf-8",
    "pytx-csv": "text/csv; charset=utf-8",
}
_SUFFIX = {"bundle": "hwx.jsonl", "pytx": "txt", "pytx-csv": "csv"}


@router.post(
    "/v1/banks/{bank_id}/exchange/export",
    response_class=Response,
    responses={200: {"content": {media: {} for media in _MEDIA.values()}}},
)
def export_bank(
    bank_id: Id,
    state: State,
    _: Curator,
    format: Annotated[ExportFormat, Query()] = "bundle",
) -> Response:
    """Download the bank: a signed bundle (all entries with states) or pytx files (active)."""
    with state.db.session() as session:
        bank = load_or_404(session, Bank, bank_id, "bank")
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in bank.name)[:80]
    with tempfile.TemporaryFile() as spool:
        headers = {"Content-Disposition": f'attachment; filename="{name}.{_SUFFIX[format]}"'}
        if format == "bundle":
            info = bundles.export_bundle(state.db, bank_id, bundle_key(), spool)
            headers["X-Hashwall-Sequence"] = str(info.sequence)
        else:
            with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as text:
                counts = pytx_files.export_pytx(state.db, bank_id, format, text)
                text.seek(0)
                spool.write(text.read().encode("utf-8"))
            headers["X-Hashwall-Skipped-Signals"] = str(counts.skipped_vpdq)
        spool.seek(0)
        body = spool.read()
    return Response(body, media_type=_MEDIA[format], headers=headers)


def _spool(upload: UploadFile, limit: int, directory: Path) -> Path:
    if upload.size is not None and upload.size > limit:
        raise ApiError(413, f"the file is larger than {limit} bytes", "file")
    path = directory / "upload"
    upload.file.seek(0)
    with path.open("wb") as handle:
        shutil.copyfileobj(upload.file, handle)
    return path


@router.post("/v1/banks/{bank_id}/exchange/import", response_model=ExchangeResult)
def import_bank(
    bank_id: Id,
    state: State,
    _: Curator,
    file: Annotated[UploadFile, File(description="A hashwall bundle or a pytx file.")],
    format: Annotated[Literal["auto", "bundle", "pytx", "pytx-csv"], Form()] = "auto",
) -> ExchangeResult:
    """Import all or nothing; a bundle must verify and be newer than the last one applied."""
    with state.db.session() as session:
        load_or_404(session, Bank, bank_id, "bank")
    with tempfile.TemporaryDirectory() as directory:
        path = _spool(file, state.settings.max_upload_bytes, Path(directory))
        kind = format if format != "auto" else _detect(path)
        try:
            if kind == "bundle":
                parsed = bundles.read_bundle(path, bundle_key())
                result = bundles.apply_bundle(state.db, bank_id, parsed)
                details: dict[str, Any] = {"origin": parsed.origin, "sequence": parsed.sequence}
            else:
                result = pytx_files.import_pytx(state.db, bank_id, path, kind)
                details = {"format": kind}
        except IntegrityError:
            raise ApiError(409, "a concurrent import into this bank won; retry", "file") from None
    publish(state, result)
    return result_out(result, **details)


def _detect(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(64)
    if head.lstrip().startswith(b"{"):
        return "bundle"
    return pytx_files.detect(path)


@router.post("/v1/banks/{bank_id}/exchange/stopncii/fetch", response_model=ExchangeResult)
def fetch_stopncii(bank_id: Id, state: State, _: Curator) -> ExchangeResult:
    """Fetch what changed on StopNCII.org since this bank's checkpoint (HASHWALL_STOPNCII_KEYS).

    Each page commits with its checkpoint and stops matching withdrawn/deleted hashes here at
    once; a failed request answers 502 and the next call resumes after the last page kept.
    """
    from hashwall.service.exchange import stopncii

    client = stopncii.client_from_env()
    check_egress(state.settings, client._base_url, "StopNCII")
    total, pages = ApplyResult(), 0
    try:
        for result in stopncii.fetch_pages(state.db, bank_id, client):
            publish(state, result)
            total.merge(result)
            pages += 1
    except IntegrityError:
        message = "a concurrent StopNCII fetch into this bank won; retry"
        raise ApiError(409, message, "bank_id") from None
    mark = stopncii.checkpoint(state.db, bank_id)
    update_time = mark.update_time if mark else None
    return result_out(total, pages=pages, checkpoint=update_time)


def _pull(state: ServiceState, pages: Iterator[FetchedPage], source: str) -> FetchTotals:
    """Apply each committed page in this worker at once, as the StopNCII fetch does."""
    totals = FetchTotals()
    try:
        for page in pages:
            publish(state, page.result)
            totals.add(page)
    except IntegrityError:
        message = f"a concurrent {source} fetch into this bank won; retry"
        raise ApiError(409, message, "bank_id") from None
    return totals


@router.post("/v1/banks/{bank_id}/exchange/ncmec/fetch", response_model=ExchangeResult)
def fetch_ncmec(bank_id: Id, state: State, _: Curator) -> ExchangeResult:
    """Fetch what changed in NCMEC's hash sharing since this bank's checkpoint
    (HASHWALL_NCMEC_CREDENTIALS).

    Each page commits with pytx's NCMEC checkpoint; deleted entries stop matching here at once.
    A failed request answers 502 and the next call resumes after the last page kept.
    """
    from hashwall.service.exchange import ncmec

    config = ncmec.config_from_env()
    check_egress(state.settings, config.base_url, "NCMEC")
    totals = _pull(state, ncmec.fetch_pages(state.db, bank_id, config), "NCMEC")
    mark = ncmec.checkpoint(state.db, bank_id, config)
    return result_out(
        totals.result,
        **totals.details(),
        environment=config.environment,
        checkpoint=mark.get_entries_max_ts if mark else None,
        mid_window=bool(mark and mark.paging_info),
    )


@router.post("/v1/banks/{bank_id}/exchange/threatexchange/fetch", response_model=ExchangeResult)
def fetch_threatexchange(
    bank_id: Id,
    state: State,
    _: Curator,
    privacy_group: Annotated[
        int | None, Query(gt=0, description="Default: HASHWALL_THREATEXCHANGE_PRIVACY_GROUP.")
    ] = None,
) -> ExchangeResult:
    """Fetch a ThreatExchange privacy group's changes since this bank's checkpoint for it
    (HASHWALL_THREATEXCHANGE_TOKEN).

    Each page commits with its checkpoint; deletions withdraw entries here at once. A failed
    request answers 502 and the next call resumes after the last page kept.
    """
    from hashwall.service.exchange import threatexchange_graph as graph

    config = graph.config_from_env(privacy_group)
    check_egress(state.settings, config.client()._base_url, "ThreatExchange")
    totals = _pull(state, graph.fetch_pages(state.db, bank_id, config), "ThreatExchange")
    mark = graph.checkpoint(state.db, bank_id, config)
    return result_out(
        totals.result,
        **totals.details(),
        privacy_group=config.privacy_group,
        checkpoint=mark.update_time if mark else None,
    )
