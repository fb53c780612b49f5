"""Evidence packs: contents, verification hash, no media by default, tampering reported."""

from __future__ import annotations

import hashlib
import json
from io import BytesIO
from pathlib import Path

import pytest

from hashwall.cases.audit import JsonlAuditStore
from hashwall.cases.deadlines import DeadlineConfig
from hashwall.cases.evidence import EvidenceError, export_pack, verification_hash_of
from hashwall.cases.intake import receive
from hashwall.cases.states import CaseEvent, CaseStatus, apply
from tests.cases.conftest import FakeClock
from tests.cases.test_intake import valid

pypdf = pytest.importorskip("pypdf")


def _case(tmp_path: Path) -> tuple[JsonlAuditStore, str, FakeClock]:
    clock = FakeClock()
    audit = JsonlAuditStore(tmp_path / "audit.jsonl", clock)
    receipt = receive(valid(), clock=clock, audit=audit, deadlines=DeadlineConfig())
    receive(valid(), clock=clock, audit=audit, deadlines=DeadlineConfig())  # another case
    status = CaseStatus()
    for event in (CaseEvent.START_REVIEW, CaseEvent.ACTION, CaseEvent.NOTIFY):
        clock.advance(hours=1)
        status = apply(status, event)
        audit.append(
            actor="reviewer:3", action=f"case.{status.state.value}", case_id=receipt.case_id
        )
    return audit, receipt.case_id, clock


def test_pack_contents_and_verification_hash(tmp_path: Path) -> None:
    audit, case_id, clock = _case(tmp_path)
    media = tmp_path / "photo.jpg"
    media.write_bytes(b"not really a photo")
    with pytest.raises(EvidenceError, match="hashes only"):
        export_pack(
            case_id=case_id, case_record={}, audit=audit, out_dir=tmp_path / "x",
            now=clock.now(), media=[media],
        )  # fmt: skip
    pack = export_pack(
        case_id=case_id,
        case_record={"case_id": case_id, "state": "requester_notified"},
        audit=audit,
        out_dir=tmp_path / "pack",
        now=clock.now(),
    )
    names = sorted(p.name for p in pack.folder.iterdir())
    assert names == ["SHA256SUMS", "evidence.json", "summary.pdf"]  # no media by default
    document = json.loads((pack.folder / "evidence.json").read_text())
    assert [e["action"] for e in document["audit"]["entries"]] == [
        "case.received",
        "case.under_review",
        "case.actioned",
        "case.requester_notified",
    ]
    assert document["audit"]["chain"] == {
        "intact": True,
        "entries": 5,
        "head": str(audit.head()),
        "problem": None,
    }
    assert verification_hash_of(pack.folder / "evidence.json") == pack.verification_hash
    sums = (pack.folder / "SHA256SUMS").read_text()
    for name in ("evidence.json", "summary.pdf"):
        digest = hashlib.sha256((pack.folder / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in sums
    assert pack.verification_hash in sums
    reader = pypdf.PdfReader(BytesIO((pack.folder / "summary.pdf").read_bytes()))
    text = " ".join("".join(page.extract_text() for page in reader.pages).split())
    assert pack.verification_hash in text and "Audit chain: intact" in text

    with_media = export_pack(
        case_id=case_id, case_record={}, audit=audit, out_dir=tmp_path / "pack2",
        now=clock.now(), media=[media], include_media=True,
    )  # fmt: skip
    assert (with_media.folder / "media" / "photo.jpg").read_bytes() == media.read_bytes()
    assert "media/photo.jpg" in (with_media.folder / "SHA256SUMS").read_text()
    with pytest.raises(EvidenceError, match="not empty"):
        export_pack(
            case_id=case_id, case_record={}, audit=audit, out_dir=tmp_path / "pack",
            now=clock.now(),
        )  # fmt: skip


def test_tampered_chain_is_reported_in_the_pack(tmp_path: Path) -> None:
    audit, case_id, clock = _case(tmp_path)
    lines = audit.path.read_text().splitlines()
    lines[3] = lines[3].replace("reviewer:3", "reviewer:9")
    audit.path.write_text("\n".join(lines) + "\n")
    pack = export_pack(
        case_id=case_id, case_record={}, audit=audit, out_dir=tmp_path / "pack", now=clock.now()
    )
    chain = json.loads((pack.folder / "evidence.json").read_text())["audit"]["chain"]
    assert not pack.chain_intact and chain["intact"] is False
    assert chain["problem"].startswith("entry #4 (seq 4): hash does not match")
