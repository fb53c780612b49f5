"""The service secret (``HASHWALL_SECRET_KEY``): where it comes from and what is strong enough.

Everything the server signs or peppers is keyed from it: reviewer session cookies and form
tokens, API-key hashes, sealed webhook secrets, throttle keys, likeness revocation tokens (and
in development the likeness template key). Versions before this one shipped a development
default in the source, so anyone could sign a reviewer session cookie for a development server.
Now there is no default:

* development without ``HASHWALL_SECRET_KEY`` generates 32 random bytes on first start into
  ``<data dir>/secret-key`` (mode 0600, created atomically so concurrent starts agree) and
  reuses that file afterwards;
* production demands an explicit value of at least 32 random bytes (64 hex digits or 43
  base64 characters) and refuses low-entropy ones (repeated or sequential characters, few
  distinct characters) with a start-up error that says how to make a good one. No file is
  generated there: several hosts sharing a database need the same key, and a key lost with a
  container's disk would invalidate every API key;
* the published value is refused everywhere. Data a development server wrote under it stays
  readable (:data:`PUBLISHED_DEVELOPMENT_SECRET`, used for reading only, never for signing).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import secrets
import string
from collections import Counter
from pathlib import Path

from hashwall.store.private_files import private_dir

#: The development default of earlier versions. It is public, so nothing is ever signed with
#: it; in development only, values written under it (API-key hashes, sealed webhook secrets,
#: likeness templates and revocation tokens) are still accepted for reading and re-keyed.
PUBLISHED_DEVELOPMENT_SECRET = "hashwall-development-secret-change-me"
SECRET_FILE = "secret-key"
#: The strength production demands: 32 random bytes.
MIN_BITS = 256
_MIN_DISTINCT = 12
_MIN_BITS_PER_CHAR = 3.0
_ADVICE = (
    "e.g. `openssl rand -hex 32` or `python -c 'import secrets; print(secrets.token_hex(32))'`"
)


class SecretKeyError(RuntimeError):
    """A secret the service refuses to start with; the message says why and what to do."""


def _alphabet_bits(value: str) -> float:
    """Bits per character if ``value`` were random over the smallest usual alphabet holding it
    (hex, base64, printable ASCII): an upper bound of its strength."""
    if all(c in string.hexdigits for c in value):
        size = 16
    elif all(c in string.ascii_letters + string.digits + "+/-_=" for c in value):
        size = 64
    else:
        size = 95
    return math.log2(size)


def _shannon_bits_per_char(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _is_periodic(value: str) -> bool:
    """Whether ``value`` repeats a shorter unit (``abcabcabc``)."""
    return value in (value + value)[1:-1]


def _is_sequential(value: str) -> bool:
    """Whether most neighbouring characters are consecutive (``abcdef...``, ``0123...``)."""
    steps = [abs(ord(b) - ord(a)) for a, b in itertools.pairwise(value)]
    return sum(step == 1 for step in steps) * 2 > len(steps)


def weakness(value: str) -> str | None:
    """Why ``value`` is not a production secret (a sentence), or ``None`` when it is one."""
    if value == PUBLISHED_DEVELOPMENT_SECRET:
        return "it is the development default published in hashwall's source"
    if len(value) * _alphabet_bits(value) < MIN_BITS:
        return (
            f"it is {len(value)} characters: at least 32 random bytes are needed "
            "(64 hex digits or 43 base64 characters)"
        )
    if (
        len(set(value)) < _MIN_DISTINCT
        or _shannon_bits_per_char(value) < _MIN_BITS_PER_CHAR
        or _is_periodic(value)
        or _is_sequential(value)
    ):
        return "it does not look random (repeated, sequential or too few distinct characters)"
    return None


def check_production_secret(value: str) -> None:
    """Raise :class:`SecretKeyError` unless ``value`` is a strong, explicit secret."""
    if not value:
        raise SecretKeyError(
            "HASHWALL_ENV=production needs HASHWALL_SECRET_KEY: set it to at least 32 random "
            f"bytes, {_ADVICE}, the same on every host of one database"
        )
    reason = weakness(value)
    if reason is not None:
        raise SecretKeyError(f"HASHWALL_SECRET_KEY is refused: {reason}; use {_ADVICE}")


def development_secret(data_dir: Path) -> str:
    """The secret in ``data_dir/secret-key``, generated there (mode 0600) on first use."""
    try:
        return _read_or_create(data_dir, data_dir / SECRET_FILE)
    except OSError as error:
        raise SecretKeyError(
            f"cannot keep the development secret key in {data_dir} ({error.strerror or error}): "
            "choose a writable data directory or set HASHWALL_SECRET_KEY"
        ) from None


def _read_or_create(data_dir: Path, path: Path) -> str:
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    private_dir(data_dir)
    temporary = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    value = path.read_text(encoding="ascii").strip()
    if not value:
        raise SecretKeyError(f"{path} is empty: delete it to generate a new secret key")
    return value
