"""HMAC-signed tokens for cookies and forms.

Each use gets its own key derived from the server secret (``purpose``), so a token minted for
one thing (a session cookie) can never be replayed as another (a CSRF token). Tokens are
``base64(payload).base64(mac)``: nothing server-side has to be stored to check them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


def derived_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose only, derived from the service secret."""
    return hmac.new(secret.encode(), f"hashwall.web.{purpose}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mac(key: bytes, payload: bytes) -> str:
    return _b64(hmac.new(key, payload, hashlib.sha256).digest())


def sign(key: bytes, payload: bytes) -> str:
    return f"{_b64(payload)}.{mac(key, payload)}"


def unsign(key: bytes, token: str) -> bytes | None:
    """The payload of a token this key signed, or ``None`` for anything else."""
    if not token or len(token) > 4096 or token.count(".") != 1:
        return None
    encoded, signature = token.split(".")
    try:
        payload = _unb64(encoded)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(mac(key, payload), signature):
        return None
    return payload
