"""The counts a scan ends with: what was seen, hashed and matched, and every skip by name."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hashwall.scan.skips import Skip

#: Skips about a whole archive or file rather than one item inside it.
_SOURCE_LEVEL = frozenset({Skip.TRUNCATED_WARC, Skip.UNREADABLE_SOURCE})


@dataclass
class Summary:
    items_seen: int = 0
    media_hashed: int = 0
    matched_items: int = 0
    matches: int = 0
    units_done: int = 0
    units_resumed: int = 0
    seconds: float = 0.0
    worker_cpu_seconds: float = 0.0
    skips: Counter[str] = field(default_factory=Counter)

    def skipped(self, reason: Skip) -> None:
        self.skips[str(reason)] += 1
        if reason not in _SOURCE_LEVEL:
            self.items_seen += 1

    def as_json(self) -> dict[str, Any]:
        rate = self.media_hashed / self.seconds if self.seconds > 0 else 0.0
        return {
            "items_seen": self.items_seen,
            "media_hashed": self.media_hashed,
            "matched_items": self.matched_items,
            "matches": self.matches,
            "units_done": self.units_done,
            "units_resumed": self.units_resumed,
            "seconds": round(self.seconds, 3),
            "media_per_second": round(rate, 2),
            "worker_cpu_seconds": round(self.worker_cpu_seconds, 3),
            "skips": dict(sorted(self.skips.items())),
        }
