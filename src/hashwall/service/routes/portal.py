"""The survivor portal: public pages under ``/portal`` and the API under ``/v1/portal``.

No account and no API key: a person submits the *hashes* of their pictures (made in their
browser), gets a case number and a PIN once, and later checks the status of the case or
withdraws it. Entries go into the configured portal bank through the same entry and change-log
path as every other entry, so they match at once and stop matching before a withdrawal returns.
docs/portal.md describes the privacy properties; nothing secret (PIN, hashes, case number,
client address) is logged.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError
from sqlalchemy import Row, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hashwall.hashing.record import HashRecord, RecordFormatError, record_from_json
from hashwall.nesting import TooDeep, loads_json
from hashwall.service.auth import Permission, Principal, require
from hashwall.service.body_rules import accepts
from hashwall.service.client_address import client_key
from hashwall.service.errors import ApiError, printable
from hashwall.service.portal import (
    Lock,
    Rule,
    Throttles,
    dummy_pin_hash,
    hash_pin,
    new_case_number,
    new_pin,
    normalize_case_number,
    normalize_pin,
    verify_pin,
)
from hashwall.service.public_entries import hold_for_review, holds_new_entries
from hashwall.service.routes.entries import new_entry
from hashwall.service.settings import Settings
from hashwall.service.state import ServiceState, get_state
from hashwall.service.system_banks import SystemBankError, ensure_bank
from hashwall.signals.base import InvalidSignalValue
from hashwall.store import Bank, Change, ChangeKind, Entry, EntryState, MatchRecord
from hashwall.store.portal_models import (
    CaseState,
    PortalCase,
    PortalCaseEntry,
    PortalRemoval,
)
from hashwall.store.retention_models import NO_KEY, MatchRollup

log = logging.getLogger("hashwall.service.portal")
M = TypeVar("M", bound=BaseModel)

router = APIRouter(tags=["portal"])
State = Annotated[ServiceState, Depends(get_state)]

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"
#: ``banks.entry_source`` of the portal bank: anyone may open a case, without an account.
PORTAL_SOURCE = "portal"
TAKE_IT_DOWN = "https://takeitdown.ncmec.org"
REPORT_REMOVE = (
    "https://www.childline.org.uk/info-advice/bullying-abuse-safety/online-mobile-safety/"
    "remove-nude-image-shared-online/"
)
CSP = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'self'; "
    "img-src 'self' blob:; media-src blob:; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
_NO_STORE = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
#: Files the portal serves from ``hashwall/web/static`` (nothing else there is reachable).
ASSETS = frozenset(
    {
        "portal.css",
        "portal.js",
        "portal-status.js",
        "portal-common.js",
        "hashwall-hash.js",
        "hashwall-hash-worker.js",
    }
)


# ---------------------------------------------------------------------- pages


def _static(name: str, extra: dict[str, str] | None = None) -> Response:
    path = STATIC / name
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache", **(extra or {})}
    return Response(path.read_bytes(), media_type=_CONTENT_TYPES[path.suffix], headers=headers)


@router.get("/portal", include_in_schema=False)
def portal_page() -> Response:
    return _static("portal.html")


@router.get("/portal/status", include_in_schema=False)
def portal_status_page() -> Response:
    return _static("portal-status.html")


@router.get("/portal/sw.js", include_in_schema=False)
def portal_service_worker() -> Response:
    # The worker sits under /portal/ but controls /portal itself (the page has no slash).
    return _static("portal-sw.js", {"Service-Worker-Allowed": "/portal"})


@router.get("/portal/static/{name}", include_in_schema=False)
def portal_asset(name: str) -> Response:
    if name not in ASSETS:
        raise ApiError(404, "no such portal file", "name")
    return _static(name)


# ---------------------------------------------------------------------- request bodies


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseCreate(_Body):
    """A submission: the hash records made in the browser and the eligibility answers."""

    records: list[dict[str, Any]] = Field(
        min_length=1,
        description="`hashwall hash` records (one per picture or video); `path` is ignored "
        "unless `include_names` is true.",
    )
    adult: StrictBool = Field(description="The person was 18 or older when it was taken.")
    depicted: StrictBool = Field(description="The person submitting is in the picture.")
    intimate: StrictBool = Field(description="The picture is intimate (nude, semi-nude, sexual).")
    consent: StrictBool = Field(description="Consent to add these hashes to the bank.")
    include_names: StrictBool = Field(
        default=False, description="Keep the file names as entry labels (off by default)."
    )


class CaseCredentials(_Body):
    case_number: str = Field(max_length=64, examples=["HW-7KQ3-M9TB"])
    pin: str = Field(max_length=64, examples=["4FJX-8WQP"])


class RemovalReport(_Body):
    request_id: str = Field(min_length=1, max_length=36)
    entry_id: int = Field(ge=1, le=2**63 - 1)


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


async def _read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length", "")
    too_big = f"the request body is larger than the {limit}-byte limit"
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, too_big, "body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, too_big, "body")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise ApiError(422, "the body is empty: send a JSON object", "body")
    try:
        return loads_json(raw, request.app.state.hashwall.settings.max_json_depth)
    except TooDeep as error:
        raise ApiError(422, str(error), "body") from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "the body is not valid JSON", "body") from None


def _validated(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = [
            {**problem, "loc": ("body", *problem.get("loc", ()))} for problem in error.errors()
        ]
        raise RequestValidationError(problems) from None


def _client(request: Request) -> str:
    return client_key(request)  # IPv6: the /64


def _json(payload: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status, headers=_NO_STORE)


# ---------------------------------------------------------------------- throttling


def _throttles(state: ServiceState) -> Throttles:
    return Throttles(state.db, state.settings.secret_key)


@dataclass(frozen=True)
class PinRules:
    """The three PIN throttles (docs/security.md, "PINs"): per address over all cases, per
    case over all addresses (a budget that slows, never locks), and per case and address."""

    by_ip: Rule
    by_case: Rule
    settings: Settings

    def by_case_and_ip(self, slowed: bool) -> Rule:
        s = self.settings
        limit = s.portal_slowed_pins_per_address if slowed else s.portal_max_failed_pins
        return Rule("pin-case-ip", limit, s.portal_lockout_seconds, s.portal_lockout_seconds)


def _pin_rules(state: ServiceState) -> PinRules:
    s = state.settings
    by_ip = Rule("pin-ip", s.portal_ip_max_failed_pins, s.portal_ip_window_seconds,
                 s.portal_ip_window_seconds)  # fmt: skip
    by_case = Rule("pin-case", s.portal_case_max_failed_pins, s.portal_case_window_seconds,
                   s.portal_case_window_seconds)  # fmt: skip
    return PinRules(by_ip, by_case, s)


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _locked(lock: Lock) -> ApiError:
    if lock.scope == "pin-case-ip":
        message = (
            "too many wrong PINs for this case number from your network: it is locked for "
            f"you for {_minutes(lock.retry_after)}"
        )
        field = "case_number"
    elif lock.scope == "pin-ip":
        message = (
            f"too many wrong PINs from your network: try again in {_minutes(lock.retry_after)}"
        )
        field = "pin"
    else:
        message = f"too many cases from your network: try again in {_minutes(lock.retry_after)}"
        field = "body"
    headers = {**_NO_STORE, "Retry-After": str(lock.retry_after)}
    return ApiError(429, message, field, headers)


_WRONG = "the case number or the PIN is not right"


def _open_case(state: ServiceState, client: str, credentials: CaseCredentials) -> int:
    """The id of the case these credentials open; the same error for unknown and wrong."""
    number = normalize_case_number(credentials.case_number)
    if number is None:
        raise ApiError(422, "a case number looks like HW-XXXX-XXXX", "body.case_number")
    pin = normalize_pin(credentials.pin)
    if pin is None:
        raise ApiError(422, "a PIN is 8 letters and digits, like 4FJX-8WQP", "body.pin")
    rules = _pin_rules(state)
    throttles = _throttles(state)
    lock = throttles.reserve(rules.by_ip, client)
    if lock is not None:
        raise _locked(lock)
    slowed = throttles.tally(rules.by_case, number) >= rules.by_case.limit
    by_case_and_ip = rules.by_case_and_ip(slowed)
    lock = throttles.reserve(by_case_and_ip, _case_and_client(number, client))
    if lock is not None:
        throttles.release(rules.by_case, number)  # refused unchecked: not a guess at the case
        raise _locked(lock)
    with state.db.session() as session:
        found = session.execute(
            select(PortalCase.id, PortalCase.pin_hash).where(PortalCase.number == number)
        ).first()
    stored = found.pin_hash if found is not None else dummy_pin_hash(state.settings.portal_scrypt_n)
    if not verify_pin(pin, stored) or found is None:
        raise ApiError(403, _WRONG, "pin", dict(_NO_STORE))
    # A right PIN is no failure: give back its slots, and forget this address's failures.
    throttles.release(rules.by_ip, client)
    throttles.release(rules.by_case, number)
    throttles.release(by_case_and_ip, _case_and_client(number, client), reset=True)
    return int(found.id)


def _case_and_client(number: str, client: str) -> str:
    return f"{number}|{client}"


# ---------------------------------------------------------------------- cases


def _portal_bank(state: ServiceState) -> int:
    try:
        return ensure_bank(
            state,
            state.settings.portal_bank,
            description="Hashes submitted by the people pictured (hashwall /portal)",
            action="review",
            source=PORTAL_SOURCE,
        )
    except SystemBankError:
        raise ApiError(503, "the portal bank could not be created; try again", None) from None


def _records(state: ServiceState, body: CaseCreate) -> list[HashRecord]:
    limit = state.settings.portal_max_records
    if len(body.records) > limit:
        raise ApiError(422, f"at most {limit} pictures or videos per case", "body.records")
    records = []
    for position, data in enumerate(body.records):
        field = f"body.records.{position}"
        try:
            record = record_from_json(data)
        except (RecordFormatError, InvalidSignalValue, ValueError, TypeError, AttributeError) as e:
            raise ApiError(422, str(e) or "not a hashwall hash record", field) from None
        if not (record.pdq or record.vpdq or record.md5 or record.sha256):
            raise ApiError(422, "the record carries no hashes", f"{field}.signals")
        records.append(record)
    return records


def _eligible(body: CaseCreate) -> None:
    if not body.adult:
        raise ApiError(
            422,
            "this service takes pictures of adults only. If you were under 18 in the picture, "
            f"NCMEC's Take It Down can help: {TAKE_IT_DOWN}; in the UK, also Report Remove by "
            f"the IWF and Childline: {REPORT_REMOVE}",
            "body.adult",
        )
    if not body.depicted:
        raise ApiError(422, "only the person in the picture can submit it here", "body.depicted")
    if not body.intimate:
        raise ApiError(
            422, "this service takes intimate (nude, semi-nude or sexual) pictures only",
            "body.intimate",
        )  # fmt: skip
    if not body.consent:
        raise ApiError(422, "consent is needed to add the hashes to the bank", "body.consent")


def _store_case(
    bank_id: int,
    number: str,
    pin_hash: str,
    records: list[HashRecord],
    include_names: bool,
    session: Session,
) -> tuple[int, list[int]]:
    """Write a new case and its entries in ``session``; returns (case id, entry ids)."""
    entries = [
        new_entry(
            bank_id,
            record,
            label=printable(record.path, 500) if include_names else "",
            source="portal",
            case_ref=number,
        )
        for record in records
    ]
    case = PortalCase(number=number, pin_hash=pin_hash, bank_id=bank_id)
    session.add(case)
    session.add_all(entries)
    session.flush()
    if holds_new_entries(session, bank_id):
        hold_for_review(session, entries)
    session.add_all(PortalCaseEntry(case_id=case.id, entry_id=e.id) for e in entries)
    session.add_all(Change(kind=ChangeKind.ENTRY, target_id=e.id) for e in entries)
    return case.id, [e.id for e in entries]


def _create_case(state: ServiceState, body: CaseCreate) -> dict[str, Any]:
    records = _records(state, body)
    bank_id = _portal_bank(state)
    pin = new_pin()
    pin_hash = hash_pin(pin.replace("-", ""), state.settings.portal_scrypt_n)
    for attempt in range(5):
        number = new_case_number()
        try:
            store = partial(_store_case, bank_id, number, pin_hash, records, body.include_names)
            case_id, entry_ids = state.db.write(store)  # waits its turn, never refused as busy
            break
        except IntegrityError:  # the random case number was taken (or the bank vanished)
            if attempt == 4:
                raise
    # Matchable in this worker before the person hears back; others follow the change log.
    # Never fails the answer: the case is committed and its number and PIN are shown once.
    state.publish_entries(entry_ids)
    log.info("portal case %d created with %d entries", case_id, len(entry_ids))
    return {"case_number": number, "pin": pin, "entries": len(entry_ids)}


def _status(state: ServiceState, case_id: int) -> dict[str, Any]:
    with state.db.session() as session:
        case = session.get(PortalCase, case_id)
        assert case is not None
        entry_ids = select(PortalCaseEntry.entry_id).where(PortalCaseEntry.case_id == case_id)
        states = Counter(
            {
                str(state_): int(count)
                for state_, count in session.execute(
                    select(Entry.state, func.count())
                    .where(Entry.id.in_(entry_ids))
                    .group_by(Entry.state)
                )
            }
        )
        rows = session.execute(
            select(
                MatchRecord.api_key_id,
                Bank.name,
                func.min(MatchRecord.id),
                func.count(MatchRecord.id),
                func.count(PortalRemoval.id),
            )
            .select_from(MatchRecord)
            .join(Bank, Bank.id == MatchRecord.bank_id)
            .outerjoin(PortalRemoval, PortalRemoval.match_record_id == MatchRecord.id)
            .where(MatchRecord.entry_id.in_(entry_ids))
            .group_by(MatchRecord.api_key_id, Bank.name)
        ).all()
        pruned = session.execute(  # records past their retention, counted (retention.py)
            select(
                MatchRollup.api_key_id,
                Bank.name,
                MatchRollup.first_record_id,
                MatchRollup.matches,
                MatchRollup.removals,
            )
            .join(Bank, Bank.id == MatchRollup.bank_id)
            .where(MatchRollup.entry_id.in_(entry_ids))
        ).all()
        bank_enabled = session.scalar(select(Bank.enabled).where(Bank.id == case.bank_id))
        number, case_state = case.number, case.state
        created, withdrawn = case.created_at, case.withdrawn_at
    platforms = _platforms(_with_pruned(rows, pruned))
    return {
        "case_number": number,
        "state": case_state.value,
        # False while an operator has the portal bank switched off: the page must not then
        # tell the person their pictures are being matched.
        "matching": case_state is CaseState.ACTIVE and bool(bank_enabled),
        "created_at": _iso(created),
        "withdrawn_at": _iso(withdrawn) if withdrawn else None,
        "entries": {
            "total": sum(states.values()),
            **{s.value: states.get(s.value, 0) for s in EntryState},
        },
        "matches": sum(p["matches"] for p in platforms),
        "removals": sum(p["removals"] for p in platforms),
        "platforms": platforms,
    }


PlatformRow = tuple[int | None, str, int, int, int]


def _with_pruned(
    live: Sequence[Row[int | None, str, int, int, int]],
    pruned: Sequence[Row[int, str, int, int, int]],
) -> list[PlatformRow]:
    """Per (API key, bank): the earliest record id and the sums, over live and pruned records
    (a record made without a key is counted under NO_KEY in both)."""
    merged: dict[tuple[int, str], list[int]] = {}
    for key_id, bank, first, matches, removals in [*live, *pruned]:
        key = (NO_KEY if key_id is None else key_id, bank)
        if key in merged:
            total = merged[key]
            total[0] = min(total[0], first)
            total[1] += int(matches)
            total[2] += int(removals)
        else:
            merged[key] = [first, int(matches), int(removals)]
    return [(key_id, bank, t[0], t[1], t[2]) for (key_id, bank), t in merged.items()]


def _platforms(rows: Sequence[PlatformRow]) -> list[dict[str, Any]]:
    """Matches and removals per platform, named neutrally ("platform 1", "platform 2", in the
    order they first matched): the API keys' names are the operator's internal labels (and
    could name a partner), which a person holding a case number and PIN has no need of."""
    first_seen: dict[int | None, int] = {}
    for key_id, _bank, first, _matches, _removals in rows:
        first_seen[key_id] = min(first_seen.get(key_id, first), first)
    order = {
        key_id: n for n, key_id in enumerate(sorted(first_seen, key=first_seen.__getitem__), 1)
    }
    numbered = sorted(
        (order[key_id], bank, int(matches), int(removals))
        for key_id, bank, _first, matches, removals in rows
    )
    return [
        {"platform": f"platform {n}", "bank": bank, "matches": matches, "removals": removals}
        for n, bank, matches, removals in numbered
    ]


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


def _withdraw(state: ServiceState, case_id: int) -> dict[str, Any]:
    entry_ids = state.db.write(lambda session: _withdraw_rows(session, case_id))
    # Stop matching in this worker before the response; others follow the change log.
    state.publish_entries(entry_ids, removed=True)
    log.info("portal case %d withdrawn (%d entries)", case_id, len(entry_ids))
    return _status(state, case_id)


def _withdraw_rows(session: Session, case_id: int) -> list[int]:
    """Withdraw the case and every entry of it that is not gone yet (one transaction,
    retried as a whole when the database is busy: a withdrawal is never refused)."""
    case = session.get(PortalCase, case_id)
    assert case is not None
    entries = session.scalars(
        select(Entry).where(
            Entry.id.in_(
                select(PortalCaseEntry.entry_id).where(PortalCaseEntry.case_id == case_id)
            ),
            # active or held (quarantined): everything that is not already gone
            Entry.state.notin_([EntryState.WITHDRAWN, EntryState.DELETED]),
        )
    ).all()
    for entry in entries:
        entry.state = EntryState.WITHDRAWN
        session.add(Change(kind=ChangeKind.ENTRY, target_id=entry.id))
    if case.state is not CaseState.WITHDRAWN:
        case.state = CaseState.WITHDRAWN
        case.withdrawn_at = datetime.now(UTC)
    return [entry.id for entry in entries]


@router.post(
    "/v1/portal/cases",
    status_code=201,
    openapi_extra=_schema(CaseCreate),
    responses={201: {"description": "The case number and PIN (shown only here)."}},
)
@accepts("json", lambda settings: settings.portal_max_body_bytes)
async def create_case(request: Request, state: State) -> JSONResponse:
    """Create a case from hash records made in the browser (public; rate-limited per address).

    Answers `{"case_number", "pin", "entries"}`; the PIN is stored only as a scrypt hash and
    can never be shown again.
    """
    rule = Rule("create-ip", state.settings.portal_cases_per_ip_hour, 3600, 3600)
    lock = await run_in_threadpool(_throttles(state).reserve, rule, _client(request))
    if lock is not None:
        raise _locked(lock)
    body = _validated(CaseCreate, await _read_json(request, state.settings.portal_max_body_bytes))
    _eligible(body)
    return _json(await run_in_threadpool(_create_case, state, body), 201)


CREDENTIALS_BYTES = 4096


def _credentials_limit(_settings: Settings) -> int:
    return CREDENTIALS_BYTES


async def _credentials(request: Request, state: ServiceState) -> CaseCredentials:
    return _validated(CaseCredentials, await _read_json(request, CREDENTIALS_BYTES))


@router.post("/v1/portal/cases/status", openapi_extra=_schema(CaseCredentials))
@accepts("json", _credentials_limit)
async def case_status(request: Request, state: State) -> JSONResponse:
    """Counts for a case: entries by state, matches and reported removals per platform and
    bank. Case number and PIN go in the body; a wrong PIN and an unknown case get the same
    403, and too many wrong PINs lock the case number (and slow the address) with a 429."""
    credentials = await _credentials(request, state)
    case_id = await run_in_threadpool(_open_case, state, _client(request), credentials)
    return _json(await run_in_threadpool(_status, state, case_id))


@router.post("/v1/portal/cases/withdraw", openapi_extra=_schema(CaseCredentials))
@accepts("json", _credentials_limit)
async def withdraw_case(request: Request, state: State) -> JSONResponse:
    """Withdraw every entry of the case: they stop matching before this answer is sent."""
    credentials = await _credentials(request, state)
    case_id = await run_in_threadpool(_open_case, state, _client(request), credentials)
    return _json(await run_in_threadpool(_withdraw, state, case_id))


@router.post("/v1/portal/removals")
def report_removal(
    body: RemovalReport,
    state: State,
    principal: Annotated[Principal, require(Permission.MATCH)],
) -> dict[str, int]:
    """A platform reports that it removed the item it matched (`request_id` and `entry_id`
    of its match answer); the case's status page counts removals per platform."""
    with state.db.session() as session:
        ids = session.scalars(
            select(MatchRecord.id).where(
                MatchRecord.request_id == body.request_id,
                MatchRecord.entry_id == body.entry_id,
                MatchRecord.api_key_id == principal.key_id,
            )
        ).all()
        if not ids:
            raise ApiError(404, "no match of yours with this request_id and entry_id", "body")
        known = set(
            session.scalars(
                select(PortalRemoval.match_record_id).where(PortalRemoval.match_record_id.in_(ids))
            )
        )
        fresh = [i for i in ids if i not in known]
        session.add_all(PortalRemoval(match_record_id=i) for i in fresh)
    return {"reported": len(fresh), "already_reported": len(known)}
