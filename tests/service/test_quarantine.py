"""Flood quarantine, and a state-machine test of entry states and which of them match."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from hashwall.service.settings import Settings
from tests.service.conftest import Api
from tests.service.test_api_core import PDQ_A, flip


def matched(api: Api, value: str) -> list[int]:
    body = {"queries": [{"signal_type": "pdq", "signal_value": value}]}
    response = api.call("POST", "/v1/match/hashes", "matcher", json=body)
    assert response.status_code == 200, response.text
    return [m["entry_id"] for b in response.json()["results"][0]["banks"] for m in b["matches"]]


def add(api: Api, bank_id: int, value: str) -> dict[str, Any]:
    body = {"hashes": [{"signal_type": "pdq", "signal_value": value}]}
    response = api.call("POST", f"/v1/banks/{bank_id}/entries", "curator", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_flood_quarantines_reinstates_and_deletes(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api = api_factory(settings.model_copy(update={"flood_threshold": 3}))
    bank = api.create_bank("ncii")
    entry = add(api, bank["id"], PDQ_A)
    for _ in range(5):
        assert matched(api, PDQ_A) == [entry["id"]]  # one item, however often: counts once
    for bits in (1, 2):
        assert matched(api, flip(PDQ_A, bits)) == [entry["id"]]
    assert matched(api, flip(PDQ_A, 3)) == [entry["id"]]  # the 4th distinct item: > 3
    assert matched(api, PDQ_A) == []  # quarantined before that response returned
    state = api.call("GET", f"/v1/entries/{entry['id']}", "reviewer").json()["state"]
    assert state == "quarantined"
    listed = api.call("GET", "/v1/quarantine", "reviewer").json()["entries"]
    assert [(q["entry"]["id"], q["distinct_items"], q["threshold"]) for q in listed] == [
        (entry["id"], 4, 3)
    ]
    assert api.call("GET", "/v1/quarantine", "matcher").status_code == 403
    back = api.call(
        "POST", f"/v1/quarantine/{entry['id']}/decision", "reviewer", json={"decision": "reinstate"}
    )
    assert back.status_code == 200 and back.json()["entry"]["state"] == "active"
    assert matched(api, flip(PDQ_A, 4)) == [entry["id"]]  # count restarted after the decision
    assert api.call("GET", "/v1/quarantine", "reviewer").json()["entries"] == []
    again = api.call(
        "POST", f"/v1/quarantine/{entry['id']}/decision", "reviewer", json={"decision": "delete"}
    )
    assert again.status_code == 409  # not quarantined any more


def test_per_bank_threshold_and_catalog_items_count(api: Api) -> None:
    bank = api.create_bank("ncii", flood_threshold=1)
    assert bank["flood_threshold"] == 1
    for n, bits in enumerate((0, 1)):
        body = {
            "content_id": f"hosted/{n}",
            "hashes": [{"signal_type": "pdq", "signal_value": flip(PDQ_A, bits)}],
        }
        assert api.call("POST", "/v1/catalog/items", "hasher", json=body).status_code == 201
    entry = add(api, bank["id"], PDQ_A)  # the sweep links 2 distinct catalog items: > 1
    assert (
        api.call("GET", f"/v1/entries/{entry['id']}", "reviewer").json()["state"] == "quarantined"
    )
    assert matched(api, PDQ_A) == []
    gone = api.call(
        "POST", f"/v1/quarantine/{entry['id']}/decision", "reviewer", json={"decision": "delete"}
    )
    assert gone.status_code == 200
    assert gone.json()["entry"]["state"] == "deleted" and gone.json()["entry"]["signals"] == []
    patched = api.call("PATCH", f"/v1/banks/{bank['id']}", "curator", json={"flood_threshold": 0})
    assert patched.status_code == 422


class EntryStates(RuleBasedStateMachine):
    """Random sequences of add / withdraw / delete / flood / reinstate / delete-from-quarantine:
    an entry matches exactly when it is active, and deleted is final."""

    entries = Bundle("entries")
    made: ClassVar[list[str]] = []  # every hash used so far, across examples (one database)

    def __init__(self, api: Api, bank_id: int) -> None:
        super().__init__()
        self.api = api
        self.bank_id = bank_id
        self.expected: dict[int, tuple[str, str]] = {}  # entry id -> (state, hash)

    @rule(target=entries)
    def add(self) -> int:
        # Unrelated pictures (~128 bits apart): one entry's queries never reach another.
        value = hashlib.sha256(
            f"state-machine-{self.api.settings.data_dir}-{len(EntryStates.made)}".encode()
        ).hexdigest()
        EntryStates.made.append(value)
        entry = add(self.api, self.bank_id, value)
        self.expected[entry["id"]] = ("active", value)
        return int(entry["id"])

    def _expect(self, response: Any, entry_id: int, state: str, allowed_from: set[str]) -> None:
        current = self.expected[entry_id][0]
        if current in allowed_from:
            assert response.status_code == 200, response.text
            self.expected[entry_id] = (state, self.expected[entry_id][1])
        else:
            assert response.status_code == 409, (current, state, response.text)

    @rule(entry_id=entries)
    def withdraw(self, entry_id: int) -> None:
        response = self.api.call("POST", f"/v1/entries/{entry_id}/withdraw", "curator")
        self._expect(response, entry_id, "withdrawn", {"active", "withdrawn", "quarantined"})

    @rule(entry_id=entries)
    def delete(self, entry_id: int) -> None:
        response = self.api.call("DELETE", f"/v1/entries/{entry_id}", "curator")
        self._expect(
            response, entry_id, "deleted", {"active", "withdrawn", "deleted", "quarantined"}
        )

    @rule(entry_id=entries)
    def flood(self, entry_id: int) -> None:
        """Two distinct near-copies within the hour (the bank's threshold is 1)."""
        state, value = self.expected[entry_id]
        for bits in (1, 2):
            matched(self.api, flip(value, bits))
        if state == "active":
            self.expected[entry_id] = ("quarantined", value)

    @rule(entry_id=entries, decision=st.sampled_from(["reinstate", "delete"]))
    def decide(self, entry_id: int, decision: str) -> None:
        response = self.api.call(
            "POST", f"/v1/quarantine/{entry_id}/decision", "reviewer", json={"decision": decision}
        )
        target = "active" if decision == "reinstate" else "deleted"
        self._expect(response, entry_id, target, {"quarantined"})

    @invariant()
    def only_active_entries_match(self) -> None:
        for entry_id, (state, value) in self.expected.items():
            got = self.api.call("GET", f"/v1/entries/{entry_id}", "reviewer").json()
            assert got["state"] == state
            assert (entry_id in matched(self.api, value)) == (state == "active"), (entry_id, state)


def test_entry_state_machine(api: Api) -> None:
    bank = api.create_bank("states", flood_threshold=1)
    run_state_machine_as_test(
        lambda: EntryStates(api, int(bank["id"])),
        settings=settings(
            max_examples=15,
            stateful_step_count=10,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
