"""Decide whether two fingerprints show the same content, and match media against a hash list.

Works fully offline on a survivor's or moderator's machine; the server reuses the same rules.
"""

from hashwall.matching.compare import PhotoComparison, compare_photos, compare_records
from hashwall.matching.hashlist import HashList, HashListEntry, HashListError, load_hash_list
from hashwall.matching.matcher import ListMatch, Matcher

__all__ = [
    "HashList",
    "HashListEntry",
    "HashListError",
    "ListMatch",
    "Matcher",
    "PhotoComparison",
    "compare_photos",
    "compare_records",
    "load_hash_list",
]
