"""What each route may receive: body kind, byte limit, and whether a key is needed first.

The request guard (:mod:`hashwall.service.request_guard`) looks the rule up for every request
*before* the route reads a byte of its body. Most rules are derived from the route itself, so
a new route is covered without anyone remembering to: a route whose dependencies include
:func:`~hashwall.service.auth.authenticate` needs a key (and the permission that
:func:`~hashwall.service.auth.require` declares); a route with file parameters takes uploads
(``max_upload_bytes``); a route with a JSON model takes JSON (``max_json_bytes``); anything
else takes no body to speak of. Routes that read the request themselves (the public intake,
the portal, the HTML forms) declare their rule with :func:`accepts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from fastapi import params
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from hashwall.service.auth import Permission, authenticate
from hashwall.service.settings import Settings

#: json: application/json only; upload: multipart only; form: HTML form encodings;
#: json_or_multipart: the public intake's two shapes; none: no body expected.
BodyKind = Literal["json", "upload", "form", "json_or_multipart", "none"]

#: Multipart bodies carry a little framing around the file itself.
FRAMING_ALLOWANCE = 64 * 1024
#: Routes without a body parameter (GET, DELETE, POST .../withdraw) still get a few bytes:
#: clients send ``{}``. Nothing they send is read.
NO_BODY_BYTES = 64 * 1024

JSON_TYPES = ("application/json",)
MULTIPART_TYPES = ("multipart/form-data",)
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
_ACCEPTED: dict[BodyKind, tuple[str, ...]] = {
    "json": JSON_TYPES,
    "upload": FORM_TYPES,
    "form": FORM_TYPES,
    "json_or_multipart": JSON_TYPES + MULTIPART_TYPES,
    "none": (),
}

#: A check run on the headers before the body is read: an error message (answered 403), or
#: None to go on. The HTML forms use it for their CSRF cookie.
Precheck = Callable[[Request, Settings], str | None]
#: How a rule's refusals look: ``(status, message, headers) -> Response`` (JSON by default;
#: the HTML forms answer a page).
Responder = Callable[[int, str, dict[str, str]], Response]


@dataclass(frozen=True)
class BodyRule:
    kind: BodyKind
    #: Largest body in bytes for these settings.
    limit: Callable[[Settings], int]
    needs_key: bool = False
    permission: Permission | None = None
    precheck: Precheck | None = None
    respond: Responder | None = None
    #: json_or_multipart only: the (smaller) limit when the body is JSON.
    json_limit: Callable[[Settings], int] | None = None

    def limit_for(self, settings: Settings, content_type: str) -> int:
        if self.json_limit is not None and _media(content_type) in JSON_TYPES:
            return self.json_limit(settings)
        return self.limit(settings)

    @property
    def accepted_types(self) -> tuple[str, ...]:
        return _ACCEPTED[self.kind]

    def accepts(self, content_type: str) -> bool:
        """Whether the media type (parameters ignored) is one this route reads."""
        media = _media(content_type)
        if self.kind == "none":
            return True
        return media in self.accepted_types or (
            "application/json" in self.accepted_types and media.endswith("+json")
        )


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _json_limit(settings: Settings) -> int:
    return settings.max_json_bytes


def _upload_limit(settings: Settings) -> int:
    return settings.max_upload_bytes + FRAMING_ALLOWANCE


def _no_body(_settings: Settings) -> int:
    return NO_BODY_BYTES


NO_BODY = BodyRule("none", _no_body)
_DECLARED = "__hashwall_body_rule__"


def accepts(
    kind: BodyKind,
    limit: Callable[[Settings], int],
    *,
    precheck: Precheck | None = None,
    respond: Responder | None = None,
    json_limit: Callable[[Settings], int] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the body rule of a route that reads its request itself (put it under the
    ``@router.post``... decorator, so the route is registered with the marked function)."""

    def mark(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        rule = BodyRule(kind, limit, precheck=precheck, respond=respond, json_limit=json_limit)
        setattr(endpoint, _DECLARED, rule)
        return endpoint

    return mark


def _auth_of(dependant: Any) -> tuple[bool, Permission | None]:
    """(needs a key, permission) from a route's dependency tree."""
    needs_key = False
    permission: Permission | None = None
    for dependency in dependant.dependencies:
        call = dependency.call
        if call is authenticate:
            needs_key = True
        declared = getattr(call, "hashwall_permission", None)
        if isinstance(declared, Permission):
            permission = declared
        inner_key, inner_permission = _auth_of(dependency)
        needs_key = needs_key or inner_key
        permission = permission or inner_permission
    return needs_key, permission


def _has_files(dependant: Any) -> bool:
    return any(
        isinstance(field.field_info, (params.File, params.Form)) for field in dependant.body_params
    )


def rule_for(route: BaseRoute) -> BodyRule:
    """The rule of one route (declared, else derived from its parameters)."""
    if not isinstance(route, APIRoute):
        return NO_BODY
    needs_key, permission = _auth_of(route.dependant)
    declared = getattr(route.endpoint, _DECLARED, None)
    if isinstance(declared, BodyRule):
        rule = declared
    elif _has_files(route.dependant):
        rule = BodyRule("upload", _upload_limit)
    elif route.dependant.body_params:
        rule = BodyRule("json", _json_limit)
    else:
        rule = NO_BODY
    return replace(rule, needs_key=needs_key, permission=permission)
