"""Reviewer sessions: an API key is exchanged once for a signed, expiring cookie.

The cookie carries only the key's id, expiry and a random session id (the nonce), signed with
a key derived from ``HASHWALL_SECRET_KEY``; the API key itself never sits in the browser after
login. The signature alone cannot be taken back, so each log-in is also a ``review_sessions``
row (a SHA-256 of the session id): every page needs that row and the key row, so logging out
(which deletes the row), revoking the key (which deletes all of its rows) or changing its role
takes effect on the next request instead of at expiry, and a copied cookie replayed after
log-out is no session. CSRF tokens for reviewer forms are an HMAC of the nonce: a page from
another site can neither read nor forge them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DbSession

from hashwall.service.auth import Principal, Role
from hashwall.store import ApiKey
from hashwall.store import ReviewSession as SessionRow
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
    """The cookie value for a fresh login of ``key_id`` (see :func:`start`: without its row
    the cookie is no session)."""
    payload = {"k": key_id, "e": int(now) + lifetime, "n": secrets.token_urlsafe(32)}
    return sign(derived_key(secret, "session"), json.dumps(payload).encode())


def _token_hash(session: ReviewSession) -> str:
    return hashlib.sha256(session.nonce.encode()).hexdigest()


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def start(db_session: DbSession, secret: str, key_id: int, now: float) -> str:
    """Log ``key_id`` in: store the session's row and return its cookie. Expired rows of all
    reviewers are pruned here, so the table holds live sessions only."""
    cookie = issue(secret, key_id, now)
    found = read(secret, cookie, now)
    assert found is not None
    db_session.execute(delete(SessionRow).where(SessionRow.expires_at <= _moment(now)))
    db_session.add(
        SessionRow(
            token_hash=_token_hash(found),
            key_id=key_id,
            created_at=_moment(now),
            expires_at=_moment(found.expires),
        )
    )
    return cookie


def is_live(db_session: DbSession, session: ReviewSession) -> bool:
    """Whether the server still holds this session (not logged out, key not revoked)."""
    row = db_session.scalars(
        select(SessionRow).where(SessionRow.token_hash == _token_hash(session))
    ).first()
    return row is not None and row.key_id == session.key_id


def end(db_session: DbSession, session: ReviewSession) -> None:
    """Log out: the cookie, and every copy of it, stops working."""
    db_session.execute(delete(SessionRow).where(SessionRow.token_hash == _token_hash(session)))


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
