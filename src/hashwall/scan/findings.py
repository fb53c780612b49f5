"""One finding line per (item, matched bank entry): where it was found and the evidence that
it matches, never the media itself (only its SHA-256, to tie a later download to the match)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashwall.hashing.record import HashRecord
    from hashwall.matching.matcher import ListMatch
    from hashwall.scan.items import ScanItem


def finding(
    item: ScanItem,
    record: HashRecord,
    bank: str,
    match: ListMatch,
    provenance: dict[str, Any] | None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source": item.source,
        "time": item.time,
        "content_type": item.content_type,
        "media": str(record.content_type),
        "sha256": record.sha256,
        "bank": bank,
        "entry": match.entry.describe(),
        "signal": match.signal,
        "distance": match.distance,
    }
    if match.query_variant is not None:
        data["variant"] = match.query_variant
    if match.query_match_percent is not None:
        data["query_match_percent"] = match.query_match_percent
        data["compared_match_percent"] = match.compared_match_percent
    if provenance is not None:
        data["provenance"] = provenance
    return data


def finding_key(data: dict[str, Any]) -> tuple[str, ...]:
    """What makes two finding lines the same (to drop duplicates when a scan resumes)."""
    source = data.get("source", {})
    where = tuple(str(source.get(k)) for k in sorted(source))
    entry = data.get("entry", {})
    return (*where, str(data.get("bank")), str(entry.get("line")), str(entry.get("label")))
