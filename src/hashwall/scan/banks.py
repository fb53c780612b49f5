"""The banks a scan matches against, loaded once per worker process (or Ray worker).

A bank is a ``hashwall hash`` JSON-lines list, a ``signal_type,signal_value`` CSV (HMA's), or
a python-threatexchange list (``--format pytx`` / ``pytx-csv`` of ``hashwall exchange
export``); all load through :func:`hashwall.matching.load_hash_list`, and matching
goes through the same :class:`~hashwall.matching.Matcher` as ``hashwall match``: the same
thresholds, rotation/flip and border variants, and signal types (md5, sha256, PDQ, vPDQ).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hashwall.signals.thresholds import PDQ_DISTANCE_THRESHOLD, PDQ_QUALITY_THRESHOLD

if TYPE_CHECKING:
    from hashwall.matching import Matcher


@dataclass(frozen=True)
class BankSpec:
    """Where the banks are and how strictly to match: small enough to send to every worker."""

    paths: tuple[str, ...]
    max_distance: int = PDQ_DISTANCE_THRESHOLD
    min_quality: int = PDQ_QUALITY_THRESHOLD


@dataclass(frozen=True)
class Bank:
    name: str
    matcher: Matcher
    size: int


_LOADED: dict[BankSpec, list[Bank]] = {}


def load_banks(spec: BankSpec) -> list[Bank]:
    """Load (or reuse, in this process) every bank of ``spec``; raises ``HashListError``."""
    if spec not in _LOADED:
        from hashwall.matching import Matcher, load_hash_list

        banks = []
        for path in spec.paths:
            hash_list = load_hash_list(Path(path))
            matcher = Matcher(
                hash_list, distance_threshold=spec.max_distance, quality_threshold=spec.min_quality
            )
            banks.append(Bank(Path(path).name, matcher, len(hash_list.entries)))
        _LOADED.clear()  # one spec per process: a long-lived Ray worker does not pile banks up
        _LOADED[spec] = banks
    return _LOADED[spec]
