"""Turn files into fingerprints: the hashing pipeline behind ``hashwall hash`` (on-device).

``HashMode`` and ``HashOptions`` are light; the rest (numpy, Pillow, FFmpeg) loads on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hashwall.hashing.options import HashMode, HashOptions

if TYPE_CHECKING:
    from hashwall.hashing.batch import BatchItem, collect_media_files, hash_many
    from hashwall.hashing.pipeline import hash_file
    from hashwall.hashing.record import HashRecord

_WHERE = {
    "BatchItem": "batch",
    "collect_media_files": "batch",
    "hash_many": "batch",
    "hash_file": "pipeline",
    "HashRecord": "record",
}

__all__ = [
    "BatchItem",
    "HashMode",
    "HashOptions",
    "HashRecord",
    "collect_media_files",
    "hash_file",
    "hash_many",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"hashwall.hashing.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'hashwall.hashing' has no attribute {name!r}")
