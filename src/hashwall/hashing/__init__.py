"""Turn files into fingerprints: the hashing pipeline behind ``hashwall hash`` (on-device)."""

from hashwall.hashing.batch import BatchItem, collect_media_files, hash_many
from hashwall.hashing.options import HashMode, HashOptions
from hashwall.hashing.pipeline import hash_file
from hashwall.hashing.record import HashRecord

__all__ = [
    "BatchItem",
    "HashMode",
    "HashOptions",
    "HashRecord",
    "collect_media_files",
    "hash_file",
    "hash_many",
]
