"""Key rotation for templates encrypted at rest: one current key, retired keys still readable.

Why a ring rather than a single key: re-encrypting every stored template cannot happen at the same
instant as every worker learns the new key. During a rotation workers are configured with the new
key as current and the old one as previous: they read rows under either, write new rows under the
current key, and a rotation run re-encrypts the remaining old rows. Afterwards the old key can be
dropped from the configuration (and destroyed), and nothing stored needs it any more.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashwall.likeness.errors import WrongKeyError
from hashwall.likeness.templates import (
    Template,
    TemplateKey,
    template_from_bytes,
    template_to_bytes,
)


@dataclass(frozen=True)
class Opened:
    """A decrypted template and whether it was stored under the ring's current key."""

    template: Template
    under_current_key: bool


@dataclass(frozen=True)
class KeyRing:
    """Encrypts with ``current``; decrypts with ``current`` or any of ``previous``."""

    current: TemplateKey
    previous: tuple[TemplateKey, ...] = ()

    def seal(self, template: Template) -> bytes:
        """``template`` encrypted under the current key (fresh nonce)."""
        return template_to_bytes(template, self.current)

    def open(self, data: bytes, name: str) -> Opened:
        """Decrypt ``data`` with the first key that fits.

        A corrupt envelope fails at once with its own message; only a key mismatch moves on to the
        next key. When none fits, :class:`WrongKeyError` says how many keys were tried (never the
        keys themselves).
        """
        for position, key in enumerate((self.current, *self.previous)):
            try:
                template = template_from_bytes(data, key, name)
            except WrongKeyError:
                continue
            return Opened(template, under_current_key=position == 0)
        tried = 1 + len(self.previous)
        raise WrongKeyError(
            f"{name}: cannot decrypt template with any of the {tried} configured key(s): it was "
            "stored under another key, or it was altered"
        )

    def reseal(self, data: bytes, name: str) -> bytes | None:
        """``data`` re-encrypted under the current key, or None if it already is.

        Raises :class:`~hashwall.likeness.errors.TemplateError` when no key opens it, so a
        caller can stop before writing anything.
        """
        opened = self.open(data, name)
        if opened.under_current_key:
            return None
        return self.seal(opened.template)
