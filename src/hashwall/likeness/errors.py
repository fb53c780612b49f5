"""Exceptions with one-line messages a person can act on (they end up on stderr as they are)."""

from __future__ import annotations


class LikenessError(Exception):
    """Base class: anything in likeness protection that a user can fix or must know about."""


class ModelError(LikenessError):
    """A model package is missing, altered or cannot be loaded."""


class EnrolmentError(LikenessError):
    """A photo cannot be enrolled (no face, several faces, photos of different people...)."""


class TemplateError(LikenessError):
    """A template file is unreadable, corrupt, encrypted with another key, or incompatible."""


class WrongKeyError(TemplateError):
    """An encrypted template does not open with the given key (or its ciphertext was altered).

    Separate from other :class:`TemplateError` so a key ring can try its next key, while a corrupt
    envelope fails at once with its own message.
    """
