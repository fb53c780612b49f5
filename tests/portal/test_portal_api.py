"""The portal API: cases from hash records, case number + PIN, status, withdrawal, throttles."""

from __future__ import annotations

import json
import logging
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from hashwall.service.portal import verify_pin
from hashwall.service.routes.portal import CSP
from hashwall.store import create_database
from hashwall.store.portal_models import PortalCase
from tests.service.conftest import Api

CASE_NUMBER = re.compile(r"^HW-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$")
PIN = re.compile(r"^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$")
ELIGIBLE = {"adult": True, "depicted": True, "intimate": True, "consent": True}
PortalApi = Callable[..., Api]


def submit(api: Api, records: list[dict[str, Any]], **fields: Any) -> Any:
    return api.client.post("/v1/portal/cases", json={"records": records, **ELIGIBLE, **fields})


def create_case(api: Api, records: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    response = submit(api, records, **fields)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def status(api: Api, number: str, pin: str, what: str = "status") -> Any:
    return api.client.post(f"/v1/portal/cases/{what}", json={"case_number": number, "pin": pin})


def match(api: Api, record: dict[str, Any]) -> dict[str, Any]:
    response = api.call(
        "POST", "/v1/match/hashes", "matcher", json={"queries": [{"record": record}]}
    )
    assert response.status_code == 200, response.text
    return response.json()["results"][0]  # type: ignore[no-any-return]


def wrong(pin: str) -> str:
    """Another valid-looking PIN."""
    return ("2" if pin[0] != "2" else "3") + pin[1:]


def counts(status_body: dict[str, Any]) -> dict[str, int]:
    """Entry counts by state (other states, e.g. quarantined, may be listed too)."""
    entries = status_body["entries"]
    assert sum(v for k, v in entries.items() if k != "total") == entries["total"]
    return {k: entries[k] for k in ("total", "active", "withdrawn", "deleted")}


def field_of(response: Any) -> Any:
    error = response.json()["error"]
    return error[0]["field"] if isinstance(error, list) else error["field"]


def test_case_adds_matchable_entries_with_no_names(
    portal_api: PortalApi, records: list[dict[str, Any]]
) -> None:
    api = portal_api()
    response = submit(api, records)
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-security-policy"] == CSP
    created = response.json()
    assert set(created) == {"case_number", "pin", "entries"}
    assert CASE_NUMBER.match(created["case_number"]) and PIN.match(created["pin"])
    assert created["entries"] == 3

    (bank,) = [b for b in api.call("GET", "/v1/banks").json() if b["name"] == "portal"]
    listed = api.call("GET", f"/v1/banks/{bank['id']}/entries", "reviewer").json()["entries"]
    assert len(listed) == 3
    for entry, record in zip(listed, records, strict=True):
        assert (entry["source"], entry["case_ref"]) == ("portal", created["case_number"])
        assert entry["label"] == "" and entry["state"] == "active"
        values = {(s["signal_type"], s["variant"]): s["value"] for s in entry["signals"]}
        assert values[("pdq", "original")] == record["signals"]["pdq"]["hash"]
        assert values[("sha256", "original")] == record["signals"]["sha256"]
    # Matchable before the response returned: no waiting for the change log.
    result = match(api, records[1])
    # Public entries ask the platform for review; they do not make it act on its own.
    assert result["needs_review"] and not result["matched"]
    assert result["banks"][0]["bank"] == "portal"
    assert result["banks"][0]["matches"][0]["distance"] == 0

    # The PIN is stored only as a salted scrypt hash.
    db = create_database(api.settings.resolved_database_url())
    try:
        with db.session() as session:
            case = session.scalars(select(PortalCase)).one()
            stored = case.pin_hash
    finally:
        db.dispose()
    pin = created["pin"].replace("-", "")
    assert stored.startswith("scrypt$1024$8$1$") and pin not in stored
    assert verify_pin(pin, stored) and not verify_pin(wrong(pin), stored)


def test_names_are_kept_only_when_asked_and_the_bank_setting_is_used(
    portal_api: PortalApi, records: list[dict[str, Any]]
) -> None:
    api = portal_api(portal_bank="stopncii-portal")
    existing = api.create_bank("stopncii-portal")
    create_case(api, records[:1], include_names=True)
    listed = api.call("GET", f"/v1/banks/{existing['id']}/entries", "reviewer").json()["entries"]
    assert [e["label"] for e in listed] == [records[0]["path"]]
    assert [b["name"] for b in api.call("GET", "/v1/banks").json()] == ["stopncii-portal"]


def _bad(records: list[dict[str, Any]]) -> dict[str, tuple[Any, int, str]]:
    """name -> (body, status, field the error names)."""
    good = records[0]
    bad_pdq = json.loads(json.dumps(good))
    bad_pdq["signals"]["pdq"]["hash"] = "zz" * 32
    bad_md5 = {**good, "signals": {**good["signals"], "md5": "123"}}
    return {
        "empty body": (b"", 422, "body"),
        "not json": (b"{records:", 422, "body"),
        "not an object": ([1, 2], 422, "body"),
        "no records": ({"records": [], **ELIGIBLE}, 422, "body.records"),
        "too many records": ({"records": [good] * 6, **ELIGIBLE}, 422, "body.records"),
        "malformed pdq": ({"records": [good, bad_pdq], **ELIGIBLE}, 422, "body.records.1"),
        "malformed md5": ({"records": [bad_md5], **ELIGIBLE}, 422, "body.records.0"),
        "not a record": ({"records": [{"hello": 1}], **ELIGIBLE}, 422, "body.records.0"),
        "no hashes": (
            {"records": [{"content_type": "photo", "signals": {}}], **ELIGIBLE},
            422,
            "body.records.0.signals",
        ),
        "missing consent": (
            {"records": [good], **{**ELIGIBLE, "consent": None}},
            422,
            "body.consent",
        ),
        "consent as text": ({"records": [good], **ELIGIBLE, "consent": "yes"}, 422, "body.consent"),
        "unknown field": ({"records": [good], **ELIGIBLE, "email": "a@b.c"}, 422, "body.email"),
        "oversized": ({"records": [good], **ELIGIBLE, "pad": "x" * 70_000}, 413, "body"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "empty body",
        "not json",
        "not an object",
        "no records",
        "too many records",
        "malformed pdq",
        "malformed md5",
        "not a record",
        "no hashes",
        "missing consent",
        "consent as text",
        "unknown field",
        "oversized",
    ],
)
def test_bad_submissions_are_4xx_json_naming_the_field(
    portal_api: PortalApi, records: list[dict[str, Any]], case: str
) -> None:
    api = portal_api()
    body, expected, field = _bad(records)[case]
    if isinstance(body, bytes):
        response = api.client.post(
            "/v1/portal/cases", content=body, headers={"Content-Type": "application/json"}
        )
    else:
        if case == "missing consent":
            body = {k: v for k, v in body.items() if k != "consent"}
        response = api.client.post("/v1/portal/cases", json=body)
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/json"
    assert field_of(response) == field, response.text
    # Nothing was stored.
    assert all(b["name"] != "portal" for b in api.call("GET", "/v1/banks").json())


@pytest.mark.parametrize(
    ("answer", "words"),
    [("adult", "takeitdown.ncmec.org"), ("depicted", "person in the picture"),
     ("intimate", "intimate"), ("consent", "consent")],
)  # fmt: skip
def test_eligibility_answers_are_required(
    portal_api: PortalApi, records: list[dict[str, Any]], answer: str, words: str
) -> None:
    api = portal_api()
    response = submit(api, records, **{answer: False})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == f"body.{answer}"
    assert words in response.json()["error"]["message"]


def test_status_counts_matches_and_removals_per_platform(
    portal_api: PortalApi, records: list[dict[str, Any]]
) -> None:
    api = portal_api()
    created = create_case(api, records)
    number, pin = created["case_number"], created["pin"]
    first = status(api, number.lower().replace("-", " "), pin.lower())  # typed loosely
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert counts(body) == {"total": 3, "active": 3, "withdrawn": 0, "deleted": 0}
    assert (body["matches"], body["removals"], body["platforms"]) == (0, 0, [])

    response = api.call(
        "POST", "/v1/match/hashes", "matcher", json={"queries": [{"record": records[0]}]}
    )
    request_id = response.json()["request_id"]
    entry_id = response.json()["results"][0]["banks"][0]["matches"][0]["entry_id"]
    match(api, records[2])
    report = {"request_id": request_id, "entry_id": entry_id}
    assert api.call("POST", "/v1/portal/removals", "matcher", json=report).json() == {
        "reported": 1,
        "already_reported": 0,
    }
    again = api.call("POST", "/v1/portal/removals", "matcher", json=report)
    assert again.json() == {"reported": 0, "already_reported": 1}
    # Only the platform that made the match can report its removal.
    assert api.call("POST", "/v1/portal/removals", "admin", json=report).status_code == 404
    assert api.client.post("/v1/portal/removals", json=report).status_code == 401

    body = status(api, number, pin).json()
    assert body["platforms"] == [
        {"platform": "platform 1", "bank": "portal", "matches": 2, "removals": 1}
    ]
    assert (body["matches"], body["removals"]) == (2, 1)
    # Nothing else: no hashes, entry ids, labels or other cases.
    assert set(body) == {
        "case_number", "state", "matching", "created_at", "withdrawn_at", "entries",
        "matches", "removals", "platforms",
    }  # fmt: skip
    text = json.dumps(body)
    assert "entry_id" not in text and "signals" not in text
    assert all(r["signals"]["sha256"] not in text for r in records)


def test_withdrawal_stops_matching_before_the_response(
    portal_api: PortalApi, records: list[dict[str, Any]]
) -> None:
    api = portal_api()
    created = create_case(api, records)
    other = create_case(api, [records[0]])  # the same picture in another case stays
    assert match(api, records[1])["needs_review"]
    response = status(api, created["case_number"], created["pin"], "withdraw")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "withdrawn" and body["withdrawn_at"]
    assert counts(body) == {"total": 3, "active": 0, "withdrawn": 3, "deleted": 0}
    assert match(api, records[1])["banks"] == [] and match(api, records[2])["banks"] == []
    still = match(api, records[0])
    assert [m["entry_id"] for b in still["banks"] for m in b["matches"]] != []
    # Withdrawing again changes nothing; status still opens.
    assert status(api, created["case_number"], created["pin"], "withdraw").status_code == 200
    assert status(api, other["case_number"], other["pin"]).json()["entries"]["active"] == 1


def test_unknown_case_and_wrong_pin_look_the_same(
    portal_api: PortalApi, records: list[dict[str, Any]]
) -> None:
    api = portal_api(portal_scrypt_n=2**14, portal_max_failed_pins=50)
    created = create_case(api, records[:1])
    number, pin = created["case_number"], created["pin"]
    unknown = "HW-2222-2222" if number != "HW-2222-2222" else "HW-3333-3333"
    timings: dict[str, list[float]] = {"wrong": [], "unknown": []}
    answers = {}
    for _ in range(5):
        for kind, case_number in (("wrong", number), ("unknown", unknown)):
            started = time.perf_counter()
            response = status(api, case_number, wrong(pin))
            timings[kind].append(time.perf_counter() - started)
            answers[kind] = (response.status_code, response.json(), response.headers.get("x"))
    assert answers["wrong"] == answers["unknown"]
    assert answers["wrong"][0] == 403
    assert answers["wrong"][1] == {
        "error": {
            "field": "pin",
            "message": "the case number or the PIN is not right",
            "code": "forbidden",
        }
    }
    # Both paths run scrypt: similar timing (generous bounds on a shared machine).
    wrong_ms, unknown_ms = (statistics.median(timings[k]) for k in ("wrong", "unknown"))
    assert 0.33 < unknown_ms / wrong_ms < 3, timings
    # Malformed input is a plain 422 (the format is public, it reveals nothing).
    assert field_of(status(api, "HW-0000-1111", pin)) == "body.case_number"
    assert field_of(status(api, number, "12")) == "body.pin"
    assert field_of(api.client.post("/v1/portal/cases/status", json={"pin": pin})) == (
        "body.case_number"
    )


def test_wrong_pins_lock_the_case_number_known_or_not(
    portal_api: PortalApi, records: list[dict[str, Any]]
) -> None:
    """For the address that typed them (tests/portal/test_portal_pins.py: not for others)."""
    api = portal_api(portal_max_failed_pins=3, portal_lockout_seconds=2)
    created = create_case(api, records[:1])
    number, pin = created["case_number"], created["pin"]
    unknown = "HW-2222-2222" if number != "HW-2222-2222" else "HW-3333-3333"
    locked = {}
    for case_number in (number, unknown):
        assert [status(api, case_number, wrong(pin)).status_code for _ in range(3)] == [403] * 3
        response = status(api, case_number, pin)  # even the right PIN is refused now
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) in (1, 2)
        locked[case_number] = response.json()
        assert status(api, case_number, pin, "withdraw").status_code == 429
    assert locked[number] == locked[unknown]
    assert locked[number]["error"]["field"] == "case_number"
    assert "locked" in locked[number]["error"]["message"]
    time.sleep(2.1)
    assert status(api, number, pin).status_code == 200
    # A right PIN forgets earlier failures: three more wrong ones are needed to lock again.
    assert [status(api, number, wrong(pin)).status_code for _ in range(2)] == [403, 403]
    assert status(api, number, pin).status_code == 200
    assert match(api, records[0])["needs_review"], "the locked case was never withdrawn"


def test_wrong_pins_from_one_address_are_throttled(
    portal_api: PortalApi, records: list[dict[str, Any]]
) -> None:
    api = portal_api(portal_ip_max_failed_pins=4, portal_ip_window_seconds=60)
    created = create_case(api, records[:1])
    guesses = [f"HW-{n}{n}{n}{n}-2345" for n in "23456"]
    codes = [status(api, g, created["pin"]).status_code for g in guesses]
    assert codes == [403, 403, 403, 403, 429]
    response = status(api, created["case_number"], created["pin"])
    assert response.status_code == 429
    assert response.json()["error"]["field"] == "pin"
    assert 50 <= int(response.headers["retry-after"]) <= 60


def test_case_creation_is_rate_limited_per_address(
    portal_api: PortalApi, records: list[dict[str, Any]]
) -> None:
    api = portal_api(portal_cases_per_ip_hour=2)
    create_case(api, records[:1])
    create_case(api, records[1:2])
    response = submit(api, records[2:])
    assert response.status_code == 429
    assert response.json()["error"]["field"] == "body"
    assert int(response.headers["retry-after"]) > 3000


def test_nothing_secret_is_logged(
    portal_api: PortalApi, records: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    api = portal_api()
    with caplog.at_level(logging.DEBUG):
        created = create_case(api, records)
        status(api, created["case_number"], wrong(created["pin"]))
        status(api, created["case_number"], created["pin"], "withdraw")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "portal case" in logged  # the log is not empty ...
    secrets = [created["case_number"], created["pin"], created["pin"].replace("-", "")]
    secrets += [r["signals"]["sha256"] for r in records] + [
        r["signals"]["pdq"]["hash"] for r in records
    ]
    for secret in secrets:  # ... but names none of these
        assert secret not in logged
