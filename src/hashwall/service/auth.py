"""API keys and roles.

Keys are 32 random bytes (``hw_`` + URL-safe base64), so a fast keyed hash is enough to store
them: there is nothing to brute-force that a slow password hash would protect. Only the HMAC
(peppered with the server secret) and an 8-character prefix are stored; the key is shown once.
Nothing here logs a key or its hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from sqlalchemy import select

from hashwall.service.errors import ApiError
from hashwall.store import ApiKey, Database

KEY_PREFIX = "hw_"


class Role(StrEnum):
    HASHER = "hasher"
    MATCHER = "matcher"
    CURATOR = "curator"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    LIKENESS = "likeness"  # enrols and revokes likeness templates (docs/likeness.md, "Service")


class Permission(StrEnum):
    HASH = "hash"  # hash an upload, no matching
    MATCH = "match"  # match hashes or uploads against banks
    BANKS_READ = "banks:read"
    BANKS_WRITE = "banks:write"
    ENTRIES_READ = "entries:read"
    ENTRIES_WRITE = "entries:write"
    MATCHES_READ = "matches:read"  # stored match records
    KEYS_ADMIN = "keys:admin"
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"  # register/remove catalog items
    REVIEW = "review"  # review queue and flood quarantine decisions
    WEBHOOKS = "webhooks"  # configure bank webhooks, read their delivery log
    LIKENESS_TEMPLATES = "likeness:templates"  # upload, list and revoke enrolled templates
    LIKENESS_SCREEN = "likeness:screen"  # screen intimate content for enrolled faces


_P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.HASHER: frozenset({_P.HASH, _P.CATALOG_WRITE}),
    Role.MATCHER: frozenset({_P.HASH, _P.MATCH, _P.BANKS_READ, _P.LIKENESS_SCREEN}),
    Role.CURATOR: frozenset(
        {_P.HASH, _P.MATCH, _P.BANKS_READ, _P.BANKS_WRITE, _P.ENTRIES_READ, _P.ENTRIES_WRITE}
        | {_P.CATALOG_READ, _P.CATALOG_WRITE, _P.WEBHOOKS, _P.LIKENESS_SCREEN}
    ),
    Role.REVIEWER: frozenset(
        {_P.BANKS_READ, _P.ENTRIES_READ, _P.MATCHES_READ, _P.CATALOG_READ, _P.REVIEW}
    ),
    Role.ADMIN: frozenset(Permission),
    Role.LIKENESS: frozenset({_P.LIKENESS_TEMPLATES}),
}


def hash_key(key: str, secret: str) -> str:
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """The caller behind a valid key."""

    key_id: int
    name: str
    role: Role
    #: The banks this key may change (``None``: every bank). A curator key given to one
    #: partner's integration should not be able to edit, fill or empty other banks.
    banks: frozenset[int] | None = None

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def may_change(self, bank_id: int) -> bool:
        return self.banks is None or bank_id in self.banks

    def check_bank(self, bank_id: int, field: str | None = "bank_id") -> None:
        """403 unless this key may change ``bank_id`` (checked after the bank was found, so
        an unknown bank is still a 404)."""
        if not self.may_change(bank_id):
            raise ApiError(403, f"this API key is limited to other banks (not {bank_id})", field)


def create_api_key(
    db: Database, secret: str, role: Role, name: str = "", banks: list[int] | None = None
) -> tuple[ApiKey, str]:
    """Store a new key and return it with the plaintext key (never retrievable again);
    ``banks`` limits it to those banks."""
    key = generate_key()
    with db.session() as session:
        row = ApiKey(
            name=name,
            prefix=key[:8],
            key_hash=hash_key(key, secret),
            role=role.value,
            bank_ids=sorted(set(banks)) if banks is not None else None,
        )
        session.add(row)
        session.flush()
        session.expunge(row)
    return row, key


def lookup_key(
    db: Database, secret: str, key: str, legacy: tuple[str, ...] = ()
) -> Principal | None:
    """The holder of a valid, unrevoked key. ``legacy``: earlier secrets whose hashes are still
    accepted (development data written under the published default); a key found that way
    is re-hashed under ``secret`` at once, so it is looked up once per key at most."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = hash_key(key, secret)
    # Read-only unless a legacy hash may need rewriting: a lookup takes no write lock.
    with db.session(readonly=not legacy) as session:
        for candidate in (digest, *(hash_key(key, old) for old in legacy)):
            row = session.scalars(
                select(ApiKey).where(ApiKey.key_hash == candidate, ApiKey.revoked_at.is_(None))
            ).first()
            if row is not None and hmac.compare_digest(row.key_hash, candidate):
                if candidate != digest:  # a write only for a legacy hash, never per lookup
                    row.key_hash = digest
                banks = (
                    frozenset(int(b) for b in row.bank_ids) if row.bank_ids is not None else None
                )
                return Principal(row.id, row.name, Role(row.role), banks)
        return None


_bearer_or_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An API key from `hashwall keys create --role ROLE` (or `Authorization: Bearer`).",
)


def _presented_key(request: Request, header_key: str | None) -> str | None:
    return header_key or presented_key(request.headers)


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key in ``X-API-Key`` or ``Authorization: Bearer``, if any (headers only: the
    request guard calls this before the body is read)."""
    if header_key := headers.get("x-api-key"):
        return header_key
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


#: How long a key the database did not know is answered 401 without asking again (keys are
#: random: one that does not exist now will not exist a second later, short of being made).
UNKNOWN_KEY_SECONDS = 1.0


class KeyCache:
    """Valid keys seen in the last ``ttl`` seconds, so a match request costs no key query.

    Revoking a key clears this worker's cache at once; other workers stop accepting the key
    within ``ttl`` seconds. Entries are keyed by the key's HMAC, never the key itself.
    """

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lookups: dict[str, asyncio.Task[Principal | None]] = {}
        #: digests the database did not know, until when (a request with a wrong key made
        #: one lookup on the fast path and a second on the route it was handed to)
        self._unknown: dict[str, float] = {}

    async def resolve(
        self, digest: str, lookup: Callable[[], Principal | None]
    ) -> Principal | None:
        """The cached caller, else the result of ``lookup`` (in the thread pool), run once per
        key however many requests wait for it at the same time.

        Why: after ``ttl`` seconds without requests every entry has expired, and the first
        burst of a busy client (64 connections at once in benchmarks/service_bench.py) made
        one database lookup per request through the thread pool: ~100 ms in which the worker
        answered nothing else. Unknown keys are not cached (the caller answers 401).
        """
        principal = self.get(digest)
        if principal is not None:
            return principal
        if self._unknown.get(digest, 0.0) > time.monotonic():
            return None
        loop = asyncio.get_running_loop()
        pending = self._lookups.get(digest)
        if pending is None or pending.get_loop() is not loop:
            pending = loop.create_task(self._lookup(digest, lookup))
            self._lookups[digest] = pending
        return await asyncio.shield(pending)

    async def _lookup(
        self, digest: str, lookup: Callable[[], Principal | None]
    ) -> Principal | None:
        try:
            principal = await run_in_threadpool(lookup)
            if principal is not None:
                self.put(digest, principal)
            else:
                if len(self._unknown) > 10_000:
                    self._unknown.clear()
                self._unknown[digest] = time.monotonic() + UNKNOWN_KEY_SECONDS
            return principal
        finally:
            if self._lookups.get(digest) is asyncio.current_task():
                del self._lookups[digest]

    def get(self, digest: str) -> Principal | None:
        found = self._entries.get(digest)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, digest: str, principal: Principal) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[digest] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        self._entries.clear()
        self._unknown.clear()


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="hashwall"'}


async def resolve_key(state: Any, key: str, digest: str) -> Principal | None:
    """The key's principal through the worker's key cache (one database lookup per key and
    expiry, legacy secrets included); None for an unknown or revoked key."""
    principal: Principal | None = await state.key_cache.resolve(
        digest,
        partial(
            lookup_key,
            state.db,
            state.settings.secret_key,
            key,
            state.settings.legacy_secret_keys(),
        ),
    )
    return principal


async def principal_for(state: Any, key: str | None) -> Principal:
    """The caller behind ``key`` (``state`` is the worker's ServiceState); 401 ApiError
    when there is no key or it is unknown or revoked."""
    if key is None:
        raise ApiError(401, "an API key is required (X-API-Key header)", "X-API-Key", _CHALLENGE)
    principal = await resolve_key(state, key, hash_key(key, state.settings.secret_key))
    if principal is None:
        raise ApiError(401, "the API key is not valid or was revoked", "X-API-Key", _CHALLENGE)
    return principal


def check_permission(principal: Principal, permission: Permission) -> None:
    """403 ApiError when the caller's role lacks ``permission``."""
    if not principal.can(permission):
        raise ApiError(
            403,
            f"role {principal.role.value!r} may not do this (needs {permission.value!r})",
            "X-API-Key",
        )


async def authenticate(
    request: Request, header_key: Annotated[str | None, Depends(_bearer_or_header)]
) -> Principal:
    """401 when no key or an unknown/revoked key is presented."""
    return await principal_for(request.app.state.hashwall, _presented_key(request, header_key))


#: Permissions that change a bank: a key limited to some banks holds them for those only.
BANK_WRITES = frozenset({Permission.BANKS_WRITE, Permission.ENTRIES_WRITE, Permission.WEBHOOKS})


def require(permission: Permission) -> object:
    """A dependency: the caller must hold ``permission`` (403 otherwise); on a route with a
    ``{bank_id}`` a bank-limited key must be limited to that bank. (Routes that reach a bank
    through an entry or a webhook call :meth:`Principal.check_bank` themselves.)"""

    async def check(
        request: Request, principal: Annotated[Principal, Depends(authenticate)]
    ) -> Principal:
        check_permission(principal, permission)
        bank_id = request.path_params.get("bank_id")
        if permission in BANK_WRITES and bank_id is not None and str(bank_id).isdigit():
            principal.check_bank(int(bank_id))
        return principal

    # Read by the request guard (body_rules.py): a 403 is answered before the body is read.
    check.hashwall_permission = permission  # type: ignore[attr-defined]
    return Depends(check)
