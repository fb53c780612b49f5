"""Secrets the server must read back in clear (webhook signing keys), sealed at rest.

An HMAC signing secret cannot be stored as a one-way hash like an API key: the server needs
it to sign every delivery. Stored in clear, a copied database or backup would let anyone
forge calls that a platform's takedown endpoint trusts. So each such secret is encrypted with
AES-256-GCM under a key derived (HKDF-SHA256) from ``HASHWALL_SECRET_KEY``, the secret that
already peppers API keys; a database dump alone is then useless.

Why these choices:

* the *purpose* string is the GCM associated data and part of the key derivation, so a
  ciphertext sealed for one column cannot be replayed into another;
* values written before sealing existed (plain text, no prefix) still read, and
  :func:`needs_sealing` lets start-up re-seal them, so upgrading loses no webhook;
* a changed ``HASHWALL_SECRET_KEY`` makes sealed values unreadable: :class:`UnsealError`
  says so plainly instead of signing with garbage.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "sealed:v1:"
_NONCE_BYTES = 12


class UnsealError(ValueError):
    """A sealed value that does not open under the current secret key."""


def _key(secret_key: str, purpose: str) -> bytes:
    derive = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"hashwall sealed secrets",
        info=purpose.encode(),
    )
    return derive.derive(secret_key.encode())


def seal(secret_key: str, plaintext: str, *, purpose: str) -> str:
    """``sealed:v1:<urlsafe base64 of nonce + ciphertext + tag>``."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key(secret_key, purpose)).encrypt(nonce, plaintext.encode(), purpose.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def unseal(secret_key: str, stored: str, *, purpose: str) -> str:
    """The clear value; a legacy clear value (no prefix) is returned as it is."""
    if not stored.startswith(PREFIX):
        return stored
    body = stored[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        return AESGCM(_key(secret_key, purpose)).decrypt(nonce, sealed, purpose.encode()).decode()
    except (InvalidTag, ValueError) as error:
        raise UnsealError(
            f"a stored {purpose} cannot be decrypted: HASHWALL_SECRET_KEY differs from the key "
            "it was sealed with (restore that key, or recreate the secret)"
        ) from error


def needs_sealing(stored: str) -> bool:
    return not stored.startswith(PREFIX)
