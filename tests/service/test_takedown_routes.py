"""The takedown HTTP routes: per-field errors, rate limit, roles, 404/409, metrics formats."""

from __future__ import annotations

from collections.abc import Callable

from hashwall.service.settings import Settings
from tests.service.conftest import Api
from tests.service.takedown_helpers import raw_request

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
HASHES = [{"signal_type": "pdq", "signal_value": PDQ}]


def test_bad_requests_are_422_naming_each_field(api: Api) -> None:
    bad = raw_request(contact_email="x", hashes=[{"signal_type": "pdq", "signal_value": "zz"}])
    response = api.client.post("/v1/takedown/requests", json=bad)
    assert response.status_code == 422
    fields = {problem["field"] for problem in response.json()["error"]}
    assert {"contact_email", "hashes.0"} <= fields
    as_json = {"content-type": "application/json"}
    bad_json = api.client.post("/v1/takedown/requests", content=b"{nope", headers=as_json)
    assert bad_json.status_code == 422
    # Without a JSON (or multipart) content type the body is not read at all.
    assert api.client.post("/v1/takedown/requests", content=b"{nope").status_code == 415
    no_json = api.client.post("/v1/takedown/requests", data={"other": "1"}, files={"f": b"x"})
    assert no_json.status_code == 422 and no_json.json()["error"]["field"] == "request"
    assert api.call("GET", "/v1/takedown/requests", "reviewer").json()["requests"] == []


def test_public_intake_is_rate_limited_per_address(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api = api_factory(settings.model_copy(update={"takedown_requests_per_ip_hour": 2}))
    for _ in range(2):
        ok = api.client.post("/v1/takedown/requests", json=raw_request(hashes=HASHES))
        assert ok.status_code == 201, ok.text
    refused = api.client.post("/v1/takedown/requests", json=raw_request(hashes=HASHES))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.json()["error"]["field"] == "body"


def test_roles_not_found_conflicts_and_metrics(api: Api) -> None:
    receipt = api.client.post("/v1/takedown/requests", json=raw_request(hashes=HASHES)).json()
    case_id = receipt["case_id"]
    assert api.client.get("/v1/takedown/requests").status_code == 401
    assert api.call("GET", "/v1/takedown/requests", "matcher").status_code == 403
    queue = api.call("GET", "/v1/takedown/requests", "reviewer", params={"state": "received"})
    assert [r["case_id"] for r in queue.json()["requests"]] == [case_id]
    first = queue.json()["requests"][0]
    assert 23 * 3600 < first["seconds_left"] <= 24 * 3600  # the soonest target of 4 regimes
    assert first["statutory_deadline"] is False
    bad_state = api.call("GET", "/v1/takedown/requests", "reviewer", params={"state": "lost"})
    assert bad_state.status_code == 422 and bad_state.json()["error"]["field"] == "state"
    missing = api.call("GET", "/v1/takedown/requests/C-20260101-AAAAAAAA", "reviewer")
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "case_id"
    early = api.call(
        "POST", f"/v1/takedown/requests/{case_id}/events", "reviewer", json={"event": "close"}
    )
    assert early.status_code == 409 and early.json()["error"]["field"] == "event"
    undecided = api.call("GET", f"/v1/takedown/requests/{case_id}/decision-notice", "reviewer")
    assert undecided.status_code == 409
    assert api.call("POST", "/v1/takedown/tasks/99/confirm", "hasher").status_code == 403
    assert api.call("POST", "/v1/takedown/tasks/99/confirm", "curator").status_code == 404

    metrics = api.call("GET", "/v1/takedown/metrics", "reviewer")
    assert metrics.json()["open"] == 1 and metrics.json()["due"] == 1
    text = api.call("GET", "/v1/takedown/metrics", "reviewer", params={"format": "prometheus"})
    assert text.headers["content-type"].startswith("text/plain")
    assert "hashwall_takedown_open 1\n" in text.text
    accept = api.call("GET", "/v1/takedown/metrics", "reviewer", headers={"Accept": "text/plain"})
    assert "# TYPE hashwall_takedown_overdue gauge" in accept.text


def test_evidence_pack_holds_request_hashes_and_verified_audit_entries(api: Api) -> None:
    import hashlib
    import io
    import json
    import zipfile

    from pypdf import PdfReader

    case_id = api.client.post("/v1/takedown/requests", json=raw_request(hashes=HASHES)).json()[
        "case_id"
    ]
    assert (
        api.call("GET", f"/v1/takedown/requests/{case_id}/evidence", "matcher").status_code == 403
    )
    missing = api.call("GET", "/v1/takedown/requests/C-20260101-AAAAAAAA/evidence", "reviewer")
    assert missing.status_code == 404
    response = api.call("GET", f"/v1/takedown/requests/{case_id}/evidence", "reviewer")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["cache-control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = sorted(archive.namelist())
    assert names == [f"{case_id}/{n}" for n in ("SHA256SUMS", "evidence.json", "summary.pdf")]
    files = {name.split("/", 1)[1]: archive.read(name) for name in names}
    document = json.loads(files["evidence.json"])
    assert document["case_id"] == case_id and document["media_included"] is False
    assert document["case"]["request"]["hashes"] == HASHES
    [entry] = document["case"]["bank_entries"]
    assert PDQ in [signal["value"] for signal in entry["signals"]]
    actions = [e["action"] for e in document["audit"]["entries"]]
    assert actions[0] == "case.received" and actions[-1] == "case.exported"
    assert document["audit"]["chain"]["intact"] is True
    sums = dict(
        line.split("  ", 1)[::-1]
        for line in files["SHA256SUMS"].decode().splitlines()
        if not line.startswith("#")
    )
    for name in ("evidence.json", "summary.pdf"):
        assert sums[name] == hashlib.sha256(files[name]).hexdigest()
    pdf_text = "".join(
        page.extract_text() for page in PdfReader(io.BytesIO(files["summary.pdf"])).pages
    )
    assert case_id in pdf_text
