"""The service's template keys (current and previous, for rotation) and the revocation tokens.

Templates are biometric data, so they are stored encrypted with a key that lives in the
settings, not in the database: a leaked database alone reveals no face. In development a key is
derived from the secret key so ``hashwall serve`` stays one command; production refuses to start
without an explicit key, like the secret key itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from hashwall.likeness.keyring import KeyRing
from hashwall.likeness.templates import KEY_BYTES, TemplateKey
from hashwall.service.settings import InsecureSettingsError

if TYPE_CHECKING:
    from hashwall.service.settings import Settings

TOKEN_PREFIX = "hwr_"


class LikenessKeyError(InsecureSettingsError):
    """The likeness key is missing in production, or malformed: the service refuses to start."""


def _decode(value: str) -> bytes | None:
    try:
        decoded = base64.urlsafe_b64decode(value.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    return decoded if len(decoded) == KEY_BYTES else None


def _previous(settings: Settings) -> list[str]:
    return [part.strip() for part in settings.likeness_previous_keys.split(",") if part.strip()]


def check_likeness_key(settings: Settings) -> None:
    """Raise :class:`LikenessKeyError` for a malformed key (the service refuses to start)."""
    if settings.likeness_key and _decode(settings.likeness_key) is None:
        raise LikenessKeyError(
            "HASHWALL_LIKENESS_KEY must be URL-safe base64 of 32 bytes "
            "(`hashwall likeness keygen FILE` writes one)"
        )
    for position, value in enumerate(_previous(settings), start=1):
        if _decode(value) is None:
            raise LikenessKeyError(
                f"HASHWALL_LIKENESS_PREVIOUS_KEYS: key {position} is not URL-safe base64 of "
                "32 bytes (give the old keys comma-separated, as their key files hold them)"
            )
    if _previous(settings) and not settings.likeness_key:
        raise LikenessKeyError(
            "HASHWALL_LIKENESS_PREVIOUS_KEYS is set but HASHWALL_LIKENESS_KEY is not: "
            "previous keys only decrypt; set the key new templates are stored under"
        )


def service_key(settings: Settings) -> TemplateKey | None:
    """The AES-256 key templates are stored under; ``None`` in production without a key
    (likeness protection is then off: its endpoints answer 503, and a worker refuses to start
    if the database already holds templates)."""
    raw = _decode(settings.likeness_key) if settings.likeness_key else None
    if raw is None:
        if settings.env == "production":
            return None
        raw = _development_key(settings.secret_key)
    return TemplateKey(raw_key=raw)


def _development_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"hashwall-likeness-development-key", hashlib.sha256).digest()


def service_keyring(settings: Settings) -> KeyRing | None:
    """The current key plus the retired keys still accepted for reading (key rotation);
    ``None`` when :func:`service_key` is ``None``."""
    current = service_key(settings)
    if current is None:
        return None
    previous = [_decode(value) for value in _previous(settings)]
    if not settings.likeness_key:  # development: templates written under the published secret
        previous += [_development_key(old) for old in settings.legacy_secret_keys()]
    return KeyRing(current, tuple(TemplateKey(raw_key=raw) for raw in previous if raw))


def new_revocation_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str, secret: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def token_matches(token: str, stored_hash: str, secret: str, legacy: tuple[str, ...] = ()) -> bool:
    """Whether ``token`` is the one hashed into ``stored_hash`` under ``secret`` (or under a
    legacy secret: development tokens issued under the published default)."""
    return any(
        hmac.compare_digest(hash_token(token, key), stored_hash) for key in (secret, *legacy)
    )
