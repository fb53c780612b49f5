"""From findings to a case file: group matches by host and write what ``hashwall notice
generate`` reads (requester, hosts with their URLs, hashes and evidence notes).

Only findings with an http(s) URL can become notices (a match in a local folder has no host to
notify); they are counted and left out. The requester's details are the user's to give: the
scan does not know who asks or on whose behalf.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ReportError(ValueError):
    """A findings file that cannot be read, or findings with nothing to notify."""


@dataclass
class HostGroup:
    host: str
    urls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        count = sum(len(found) for found in self.urls.values())
        return {"host": self.host, "urls": len(self.urls), "findings": count}


@dataclass(frozen=True)
class Requester:
    name: str
    email: str
    relation: str
    jurisdiction: str
    description: str
    case_id: str
    host_jurisdiction: str | None = None
    authority: str | None = None
    #: The requester's typed full name, signing the notices (``notice generate`` asks for it).
    signature: str | None = None


def read_findings(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"{path}: cannot read ({error})") from None
    found = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            raise ReportError(f"{path} line {number}: not a JSON finding line") from None
        if not isinstance(data, dict) or "source" not in data:
            raise ReportError(f"{path} line {number}: not a finding (no 'source')")
        found.append(data)
    return found


def finding_url(data: dict[str, Any]) -> str | None:
    """The URL to ask removal for: where the content was served (after redirects)."""
    source = data.get("source") or {}
    url = source.get("final_url") or source.get("url")
    if isinstance(url, str) and urlsplit(url).scheme in ("http", "https"):
        return url
    return None


def group_by_host(findings: list[dict[str, Any]]) -> tuple[list[HostGroup], int]:
    """Hosts sorted by name with their URLs, and how many findings had no URL."""
    groups: dict[str, HostGroup] = {}
    without_url = 0
    for data in findings:
        url = finding_url(data)
        host = urlsplit(url).hostname if url else None
        if url is None or not host:
            without_url += 1
            continue
        groups.setdefault(host, HostGroup(host)).urls.setdefault(url, []).append(data)
    return [groups[name] for name in sorted(groups)], without_url


def case_mapping(groups: list[HostGroup], who: Requester) -> dict[str, Any]:
    """The case file as a mapping (validated by :func:`hashwall.cases.casefile.load_case`)."""
    if not groups:
        raise ReportError("no finding has an http(s) URL: there is no host to send notices to")
    case: dict[str, Any] = {
        "case_id": who.case_id,
        "requester": {"name": who.name, "email": who.email},
        "relation": who.relation,
        "jurisdiction": who.jurisdiction,
        "description": who.description,
        "evidence_notes": _evidence(groups),
        "hashes": _hashes(groups),
        "hosts": [
            {
                "name": group.host,
                "jurisdiction": who.host_jurisdiction or who.jurisdiction,
                "urls": [{"url": url} for url in group.urls],
            }
            for group in groups
        ],
    }
    if who.authority:
        case["authority"] = who.authority
    if who.signature:
        case["signature"] = who.signature
    return case


def _hashes(groups: list[HostGroup]) -> list[dict[str, str]]:
    digests = {
        data["sha256"]
        for group in groups
        for found in group.urls.values()
        for data in found
        if isinstance(data.get("sha256"), str)
    }
    return [{"signal_type": "sha256", "signal_value": value} for value in sorted(digests)]


def _evidence(groups: list[HostGroup]) -> str:
    """One line per URL: what it matched, how closely, and when and where it was seen."""
    lines = ["Found by hashwall scan (perceptual and exact hash matching against known images):"]
    for group in groups:
        for url, found in group.urls.items():
            best = min(found, key=lambda data: int(data.get("distance", 0)))
            entry = best.get("entry") or {}
            seen = best.get("time") or "time unknown"
            where = best["source"].get("record_id") or "fetched directly"
            line = (
                f"- {url}: matches {entry.get('label', 'a known image')} "
                f"({best.get('signal')} distance {best.get('distance')}), seen {seen}, {where}"
            )
            declared = next(
                filter(None, (_declared_ai(f.get("provenance") or {}) for f in found)), ""
            )
            if declared:
                line += f"; the file declares a generative-AI origin ({declared})"
            lines.append(line)
    return "\n".join(lines)


def _declared_ai(provenance: dict[str, Any]) -> str:
    """Where the file declares a generative-AI origin (signed C2PA first), or ''."""
    parts = []
    for kind, label in (("c2pa", "C2PA manifest"), ("xmp", "XMP")):
        found = provenance.get(kind) or {}
        if found.get("generative_ai"):
            parts.append(f"{label}: {found.get('digital_source_type')}")
    return ", ".join(parts)
