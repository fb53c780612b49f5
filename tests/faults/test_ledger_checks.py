"""The fault tests' own checks, on made-up answers: a check that cannot fail would pass every
fault test, so each rule is shown to catch what it is for (and to let the right answer pass)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.faults.fault_support import (
    Ledger,
    Outcome,
    error_problems,
    says_maybe_stored,
    write_problems,
)


def answer(status: int, body: Any = None, text: str = "", **headers: str) -> httpx.Response:
    request = httpx.Request("POST", "http://127.0.0.1/v1/banks/1/entries")
    if body is not None:
        return httpx.Response(status, json=body, headers=headers, request=request)
    return httpx.Response(status, text=text, headers=headers, request=request)


def error(code: str, message: str = "m") -> dict[str, Any]:
    return {"error": {"field": None, "message": message, "code": code}}


@pytest.mark.parametrize(
    ("response", "wrong"),
    [
        (answer(503, error("database_unavailable"), **{"Retry-After": "1"}), ""),
        (answer(507, error("disk_full")), ""),
        (answer(422, {"error": [{"field": "f", "message": "m", "code": "invalid"}]}), ""),
        (answer(500, text="Internal Server Error"), "content-type"),
        (answer(503, error("database_unavailable")), "Retry-After"),
        (answer(507, error("internal")), "expected one of ('disk_full',)"),
        (answer(503, error("database_busy"), **{"Retry-After": "2"}), ""),
        (answer(400, {"error": {"field": None, "message": "m"}}), "lacks field/message/code"),
        (answer(409, error("", "x")), "no stable code"),
        (answer(500, error("internal", "database is locked")), "locked"),
    ],
)
def test_error_shape(response: httpx.Response, wrong: str) -> None:
    problems = error_problems(response)
    assert (wrong in " ".join(problems)) if wrong else not problems, problems


def test_an_error_may_say_its_write_may_have_been_stored() -> None:
    assert says_maybe_stored(answer(503, error("database_unavailable", "It may have been stored")))
    assert says_maybe_stored(answer(503, error("outcome_unknown")))
    assert not says_maybe_stored(answer(503, error("database_unavailable", "try again")))
    assert not says_maybe_stored(answer(500, text="may have been stored"))  # not JSON


def entry(entry_id: int, label: str, state: str = "active") -> dict[str, Any]:
    return {"id": entry_id, "label": label, "state": state}


def ledger_of(**adds: Outcome) -> Ledger:
    return Ledger(adds=dict(adds))


OK = Outcome("ok", 201, {"id": 1, "sweep": "done"})


def test_answered_writes_must_be_stored_and_refused_ones_not() -> None:
    ledger = ledger_of(a=OK, b=Outcome("refused", 500), c=Outcome("unknown"))
    stored = {"a": entry(1, "a"), "c": entry(3, "c")}
    assert write_problems(ledger, stored) == []  # "unknown" may be stored or not
    assert write_problems(ledger, {"c": entry(3, "c")}) == [
        "1 adds answered 2xx but not stored, e.g. ['a']"
    ]
    stored["b"] = entry(2, "b")
    assert write_problems(ledger, stored) == ["1 adds refused but stored, e.g. ['b (500) as 2']"]


def test_nothing_is_stored_that_nobody_sent_and_the_sweep_is_reported() -> None:
    no_sweep = Outcome("ok", 201, {"id": 1})
    stored = {"a": entry(1, "a"), "seed-0": entry(2, "seed-0"), "x": entry(9, "x")}
    assert write_problems(ledger_of(a=no_sweep), stored) == [
        "1 adds answered 201 without sweep done/pending, e.g. ['None']",
        "1 stored entries nobody sent, e.g. ['9 (x)']",
    ]


def test_withdrawals_agree_with_their_answers() -> None:
    ledger = ledger_of(a=OK, b=OK, c=OK)
    ledger.withdrawals = {1: [Outcome("ok", 200)], 2: [Outcome("refused", 500)]}
    stored = {"a": entry(1, "a"), "b": entry(2, "b", "withdrawn"), "c": entry(3, "c", "withdrawn")}
    assert write_problems(ledger, stored) == [
        "1 withdrawals answered 200 but not stored, e.g. ['1 is active']",
        "1 withdrawals refused but stored, e.g. ['2 is withdrawn']",
        "1 entries withdrawn that nobody withdrew, e.g. ['3']",
    ]
