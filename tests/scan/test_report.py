"""Findings grouped by host into a case file's hosts, URLs, hashes and evidence notes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hashwall.scan.report import (
    ReportError,
    Requester,
    case_mapping,
    group_by_host,
    read_findings,
)

WHO = Requester("A. Advocate", "a@hotline.example.org", "depicted_person", "US", "d", "c-1")


def finding(url: str | None, distance: int, **extra: Any) -> dict[str, Any]:
    source = {"url": url, "record_id": "<urn:uuid:1>"} if url else {"path": "/x.jpg"}
    return {
        "source": source,
        "time": "2026-01-01T00:00:00Z",
        "sha256": "ab" * 32,
        "entry": {"line": 1, "label": "case-17"},
        "signal": "pdq",
        "distance": distance,
        **extra,
    }


def test_hosts_urls_and_evidence() -> None:
    declared = {"c2pa": {"generative_ai": True, "digital_source_type": "trainedAlgorithmicMedia"}}
    findings = [
        finding("https://b.example/2.jpg", 20),
        finding("https://a.example/1.jpg", 9, provenance={**declared, "generative_ai": True}),
        finding("https://a.example/1.jpg", 4),
        finding(None, 0),
        {
            **finding("https://b.example/3.jpg", 1),
            "source": {"url": "https://b.example/3.jpg", "final_url": "https://c.example/3"},
        },
    ]
    groups, without_url = group_by_host(findings)
    assert without_url == 1
    assert [(g.host, sorted(g.urls)) for g in groups] == [
        ("a.example", ["https://a.example/1.jpg"]),
        ("b.example", ["https://b.example/2.jpg"]),
        ("c.example", ["https://c.example/3"]),
    ]
    case = case_mapping(groups, WHO)
    assert [h["name"] for h in case["hosts"]] == ["a.example", "b.example", "c.example"]
    assert case["hashes"] == [{"signal_type": "sha256", "signal_value": "ab" * 32}]
    notes = case["evidence_notes"].splitlines()
    assert "https://a.example/1.jpg: matches case-17 (pdq distance 4)" in notes[1]
    assert "declares a generative-AI origin (C2PA manifest: trainedAlgorithmicMedia)" in notes[1]
    assert "generative-AI" not in notes[2]
    assert len(notes) == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json\n", "line 1: not a JSON finding line"),
        (b'\n["a list"]\n', "line 2: not a finding (no 'source')"),
        (b'{"signal": "pdq"}\n', "line 1: not a finding (no 'source')"),
        (b"\xff\xfe\x00", "cannot read"),
    ],
)
def test_broken_findings_files_are_refused_by_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "findings.jsonl"
    path.write_bytes(content)
    with pytest.raises(ReportError, match=re.escape(message)):
        read_findings(path)
    with pytest.raises(ReportError, match="cannot read"):
        read_findings(tmp_path / "missing.jsonl")
