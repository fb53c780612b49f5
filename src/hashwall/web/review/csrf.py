"""CSRF tokens for forms shown to people without a session (the public removal-request form
and the login form): a signed double-submit token.

The same signed token goes into an HttpOnly, SameSite=Strict cookie and into a hidden field.
A forged cross-site POST has neither the cookie (SameSite) nor a way to read it (HttpOnly), and
a token cannot be minted without the server secret, so both copies must match and verify.
"""

from __future__ import annotations

import hmac
import json
import secrets

from hashwall.web.review.tokens import derived_key, sign, unsign

COOKIE = "hw_form"
FIELD = "csrf"
#: A form left open longer than this must be reloaded (a day: people pause to gather URLs).
MAX_AGE_SECONDS = 24 * 3600


def new_token(secret: str, now: float) -> str:
    payload = {"n": secrets.token_urlsafe(16), "t": int(now)}
    return sign(derived_key(secret, "form-csrf"), json.dumps(payload).encode())


def is_fresh(secret: str, token: str | None, now: float) -> bool:
    """True for a token this server signed less than ``MAX_AGE_SECONDS`` ago."""
    payload = unsign(derived_key(secret, "form-csrf"), token or "")
    if payload is None:
        return False
    try:
        issued = int(json.loads(payload)["t"])
    except (ValueError, KeyError, TypeError):
        return False
    return 0 <= now - issued < MAX_AGE_SECONDS


def token_for_page(secret: str, cookie: str | None, now: float) -> str:
    """The cookie's token when still good (several tabs keep working), else a new one."""
    return cookie if cookie and is_fresh(secret, cookie, now) else new_token(secret, now)


def check(secret: str, cookie: str | None, submitted: str | None, now: float) -> bool:
    """The submitted field equals the cookie and is a fresh token of ours."""
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        return False
    return is_fresh(secret, cookie, now)
