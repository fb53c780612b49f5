"""The hot path of ``POST /v1/match/hashes``, served before the framework's stack.

Why: with the index search at ~40 us per query (1M hashes), FastAPI's routing, dependency
solving, request-body model and exception layers cost several times the match itself
(docs/service.md, "Performance"). This ASGI app, in front of FastAPI's whole stack
(``app.ServiceApp``), answers the *common, valid* request itself and hands everything else
to the regular route, untouched:

* it only takes ``POST /v1/match/hashes`` with a JSON body under :data:`MAX_FAST_BODY` bytes,
  whose API key is valid - in the worker's :class:`~hashwall.service.auth.KeyCache`
  (validated in the last 2 s), else looked up once for all requests waiting on that key -
  with the ``match`` permission, that :class:`MatchHashesRequest` accepts, that is small
  enough to match on the event loop, and whose hashes are all well-formed;
* anything else - no key, an unknown or revoked key, a 403, bad JSON, a validation
  error, a bad hash, a batch - is replayed to the FastAPI route byte for byte, which produces
  the very same answers and errors as before (the body is parsed again only then).

Both paths share the route's helpers (parsing, matching, the answer, group-committed match
records), so a match means the same whichever path served it; the OpenAPI schema still
comes from the route.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from typing import Any

from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hashwall.service.auth import KEY_PREFIX, Permission, Principal, lookup_key, resolve_key
from hashwall.service.errors import ApiError, error_body
from hashwall.service.routes import match as match_route
from hashwall.service.schemas import MatchHashesRequest

log = logging.getLogger("hashwall.service")
PATH = "/v1/match/hashes"
#: Larger bodies (batches) take the regular route, which matches them in the thread pool.
MAX_FAST_BODY = 16 * 1024


class FastMatchPath:
    """ASGI app in front of the service's own (``app.ServiceApp``); counts what it served
    and what it handed on (tests read these)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.served = 0
        self.handed_on = 0
        #: key digest -> when this worker last re-checked it (see :meth:`_keep_fresh`)
        self._checked: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        try:
            answer = None if body is None else await self._answer(scope, body)
        except Exception:  # a bug here: the regular route answers (and reports) instead
            log.exception("the fast match path failed; handing the request to the route")
            answer = None
        if answer is None:
            self.handed_on += 1
            await self.app(scope, _replay(messages, receive), send)
            return
        self.served += 1
        status, body, headers = answer
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _answer(
        self, scope: Scope, body: bytes
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]] | None:
        """The answer, or ``None`` to hand the request to the regular route."""
        headers = dict(scope["headers"])
        if not headers.get(b"content-type", b"").lower().startswith(b"application/json"):
            return None
        state = scope["app"].state.hashwall
        key, digest, principal = _cached_principal(state, headers)
        if principal is None and digest:  # expired or not seen yet: one lookup per key
            principal = await resolve_key(state, key, digest)
        if principal is None or not principal.can(Permission.MATCH):
            return None
        self._keep_fresh(state, key, digest)
        try:
            request = MatchHashesRequest.model_validate(json.loads(body))
        except (ValueError, ValidationError, RecursionError):  # JSONDecodeError: a ValueError
            return None
        if not match_route.is_small(request):
            return None
        try:
            records, outcomes = match_route.match_body(state, request)
        except ApiError:
            return None
        answer, stored = match_route.answer_of(
            principal,
            "hashes",
            [(q.id, None, o) for q, o in zip(request.queries, outcomes, strict=True)],
            records,
        )
        if stored:
            try:
                await state.records.submit_async(stored, records)
            except ApiError as error:  # backlog full or shutting down: 503
                extra = [(k.lower().encode(), v.encode()) for k, v in (error.headers or {}).items()]
                problem = error_body(error.field, error.message, error.code)
                return error.status, _json(problem), extra
        return 200, match_route.answer_bytes(answer), []

    def _keep_fresh(self, state: Any, key: str, digest: str) -> None:
        """Re-check a key in use in the background every half ``ttl`` of the key cache.

        Why: when a busy key's cache entry expired, every request until the route had
        looked the key up again (a thread-pool hop and a query, several ms under load) took
        the slow route: a burst of slow answers every 2 s per worker. Now the entry is
        renewed before it expires, by one lookup per key per second; a revoked key is not
        renewed, so it stops matching within the cache's ``ttl`` as before.
        """
        now = time.monotonic()
        checked = self._checked.get(digest)
        if checked is None:  # first seen: the route validated it moments ago
            if len(self._checked) > 10_000:
                self._checked.clear()
            self._checked[digest] = now
            return
        if now - checked < state.key_cache.ttl / 2:
            return
        self._checked[digest] = now
        task = asyncio.get_running_loop().create_task(_recheck(state, key, digest))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)


async def _recheck(state: Any, key: str, digest: str) -> None:
    try:
        principal = await run_in_threadpool(lookup_key, state.db, state.settings.secret_key, key)
    except Exception:  # the route looks the key up again once the entry expires
        log.warning("re-checking an API key failed", exc_info=True)
        return
    if principal is not None:
        state.key_cache.put(digest, principal)


def _cached_principal(state: Any, headers: dict[bytes, bytes]) -> tuple[str, str, Principal | None]:
    """The key, its digest and the caller when the key is in this worker's key cache (no
    database here); the digest is ``auth.hash_key``'s, computed by one C call."""
    key = headers.get(b"x-api-key", b"").decode("latin-1")
    if not key:
        scheme, _, value = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else ""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return key, "", None
    digest = hmac.digest(state.settings.secret_key.encode(), key.encode(), "sha256").hex()
    principal: Principal | None = state.key_cache.get(digest)
    return key, digest, principal


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages read, and the whole body when it is small and complete (else ``None``)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None  # a disconnect: the route sees it too
        size += len(message.get("body", b""))
        if size > MAX_FAST_BODY:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that yields the messages already read, then continues from the client."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
