"""Entries anyone can add (portal, removal requests) lead to human review only (issue 14,
item 5). The attack: a public removal request carrying the MD5 of harmless, popular bytes
made another platform's matcher get ``matched: true``, and a portal bank with webhooks
would have acted on it automatically. Now such matches say where the entry came from, ask
for review (``needs_review``), never fire webhooks unless an admin opts the bank in, and
quarantine at a low flood threshold; curators cannot switch the public banks off, and a key
limited to some banks cannot change the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hashwall.service.settings import Settings
from tests.service.conftest import Api
from tests.service.takedown_helpers import raw_request
from tests.service.test_actions import query
from tests.service.test_api_core import PDQ_A, flip

POPULAR_MD5 = "9e107d9d372bb6826bd81d3542a419d6"  # the MD5 of a well-known harmless text
ELIGIBLE = {"adult": True, "depicted": True, "intimate": True, "consent": True}


def match_md5(api: Api, value: str) -> dict[str, Any]:
    body = {"queries": [{"signal_type": "md5", "signal_value": value}]}
    response = api.call("POST", "/v1/match/hashes", "matcher", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def bank_named(api: Api, name: str) -> dict[str, Any]:
    (bank,) = [b for b in api.call("GET", "/v1/banks").json() if b["name"] == name]
    return bank  # type: ignore[no-any-return]


def portal_case(api: Api, pdq: str) -> dict[str, Any]:
    record = {"signals": {"pdq": {"hash": pdq, "quality": 100}}}
    body = {"records": [record], **ELIGIBLE}
    response = api.client.post("/v1/portal/cases", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_removal_request_hashes_do_not_make_another_platform_match(api: Api) -> None:
    hashes = [{"signal_type": "md5", "signal_value": POPULAR_MD5}]
    filed = api.client.post("/v1/takedown/requests", json=raw_request(hashes=hashes))
    assert filed.status_code == 201, filed.text
    answer = match_md5(api, POPULAR_MD5)
    (result,) = answer["results"]
    assert result["matched"] is False and result["needs_review"] is True
    (group,) = result["banks"]
    assert (group["bank"], group["entry_source"], group["review_only"]) == (
        "takedown", "takedown", True,
    )  # fmt: skip
    assert group["matches"][0]["entry_source"] == "takedown"
    # The stored match record says where the entry came from too.
    records = api.call("GET", "/v1/matches", "reviewer").json()["records"]
    assert [r["details"]["entry_source"] for r in records] == ["takedown"]
    assert bank_named(api, "takedown")["entry_source"] == "takedown"
    # A curated bank's match still acts as before.
    curated = api.create_bank("curated")
    entry = {"hashes": [{"signal_type": "md5", "signal_value": POPULAR_MD5}]}
    api.call("POST", f"/v1/banks/{curated['id']}/entries", "curator", json=entry)
    result = match_md5(api, POPULAR_MD5)["results"][0]
    assert result["matched"] is True and result["needs_review"] is True
    sources = {g["bank"]: (g["entry_source"], g["review_only"]) for g in result["banks"]}
    assert sources == {"takedown": ("takedown", True), "curated": ("curated", False)}


def test_portal_matches_go_to_review_never_to_webhooks_unless_an_admin_opts_in(
    api: Api,
) -> None:
    portal_case(api, PDQ_A)
    bank = bank_named(api, "portal")
    assert bank["entry_source"] == "portal" and bank["public_actions"] is False
    # A curator wires the portal bank to a webhook: that alone must not automate anything.
    changed = api.call("PATCH", f"/v1/banks/{bank['id']}", "curator",
                       json={"action": "review+webhook"})  # fmt: skip
    assert changed.status_code == 200, changed.text
    hook = api.call("POST", f"/v1/banks/{bank['id']}/webhooks", "curator",
                    json={"url": "http://127.0.0.1:9/hook"}).json()  # fmt: skip
    result = query(api, flip(PDQ_A, 2))["results"][0]
    assert result["matched"] is False and result["needs_review"] is True
    deliveries = f"/v1/webhooks/{hook['id']}/deliveries"
    assert api.call("GET", deliveries, "curator").json()["deliveries"] == []
    assert len(api.call("GET", "/v1/reviews", "reviewer").json()["reviews"]) == 1
    # Opting in is the admin's, not the curator's.
    opt_in = {"public_actions": True}
    refused = api.call("PATCH", f"/v1/banks/{bank['id']}", "curator", json=opt_in)
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "public_actions"
    assert api.call("PATCH", f"/v1/banks/{bank['id']}", "admin", json=opt_in).status_code == 200
    result = query(api, flip(PDQ_A, 3))["results"][0]
    assert result["matched"] is True and result["needs_review"] is False
    assert len(api.call("GET", deliveries, "curator").json()["deliveries"]) == 1


def test_public_entries_are_quarantined_at_a_low_flood_threshold(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api = api_factory(settings.model_copy(update={"public_flood_threshold": 2}))
    portal_case(api, PDQ_A)
    curated = api.create_bank("curated")
    entry = {"hashes": [{"signal_type": "pdq", "signal_value": PDQ_A}]}
    api.call("POST", f"/v1/banks/{curated['id']}/entries", "curator", json=entry)
    for bits in (1, 2, 3):  # three different near-copies: above 2
        query(api, flip(PDQ_A, bits))
    held = api.call("GET", "/v1/quarantine", "reviewer").json()["entries"]
    assert [e["threshold"] for e in held] == [2]
    # The portal entry stopped matching; the curated one (threshold 100) still matches.
    banks = [g["bank"] for g in query(api, flip(PDQ_A, 4))["results"][0]["banks"]]
    assert banks == ["curated"]


def test_curators_cannot_switch_the_public_banks_off(api: Api) -> None:
    early = api.call("POST", "/v1/banks", "curator", json={"name": "portal", "enabled": False})
    assert early.status_code == 403 and early.json()["error"]["field"] == "name"
    created = portal_case(api, PDQ_A)
    bank = bank_named(api, "portal")
    url = f"/v1/banks/{bank['id']}"
    for change in ({"enabled": False}, {"name": "renamed"}, {"flood_threshold": 10**6}):
        refused = api.call("PATCH", url, "curator", json=change)
        assert refused.status_code == 403, (change, refused.text)
        assert "only an admin" in refused.json()["error"]["message"]
    # Fields sent unchanged (as the reviewer pages' form does) and harmless edits are fine.
    ok = api.call("PATCH", url, "curator", json={"enabled": True, "description": "survivors"})
    assert ok.status_code == 200, ok.text
    credentials = {"case_number": created["case_number"], "pin": created["pin"]}
    status = api.client.post("/v1/portal/cases/status", json=credentials).json()
    assert status["state"] == "active" and status["matching"] is True
    # An admin may; the person's status page then no longer says their case is matching.
    assert api.call("PATCH", url, "admin", json={"enabled": False}).status_code == 200
    status = api.client.post("/v1/portal/cases/status", json=credentials).json()
    assert status["matching"] is False
    assert query(api, PDQ_A)["results"][0]["banks"] == []


def test_keys_limited_to_banks_cannot_change_other_banks(api: Api) -> None:
    mine, other = api.create_bank("mine"), api.create_bank("other")
    created = api.call("POST", "/v1/keys", json={"role": "curator", "name": "partner",
                                                "banks": [mine["id"]]})  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["banks"] == [mine["id"]]
    headers = {"X-API-Key": created.json()["key"]}
    entry = {"hashes": [{"signal_type": "pdq", "signal_value": PDQ_A}]}

    def call(method: str, url: str, **kwargs: Any) -> int:
        return api.client.request(method, url, headers=headers, **kwargs).status_code  # type: ignore[no-any-return]

    assert call("POST", f"/v1/banks/{mine['id']}/entries", json=entry) == 201
    assert call("POST", f"/v1/banks/{other['id']}/entries", json=entry) == 403
    assert call("PATCH", f"/v1/banks/{other['id']}", json={"enabled": False}) == 403
    assert call("POST", f"/v1/banks/{other['id']}/webhooks",
                json={"url": "http://127.0.0.1:9/h"}) == 403  # fmt: skip
    assert call("POST", "/v1/banks", json={"name": "new"}) == 403
    theirs = api.call("POST", f"/v1/banks/{other['id']}/entries", "curator", json=entry).json()
    assert call("POST", f"/v1/entries/{theirs['id']}/withdraw") == 403
    assert call("DELETE", f"/v1/entries/{theirs['id']}") == 403
    assert query(api, PDQ_A)["results"][0]["matched"]  # the other bank's entry still matches
    # Keys for unknown banks, and limited admin keys, are refused.
    unknown = api.call("POST", "/v1/keys", json={"role": "curator", "banks": [999999]})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "banks"
    admin = api.call("POST", "/v1/keys", json={"role": "admin", "banks": [mine["id"]]})
    assert admin.status_code == 422


def test_review_new_entries_holds_public_entries_until_a_reviewer_reinstates(api: Api) -> None:
    first = portal_case(api, flip(PDQ_A, 40))  # creates the portal bank
    bank = bank_named(api, "portal")
    setting = {"review_new_entries": True}
    url = f"/v1/banks/{bank['id']}"
    assert api.call("PATCH", url, "curator", json=setting).status_code == 403
    assert api.call("PATCH", url, "admin", json=setting).status_code == 200
    held = portal_case(api, PDQ_A)
    assert query(api, PDQ_A)["results"][0]["banks"] == []  # not matching yet
    (waiting,) = api.call("GET", "/v1/quarantine", "reviewer").json()["entries"]
    assert waiting["entry"]["case_ref"] == held["case_number"]
    decided = api.call("POST", f"/v1/quarantine/{waiting['entry']['id']}/decision", "reviewer",
                       json={"decision": "reinstate"})  # fmt: skip
    assert decided.status_code == 200, decided.text
    assert query(api, PDQ_A)["results"][0]["needs_review"]
    # Withdrawal still stops matching at once, whatever the state.
    for case in (held, first):
        credentials = {"case_number": case["case_number"], "pin": case["pin"]}
        assert api.client.post("/v1/portal/cases/withdraw", json=credentials).status_code == 200
    assert query(api, PDQ_A)["results"][0]["banks"] == []
