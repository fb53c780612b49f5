"""What flows through a scan: items (one media payload with where it came from), skips, and
the per-item outcome a worker sends back. All plain data, so they pickle to worker processes
and Ray tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hashwall.scan.skips import Skip


@dataclass(frozen=True)
class ScanItem:
    """One candidate media payload.

    ``unit`` is the checkpoint unit it belongs to (a file, a WARC, a URL). The bytes travel in
    ``payload``; items from a local folder carry ``path`` instead, so a local scan never copies
    a file just to hash it.
    """

    unit: str
    source: dict[str, Any]
    time: str | None = None
    content_type: str | None = None
    payload: bytes | None = None
    path: str | None = None


@dataclass(frozen=True)
class Skipped:
    """Something a source could not turn into an item, with its named reason."""

    unit: str
    reason: Skip
    source: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


@dataclass(frozen=True)
class ItemResult:
    """A worker's answer for one item: finding lines, or the reason it was not hashed."""

    unit: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    skip: Skip | None = None
    source: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    #: CPU time the worker spent on the item: a per-core rate that neighbours on a shared
    #: machine do not distort (benchmarks/scan_bench.py, docs/scan.md's scaling model).
    cpu_seconds: float = 0.0
