"""The legal rules of the platform side, pinned (sources: docs/legal.md).

* Australia's 24 hours run from an eSafety removal notice, not from a person's request;
* the UK's 48 hours are an internal target until the operator declares s. 20A in force;
* the deadline follows the platform's own regimes, not where the requester lives;
* the statement of reasons goes to the uploader: no reviewer, requester or other copies, DSA
  redress only for EU cases, and EU decisions cite the national provision;
* a report of an image taken under 18 may be anonymous (DSA Art. 16(2)(c)) and claims no
  TAKE IT DOWN clock, which needs a signature and contact details.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from hashwall.cases.states import TransitionError
from hashwall.service.settings import Settings
from hashwall.service.takedown import (
    decide,
    decision_notice,
    get_request,
    record_esafety_notice,
    submit_request,
    use_clock,
)
from tests.service.conftest import Api
from tests.service.takedown_helpers import FakeClock, raw_request, service_state

MD5 = [{"signal_type": "md5", "signal_value": "b" * 32}]


def _platform(
    api_factory: Callable[[Settings], Api], settings: Settings, **update: object
) -> tuple[Api, FakeClock]:
    api = api_factory(settings.model_copy(update=update))
    clock = FakeClock()
    use_clock(service_state(api), clock)
    return api, clock


def test_an_australian_request_gets_a_target_and_the_esafety_notice_the_legal_24h(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api, clock = _platform(
        api_factory, settings, takedown_regimes="AU", takedown_deadlines="AU=72h"
    )
    state = service_state(api)
    receipt = submit_request(state, raw_request(jurisdiction="AU", hashes=MD5))
    assert not receipt.statutory_deadline and receipt.legal_due_at is None
    assert receipt.due_at - receipt.received_at == timedelta(hours=72)
    assert "eSafety removal notice" in receipt.deadline_basis

    clock.advance(timedelta(hours=2))
    given = clock.now() - timedelta(hours=1)
    case = record_esafety_notice(
        state, receipt.case_id, given_at=given, actor="reviewer:kim", reference="ESC-1"
    )
    assert case.due_at == given + timedelta(hours=24) and case.statutory_deadline
    [entry] = [e for e in case.timeline if e.action == "case.regulator_notice"]
    assert entry.details["reference"] == "ESC-1" and "ss 77-79" in entry.details["basis"]


def test_a_later_notice_never_moves_a_sooner_target(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api, clock = _platform(api_factory, settings, takedown_regimes="AU")
    state = service_state(api)
    receipt = submit_request(state, raw_request(jurisdiction="AU", hashes=MD5))  # 24 h target
    clock.advance(timedelta(hours=5))
    case = record_esafety_notice(
        state, receipt.case_id, given_at=clock.now(), actor="r", period=timedelta(hours=48)
    )
    assert case.due_at == receipt.due_at and not case.statutory_deadline


def test_esafety_notices_through_the_api(api: Api) -> None:
    receipt = api.client.post("/v1/takedown/requests", json=raw_request(hashes=MD5)).json()
    url = f"/v1/takedown/requests/{receipt['case_id']}/regulator-notices"
    clock = FakeClock()
    body = {"given_at": (clock.now() - timedelta(hours=1)).isoformat()}  # before the request
    assert api.call("POST", url, "matcher", json=body).status_code == 403
    short = api.call("POST", url, "reviewer", json={**body, "period_hours": 12})
    assert short.status_code == 422
    future = {"given_at": (clock.now() + timedelta(days=1)).isoformat()}
    refused = api.call("POST", url, "reviewer", json=future)
    assert refused.status_code == 422 and "future" in refused.json()["error"]["message"]
    done = api.call("POST", url, "reviewer", json=body)
    assert done.status_code == 200 and done.json()["statutory_deadline"] is True
    missing = api.call("POST", "/v1/takedown/requests/C-20260101-AAAAAAAA/regulator-notices",
                       "reviewer", json=body)  # fmt: skip
    assert missing.status_code == 404


def test_a_notice_on_a_decided_case_is_refused(api: Api) -> None:
    state = service_state(api)
    receipt = submit_request(state, raw_request(hashes=MD5))
    decide(state, receipt.case_id, "start_review", actor="r")
    decide(state, receipt.case_id, "reject", actor="r", reason="Not intimate.")
    with pytest.raises(TransitionError, match="appeal"):
        record_esafety_notice(state, receipt.case_id, given_at=receipt.received_at, actor="r")


@pytest.mark.parametrize(("in_force", "statutory"), [(False, False), (True, True)])
def test_the_uk_48h_is_legal_only_once_declared_in_force(
    api_factory: Callable[[Settings], Api], settings: Settings, in_force: bool, statutory: bool
) -> None:
    api, _ = _platform(
        api_factory, settings, takedown_regimes="UK", takedown_uk_48h_in_force=in_force
    )
    state = service_state(api)
    located = raw_request(jurisdiction="UK", hashes=MD5, urls=["https://platform.example/p/7"])
    receipt = submit_request(state, located)
    assert receipt.due_at - receipt.received_at == timedelta(hours=48)
    assert receipt.statutory_deadline is statutory
    assert ("not shown to be in force" in receipt.deadline_basis) is not in_force
    # A hash alone does not say where the content is: not a complete UK report.
    unlocated = submit_request(state, raw_request(jurisdiction="UK", hashes=MD5))
    assert unlocated.statutory_deadline is False


def test_where_the_requester_lives_does_not_set_the_deadline(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api, _ = _platform(api_factory, settings, takedown_regimes="EU")
    state = service_state(api)
    for home in ("US", "AU", "UK", "EU"):
        receipt = submit_request(state, raw_request(jurisdiction=home, hashes=MD5))
        assert receipt.due_at - receipt.received_at == timedelta(hours=24), home
        assert not receipt.statutory_deadline and receipt.legal_due_at is None, home


def _decided(api: Api, jurisdiction: str, **action: str) -> str:
    state = service_state(api)
    receipt = submit_request(state, raw_request(jurisdiction=jurisdiction, hashes=MD5))
    decide(state, receipt.case_id, "start_review", actor="reviewer:ann")
    decide(state, receipt.case_id, "action", actor="reviewer:ann", **action)
    return decision_notice(state, receipt.case_id)


def test_eu_statements_cite_the_national_provision_and_give_dsa_redress(api: Api) -> None:
    notice = _decided(api, "EU", legal_ground="§ 201a StGB (Germany)")
    assert "§ 201a StGB (Germany)" in notice
    assert "creates no offence by itself" in notice and "14 June 2027" in notice
    for part in ("Art. 20", "Art. 21", "Art. 19", "micro and small"):
        assert part in notice
    assert "reviewer:ann" not in notice and "Alex Example" not in notice
    unnamed = _decided(api, "EU")
    assert "the provision was not named with this decision" in unnamed


def test_the_operators_default_provision_is_cited(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api, _ = _platform(api_factory, settings, takedown_eu_legal_ground="art. 4 loi 2024-449")
    assert "art. 4 loi 2024-449" in _decided(api, "EU")


def test_uk_statements_name_all_three_uk_offences_and_no_dsa_redress(api: Api) -> None:
    notice = _decided(api, "UK")
    for part in ("s. 66B", "(Scotland) Act 2016 s. 2", "Justice Act (Northern Ireland) 2016 s. 51"):
        assert part in notice
    assert "Art. 20" not in notice and "DSA" not in notice


def test_a_legal_ground_belongs_to_an_action_only(api: Api) -> None:
    state = service_state(api)
    receipt = submit_request(state, raw_request(hashes=MD5))
    with pytest.raises(TransitionError, match="action"):
        decide(state, receipt.case_id, "start_review", actor="r", legal_ground="s. 1")


def test_an_under_18_report_may_be_anonymous_and_claims_no_legal_clock(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api, _ = _platform(api_factory, settings, takedown_regimes="US")
    anonymous = raw_request(hashes=MD5, under_18=True, requester_name="", contact_email="")
    del anonymous["signature"]
    response = api.client.post("/v1/takedown/requests", json=anonymous)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["under_18"] is True and receipt["statutory_deadline"] is False
    assert receipt["legal_due_at"] is None and "lacks" in receipt["deadline_basis"]
    detail = get_request(service_state(api), receipt["case_id"], actor="r")
    assert detail.request["under_18"] is True and detail.requester_name == ""
    del anonymous["under_18"]
    refused = api.client.post("/v1/takedown/requests", json=anonymous)
    assert refused.status_code == 422
