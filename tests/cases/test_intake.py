"""Intake: one clear message per bad field, and nothing stored unless the whole request is valid."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hashwall.cases.audit import JsonlAuditStore, check
from hashwall.cases.deadlines import DeadlineConfig, Jurisdiction
from hashwall.cases.intake import GOOD_FAITH_STATEMENT, IntakeError, receive, validate_request
from tests.cases.conftest import START, FakeClock

PDQ = "f" * 64


def valid(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "requester_name": "Alex Example",
        "contact_email": "alex@example.org",
        "relation": "depicted_person",
        "urls": ["https://platform.example/p/123"],
        "hashes": [{"signal_type": "PDQ", "signal_value": PDQ.upper()}],
        "good_faith": True,
        "signature": {"full_name": "alex  example", "signed_at": START.isoformat()},
        "jurisdiction": "US",
    }
    request.update(changes)
    return {key: value for key, value in request.items() if value is not None}


def errors_of(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(IntakeError) as caught:
        validate_request(raw, START)
    return {error.field: error.message for error in caught.value.errors}


def test_a_valid_request_is_normalised() -> None:
    request = validate_request(valid(), START)
    assert request.hashes[0].signal_type == "pdq" and request.hashes[0].signal_value == PDQ
    assert request.jurisdiction is Jurisdiction.US


def test_every_missing_field_is_named() -> None:
    identity = "is required (only a report of a picture or video taken when the person shown was "
    assert errors_of({}) == {
        "requester_name": identity + "under 18 may leave it out)",
        "contact_email": identity + "under 18 may leave it out)",
        "relation": "is required",
        "good_faith": "is required",
        "signature": identity + "under 18 may leave it out)",
        "jurisdiction": "is required",
    }


def test_an_under_18_report_may_be_anonymous() -> None:
    """DSA Art. 16(2)(c): no name or email needed for child sexual abuse material."""
    anonymous = valid(requester_name="", contact_email="", signature=None, under_18=True)
    request = validate_request(anonymous, START)
    assert request.under_18 and request.anonymous
    assert set(errors_of({**anonymous, "under_18": False})) == {
        "requester_name",
        "contact_email",
        "signature",
    }
    # Given anyway, they are still checked.
    assert "contact_email" in errors_of({**anonymous, "contact_email": "nope"})


def test_field_messages() -> None:
    found = errors_of(
        valid(
            contact_email="not-an-email",
            relation="friend",
            urls=["ftp://x.example/a", "https://ok.example"],
            hashes=[{"signal_type": "pdq", "signal_value": "abc"}],
            good_faith=False,
            jurisdiction="FR",
            extra="x",
        )
    )
    assert found["contact_email"].startswith("is not an email address")
    assert found["relation"] == "must be depicted_person or authorised"
    assert found["urls"].startswith("item 0 is not an http(s) URL")
    assert "hashes.0" in found and "pdq" in found["hashes.0"]
    assert GOOD_FAITH_STATEMENT in found["good_faith"]
    assert found["jurisdiction"] == "must be one of US, AU, UK, EU"
    assert found["extra"] == "is not a field of a removal request"


def test_cross_field_rules() -> None:
    found = errors_of(
        valid(
            relation="authorised",
            urls=[],
            hashes=[],
            signature={
                "full_name": "Someone Else",
                "signed_at": (START + timedelta(hours=1)).isoformat(),
            },
        )
    )
    assert set(found) == {
        "authority_description",
        "content",
        "signature.full_name",
        "signature.signed_at",
    }
    assert "at least one URL, catalog id or hash" in found["content"]
    authorised = valid(relation="authorised", authority_description="Parent of the depicted minor")
    assert validate_request(authorised, START).relation == "authorised"
    naive = valid(signature={"full_name": "Alex Example", "signed_at": "2026-05-19T09:00:00"})
    assert "timezone" in errors_of(naive)["signature.signed_at"]


def test_receive_writes_one_entry_or_nothing(tmp_path: Path) -> None:
    clock = FakeClock()
    audit = JsonlAuditStore(tmp_path / "audit.jsonl", clock)
    with pytest.raises(IntakeError):
        receive(valid(contact_email=""), clock=clock, audit=audit, deadlines=DeadlineConfig())
    assert not audit.path.exists()  # nothing stored half-way
    receipt = receive(
        valid(jurisdiction="AU"),
        clock=clock,
        audit=audit,
        deadlines=DeadlineConfig(),
        case_ids=lambda now: "C-TEST",
    )
    assert receipt.case_id == "C-TEST"
    # The platform's regimes set the deadline, not where the requester lives: the soonest is
    # a 24 h internal target, the US 48 h the legal deadline behind it.
    assert receipt.due_at == START + timedelta(hours=24) and not receipt.statutory_deadline
    assert receipt.legal_due_at == START + timedelta(hours=48)
    [entry] = audit.entries_for_case("C-TEST")
    assert entry.data["legal_due_at"] == receipt.legal_due_at.isoformat()
    assert entry.data["deadline_basis"] == receipt.deadline_basis
    assert entry.action == "case.received" and entry.data["request"]["jurisdiction"] == "AU"
    assert entry.data["good_faith_statement"] == GOOD_FAITH_STATEMENT
    assert check(audit).intact


def test_case_ids_look_right() -> None:
    from hashwall.cases.intake import new_case_id

    first, second = new_case_id(START), new_case_id(START)
    assert first.startswith("C-20260519-") and len(first) == 19 and first != second


def test_uk_report_elements_are_checked() -> None:
    from hashwall.cases.uk_report import UK_REPORT_ELEMENTS, uk_report_gaps

    assert uk_report_gaps(validate_request(valid(), START)) == []
    assert uk_report_gaps(validate_request(valid(urls=[]), START)) == ["location"]
    anonymous = valid(requester_name="", contact_email="", signature=None, under_18=True)
    gaps = uk_report_gaps(validate_request(anonymous, START))
    assert gaps == ["reporter", "declaration", "contact"]
    assert [e.name for e in UK_REPORT_ELEMENTS] == [
        "reporter",
        "location",
        "declaration",
        "contact",
    ]
