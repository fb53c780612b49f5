"""A survivor's status page tells the same story after old match records are pruned."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from hashwall.service.retention import prune_match_records
from hashwall.store import MatchRecord, create_database
from hashwall.store.models import utcnow
from hashwall.store.retention_models import MatchRollup
from tests.portal.test_portal_api import PortalApi, create_case, match, status
from tests.service.conftest import Api


def _decide_reviews(api: Api) -> None:
    """Portal matches go to review (a public bank); only undecided ones are kept forever."""
    for review in api.call("GET", "/v1/reviews", "reviewer").json()["reviews"]:
        assert api.call("POST", f"/v1/reviews/{review['id']}/claim", "reviewer").is_success
        decided = api.call(
            "POST",
            f"/v1/reviews/{review['id']}/decision",
            "reviewer",
            json={"decision": "confirmed"},
        )
        assert decided.status_code == 200, decided.text


def test_status_page_counts_survive_pruning(
    portal_api: PortalApi, records: list[dict[str, Any]]
) -> None:
    api = portal_api()
    created = create_case(api, records)
    number, pin = created["case_number"], created["pin"]
    answer = api.call(
        "POST", "/v1/match/hashes", "matcher", json={"queries": [{"record": records[0]}]}
    )
    request_id = answer.json()["request_id"]
    entry_id = answer.json()["results"][0]["banks"][0]["matches"][0]["entry_id"]
    match(api, records[0])
    match(api, records[2])
    report = {"request_id": request_id, "entry_id": entry_id}
    assert api.call("POST", "/v1/portal/removals", "matcher", json=report).json()["reported"] == 1
    before = status(api, number, pin).json()
    assert (before["matches"], before["removals"]) == (3, 1)

    db = create_database(api.settings.resolved_database_url())
    try:
        later = utcnow() + timedelta(days=91)
        assert prune_match_records(db, timedelta(days=90), now=later) == 0  # awaiting review
        _decide_reviews(api)
        pruned = prune_match_records(db, timedelta(days=90), now=later)
        assert pruned == 3
        with db.session(readonly=True) as session:
            assert session.scalar(select(func.count()).select_from(MatchRecord)) == 0
            assert session.scalar(select(func.sum(MatchRollup.matches))) == 3
    finally:
        db.dispose()
    after = status(api, number, pin).json()
    assert after["platforms"] == before["platforms"]
    assert (after["matches"], after["removals"]) == (3, 1)

    match(api, records[1])  # a new match adds to the pruned counts, same platform
    latest = status(api, number, pin).json()
    assert latest["platforms"] == [
        {"platform": "platform 1", "bank": "portal", "matches": 4, "removals": 1}
    ]
