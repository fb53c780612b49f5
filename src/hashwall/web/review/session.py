"""Reviewer sessions: an API key is exchanged once for a signed, expiring cookie.

The cookie carries only the key's id, expiry and a random nonce, signed with a key derived
from ``HASHWALL_SECRET_KEY``; the API key itself never sits in the browser after login. The
key row is read again on every request, so revoking the key (or changing its role) ends the
session at once instead of at expiry. CSRF tokens for reviewer forms are an HMAC of the
session nonce: a page from another site can neither read nor forge them.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session as DbSession

from hashwall.service.auth import Principal, Role
from hashwall.store import ApiKey
from hashwall.web.review.tokens import derived_key, mac, sign, unsign

COOKIE = "hw_review"
COOKIE_PATH = "/review"
#: How long a login lasts (a working shift); after that the reviewer presents the key again.
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True)
class ReviewSession:
    key_id: int
    expires: int
    nonce: str


def issue(secret: str, key_id: int, now: float, lifetime: int = SESSION_SECONDS) -> str:
    """The cookie value for a fresh login of ``key_id``."""
    payload = {"k": key_id, "e": int(now) + lifetime, "n": secrets.token_urlsafe(16)}
    return sign(derived_key(secret, "session"), json.dumps(payload).encode())


def read(secret: str, cookie: str | None, now: float) -> ReviewSession | None:
    """The session in a cookie we signed that has not expired, else ``None``."""
    payload = unsign(derived_key(secret, "session"), cookie or "")
    if payload is None:
        return None
    try:
        data = json.loads(payload)
        session = ReviewSession(int(data["k"]), int(data["e"]), str(data["n"]))
    except (ValueError, KeyError, TypeError):
        return None
    return session if session.expires > now else None


def csrf_token(secret: str, session: ReviewSession) -> str:
    return mac(derived_key(secret, "session-csrf"), session.nonce.encode())


def principal_for(db_session: DbSession, key_id: int) -> Principal | None:
    """The key's current holder, or ``None`` once the key is revoked or gone."""
    row = db_session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return None
    return Principal(row.id, row.name, Role(row.role))
