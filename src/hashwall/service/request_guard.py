"""The request guard: an ASGI middleware that decides about a body before any of it is read.

Why: the old limit looked at ``Content-Length`` only, so a ``Transfer-Encoding: chunked``
body of any size was read whole, and routes parsed their bodies before the API key was
checked (FastAPI reads the body before it solves dependencies): 300 MiB without a key cost
1.9 GB before the 401.

The guard wraps ``receive``. When the route first asks for its body - nothing has been read
yet, and routing has put the route in the scope - the guard finds the route's
:class:`~hashwall.service.body_rules.BodyRule` and, on the headers alone,

1. refuses (401/403) when the route needs a key and the key is missing, unknown, revoked or
   lacks the route's permission (the route's own check then hits the key cache);
2. runs the route's precheck (the HTML forms' CSRF cookie: 403);
3. refuses (415) a body in a type the route does not read (a JSON route reads only
   ``application/json``, which a browser cannot send cross-site without a CORS preflight,
   and this server grants none);
4. refuses (413) a ``Content-Length`` over the route's limit;

and then counts the bytes as they stream in, chunked or not: past the limit, ``receive``
raises a 413 and nothing more is read. A refusal is a
:class:`~hashwall.service.errors.GuardRefusal`, answered as JSON or, for the HTML forms, as
a page. A route that never reads a body is never charged for it.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hashwall.service.auth import check_permission, presented_key, principal_for
from hashwall.service.body_rules import NO_BODY, BodyRule, rule_for
from hashwall.service.errors import ApiError, GuardRefusal, too_large_message
from hashwall.service.server_errors import classify
from hashwall.service.settings import Settings

#: The rest of a refused body is never read: the connection cannot be reused.
_CLOSE = {"Connection": "close"}


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        #: route object id -> its rule (routes live as long as the app)
        self._rules: dict[int, BodyRule] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, self._guarded(scope, receive), watched_send)
        except GuardRefusal as refusal:  # raised where no exception handler saw it
            if started:
                raise
            await refusal.response()(scope, receive, send)

    def rule(self, scope: Scope) -> BodyRule:
        """The rule of the route routing chose (in the scope once routed), cached."""
        route = scope.get("route")
        if route is None:
            return NO_BODY
        found = self._rules.get(id(route))
        if found is None:
            found = self._rules[id(route)] = rule_for(route)
        return found

    def _guarded(self, scope: Scope, receive: Receive) -> Receive:
        """``receive``, admitting the request at the first call and then counting bytes."""
        limit: int | None = None
        rule = NO_BODY
        received = 0

        async def guarded() -> Message:
            nonlocal limit, rule, received
            if limit is None:
                rule = self.rule(scope)
                limit = await self._admit(scope, rule)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise GuardRefusal(413, too_large_message(limit), "body", _CLOSE, rule.respond)
            return message

        return guarded

    async def _admit(self, scope: Scope, rule: BodyRule) -> int:
        """The byte limit for this request; a GuardRefusal to answer instead."""
        headers = Headers(scope=scope)
        try:
            if rule.needs_key:
                state = scope["app"].state.hashwall
                principal = await principal_for(state, presented_key(headers))
                if rule.permission is not None:
                    check_permission(principal, rule.permission)
        except ApiError as error:
            raise GuardRefusal(
                error.status, error.message, error.field, error.headers, rule.respond, error.code
            ) from None
        except Exception as error:  # the key lookup met a database outage, say
            # Raised from ``receive``, anything but an HTTPException would become FastAPI's
            # 400 "error parsing the body": answer what happened instead (server_errors.py).
            failure = classify(error)
            retry = {"Retry-After": str(failure.retry_after)} if failure.retry_after else None
            raise GuardRefusal(
                failure.status, failure.message, None, retry, rule.respond, failure.code
            ) from error
        if rule.precheck is not None:
            problem = rule.precheck(Request(scope), self.settings)
            if problem is not None:
                raise GuardRefusal(403, problem, "csrf", None, rule.respond)
        content_type = headers.get("content-type", "")
        if _has_body(headers) and not rule.accepts(content_type):
            wanted = " or ".join(rule.accepted_types)
            message = f"this route reads only {wanted} bodies"
            raise GuardRefusal(415, message, "content-type", _CLOSE, rule.respond)
        limit = rule.limit_for(self.settings, content_type)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise GuardRefusal(413, too_large_message(limit), "body", _CLOSE, rule.respond)
        return limit


def _has_body(headers: Headers) -> bool:
    declared = headers.get("content-length", "")
    return "transfer-encoding" in headers or (declared.isdigit() and int(declared) > 0)
