"""Banks, entries, match-by-hash, auth and thresholds through the HTTP API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.conftest import Api

PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ_B = "0" * 64


def flip(hex_hash: str, bits: int) -> str:
    """``hex_hash`` with its lowest ``bits`` bits inverted (distance exactly ``bits``)."""
    value = int(hex_hash, 16) ^ ((1 << bits) - 1)
    return f"{value:064x}"


def add(api: Api, bank_id: int, *hashes: tuple[str, str], role: str = "curator") -> dict[str, Any]:
    body = {"hashes": [{"signal_type": t, "signal_value": v} for t, v in hashes], "label": "case"}
    response = api.call("POST", f"/v1/banks/{bank_id}/entries", role, json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def match(api: Api, *queries: dict[str, Any], role: str = "matcher", **extra: Any) -> Any:
    response = api.call("POST", "/v1/match/hashes", role, json={"queries": list(queries), **extra})
    assert response.status_code == 200, response.text
    return response.json()


def pdq(value: str) -> dict[str, str]:
    return {"signal_type": "pdq", "signal_value": value}


def test_health_needs_no_key_and_everything_else_does(api: Api) -> None:
    assert api.client.get("/v1/health").json()["status"] == "ok"
    for method, url in [
        ("GET", "/v1/banks"),
        ("POST", "/v1/match/hashes"),
        ("GET", "/v1/entries/1"),
        ("GET", "/v1/keys"),
        ("GET", "/v1/matches"),
    ]:
        response = api.client.request(method, url)
        assert response.status_code == 401, (url, response.text)
        assert response.json()["error"]["field"] == "X-API-Key"
        wrong = api.client.request(method, url, headers={"X-API-Key": "hw_not-a-real-key"})
        assert wrong.status_code == 401


def test_roles_get_403_not_401(api: Api) -> None:
    assert api.call("POST", "/v1/banks", "matcher", json={"name": "x"}).status_code == 403
    assert api.call("POST", "/v1/banks", "reviewer", json={"name": "x"}).status_code == 403
    assert api.call("GET", "/v1/banks", "hasher").status_code == 403
    assert api.call("GET", "/v1/keys", "curator").status_code == 403
    body = {"queries": [pdq(PDQ_A)]}
    assert api.call("POST", "/v1/match/hashes", "reviewer", json=body).status_code == 403
    denied = api.call("POST", "/v1/match/hashes", "hasher", json=body)
    assert denied.status_code == 403
    assert "needs 'match'" in denied.json()["error"]["message"]
    assert api.call("POST", "/v1/banks", "curator", json={"name": "x"}).status_code == 201
    assert api.call("GET", "/v1/matches", "reviewer").status_code == 200


def test_bearer_header_and_revocation(api: Api) -> None:
    created = api.call("POST", "/v1/keys", json={"role": "matcher", "name": "bot"})
    assert created.status_code == 201
    key = created.json()["key"]
    bearer = {"Authorization": f"Bearer {key}"}
    assert api.client.get("/v1/banks", headers=bearer).status_code == 200
    listed = api.call("GET", "/v1/keys").json()
    assert all("key" not in row and "key_hash" not in row for row in listed)
    assert api.call("DELETE", f"/v1/keys/{created.json()['id']}").status_code == 200
    assert api.client.get("/v1/banks", headers=bearer).status_code == 401


def test_bank_lifecycle(api: Api) -> None:
    bank = api.create_bank("stopncii", pdq_threshold=20, action="review")
    assert (bank["pdq_threshold"], bank["action"], bank["enabled"]) == (20, "review", True)
    assert api.call("POST", "/v1/banks", json={"name": "stopncii"}).status_code == 409
    renamed = api.call("PATCH", f"/v1/banks/{bank['id']}", json={"name": "ncii-main"})
    assert renamed.json()["name"] == "ncii-main"
    assert [b["name"] for b in api.call("GET", "/v1/banks").json()] == ["ncii-main"]
    assert api.call("GET", f"/v1/banks/{bank['id']}").json()["name"] == "ncii-main"
    too_loose = api.call("PATCH", f"/v1/banks/{bank['id']}", json={"pdq_threshold": 40})
    assert too_loose.status_code == 422
    assert too_loose.json()["error"][0]["field"] == "body.pdq_threshold"
    missing = api.call("GET", "/v1/banks/999")
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "bank_id"


def test_match_by_hash_grouped_by_bank_with_distance(api: Api) -> None:
    first = api.create_bank("first", action="takedown")
    second = api.create_bank("second")
    entry = add(api, first["id"], ("pdq", PDQ_A), ("md5", "a" * 32))
    other = add(api, second["id"], ("pdq", flip(PDQ_A, 5)))
    add(api, second["id"], ("pdq", PDQ_B))
    result = match(api, {**pdq(flip(PDQ_A, 3)), "id": "upload-1"})["results"][0]
    assert result["matched"] and result["id"] == "upload-1"
    groups = {g["bank"]: g for g in result["banks"]}
    assert set(groups) == {"first", "second"}
    assert groups["first"]["action"] == "takedown"
    hit = groups["first"]["matches"][0]
    assert (hit["entry_id"], hit["distance"], hit["signal"]) == (entry["id"], 3, "pdq")
    assert hit["entry_state"] == "active"
    assert groups["second"]["matches"][0]["entry_id"] == other["id"]
    assert groups["second"]["matches"][0]["distance"] == 2
    md5 = match(api, {"signal_type": "md5", "signal_value": "A" * 32})["results"][0]
    assert md5["banks"][0]["matches"][0]["signal"] == "md5"
    far = match(api, pdq(flip(PDQ_A, 40)))["results"][0]
    assert not far["matched"] and far["banks"] == []


def test_batch_and_record_queries(api: Api) -> None:
    bank = api.create_bank()
    add(api, bank["id"], ("sha256", "b" * 64))
    record = {
        "path": "x.jpg",
        "signals": {"pdq": {"hash": PDQ_A, "quality": 90}, "sha256": "b" * 64},
    }
    response = match(api, pdq(PDQ_B), {"record": record}, {"hashes": [pdq(PDQ_A)]})
    assert [r["matched"] for r in response["results"]] == [False, True, False]
    assert response["results"][1]["banks"][0]["matches"][0]["signal"] == "sha256"


def test_per_bank_and_per_request_thresholds_only_tighten(api: Api) -> None:
    strict = api.create_bank("strict", pdq_threshold=10)
    add(api, strict["id"], ("pdq", PDQ_A))
    assert not match(api, pdq(flip(PDQ_A, 12)))["results"][0]["matched"]
    assert match(api, pdq(flip(PDQ_A, 10)))["results"][0]["matched"]
    assert not match(api, pdq(flip(PDQ_A, 10)), max_distance=9)["results"][0]["matched"]
    for field, value in [
        ("max_distance", 32),
        ("min_quality", 40),
        ("min_query_match_percent", 50),
    ]:
        body = {"queries": [pdq(PDQ_A)], field: value}
        response = api.call("POST", "/v1/match/hashes", "matcher", json=body)
        assert response.status_code == 422
        problem = response.json()["error"][0]
        assert problem["field"] == f"body.{field}"
        assert "may only tighten" in problem["message"]


def test_low_quality_query_hashes_do_not_match(api: Api) -> None:
    bank = api.create_bank()
    add(api, bank["id"], ("pdq", PDQ_A))
    low = {"hashes": [{"signal_type": "pdq", "signal_value": PDQ_A, "quality": 30}]}
    assert not match(api, low)["results"][0]["matched"]
    ok = {"hashes": [{"signal_type": "pdq", "signal_value": PDQ_A, "quality": 70}]}
    assert match(api, ok)["results"][0]["matched"]
    assert not match(api, ok, min_quality=80)["results"][0]["matched"]


def test_withdraw_and_delete_stop_matching_before_the_response(api: Api) -> None:
    bank = api.create_bank()
    entry = add(api, bank["id"], ("pdq", PDQ_A), ("md5", "c" * 32))
    kept = add(api, bank["id"], ("pdq", PDQ_B))
    assert match(api, pdq(PDQ_A))["results"][0]["matched"]
    withdrawn = api.call("POST", f"/v1/entries/{entry['id']}/withdraw", "curator")
    assert withdrawn.json()["state"] == "withdrawn"
    assert not match(api, pdq(PDQ_A))["results"][0]["matched"]
    md5 = {"signal_type": "md5", "signal_value": "c" * 32}
    assert not match(api, md5)["results"][0]["matched"]
    deleted = api.call("DELETE", f"/v1/entries/{kept['id']}", "curator").json()
    assert deleted["state"] == "deleted" and deleted["signals"] == []
    assert not match(api, pdq(PDQ_B))["results"][0]["matched"]
    again = api.call("POST", f"/v1/entries/{kept['id']}/withdraw", "curator")
    assert again.status_code == 409
    states = api.call("GET", f"/v1/banks/{bank['id']}/entries?state=withdrawn", "reviewer")
    assert [e["id"] for e in states.json()["entries"]] == [entry["id"]]


def test_disabled_bank_does_not_match(api: Api) -> None:
    bank = api.create_bank()
    add(api, bank["id"], ("pdq", PDQ_A))
    api.call("PATCH", f"/v1/banks/{bank['id']}", json={"enabled": False})
    assert not match(api, pdq(PDQ_A))["results"][0]["matched"]
    api.call("PATCH", f"/v1/banks/{bank['id']}", json={"enabled": True})
    assert match(api, pdq(PDQ_A))["results"][0]["matched"]


def test_negative_bank_suppresses_matches_of_the_same_variant(api: Api) -> None:
    positive = api.create_bank("ncii")
    negative = api.create_bank("known-false-positives", negative=True)
    add(api, positive["id"], ("pdq", PDQ_A))
    fp = add(api, negative["id"], ("pdq", flip(PDQ_A, 2)))
    result = match(api, pdq(PDQ_A))["results"][0]
    assert not result["matched"] and result["banks"] == []
    assert result["suppressed"] == 1
    assert result["negative"][0]["matches"][0]["entry_id"] == fp["id"]
    # A different signal of the same item is not suppressed by a PDQ false positive.
    add(api, positive["id"], ("md5", "d" * 32))
    item = {"hashes": [pdq(PDQ_A), {"signal_type": "md5", "signal_value": "d" * 32}]}
    result = match(api, item)["results"][0]
    assert result["matched"] and result["banks"][0]["matches"][0]["signal"] == "md5"
    # Bank filters never switch negative banks off.
    filtered = match(api, pdq(PDQ_A), banks=["ncii"])["results"][0]
    assert not filtered["matched"]
    unknown = api.call("POST", "/v1/match/hashes", json={"queries": [pdq(PDQ_A)], "banks": ["x"]})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "banks"


def test_match_records_are_stored(api: Api) -> None:
    bank = api.create_bank()
    entry = add(api, bank["id"], ("pdq", PDQ_A))
    response = match(api, {**pdq(flip(PDQ_A, 4)), "id": "item-7"})
    records = api.call("GET", "/v1/matches", "reviewer").json()["records"]
    assert len(records) == 1
    record = records[0]
    assert record["request_id"] == response["request_id"]
    assert (record["entry_id"], record["distance"], record["query_label"]) == (
        entry["id"],
        4,
        "item-7",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hashes": [{"signal_type": "pdq", "signal_value": "xyz"}]}, "body.hashes.0.signal_value"),
        ({"hashes": [{"signal_type": "nope", "signal_value": "ab"}]}, "body.hashes.0.signal_value"),
        ({"hashes": [pdq(PDQ_A), pdq(PDQ_B)]}, "body.hashes.1"),
        ({"record": {"signals": {"pdq": {"hash": "00"}}}}, "body.record"),
        ({"record": {"signals": {}}}, "body.record.signals"),
    ],
)
def test_bad_hashes_are_422_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    bank = api.create_bank()
    response = api.call("POST", f"/v1/banks/{bank['id']}/entries", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert response.json()["error"]["message"]


def test_missing_fields_and_bad_json_are_422_lists(api: Api) -> None:
    bank = api.create_bank()
    response = api.call("POST", f"/v1/banks/{bank['id']}/entries", json={})
    assert response.status_code == 422
    assert "exactly one of" in response.json()["error"][0]["message"]
    raw = api.call(
        "POST",
        "/v1/match/hashes",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert raw.status_code == 422 and isinstance(raw.json()["error"], list)
    huge = api.call("GET", f"/v1/entries/{2**70}")
    assert huge.status_code == 422
    unknown = api.call("GET", "/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["error"]["message"]


def test_control_characters_from_client_data_are_not_stored(api: Api) -> None:
    bank = api.create_bank()
    record = {"path": "evil\u0000name\u0007.jpg", "signals": {"md5": "f" * 32}}
    added = api.call("POST", f"/v1/banks/{bank['id']}/entries", json={"record": record})
    assert added.status_code == 201, added.text
    assert added.json()["label"] == "evilname.jpg"
    bad = api.call(
        "POST",
        f"/v1/banks/{bank['id']}/entries",
        json={"hashes": [{"signal_type": "md5", "signal_value": "f" * 32}], "label": "a\u0000"},
    )
    assert bad.status_code == 422 and bad.json()["error"][0]["field"] == "body.label"
