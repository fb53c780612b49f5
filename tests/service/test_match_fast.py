"""The fast match path (fast_match.py) and the group-committing record writer
(record_writer.py): same answers and errors as the FastAPI route, records and their actions
stored before the answer, batches that fail request by request, a bounded queue."""

from __future__ import annotations

import fcntl
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any

import pytest
from sqlalchemy import select

from hashwall.hashing.record import record_from_signal_value
from hashwall.service import auth, record_writer
from hashwall.service.auth import lookup_key
from hashwall.service.errors import ApiError
from hashwall.service.fast_match import FastMatchPath
from hashwall.service.record_writer import MatchRow, PendingWrite, RecordWriter, write_records
from hashwall.service.routes import match as match_route
from hashwall.service.schemas import MatchResponse
from hashwall.service.state import ServiceState
from hashwall.store import MatchRecord
from hashwall.store.models import utcnow
from tests.service.conftest import Api

PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def state_of(api: Api) -> ServiceState:
    state = api.client.app.state.hashwall  # type: ignore[attr-defined]
    assert isinstance(state, ServiceState)
    return state


def fast_path(api: Api) -> FastMatchPath:
    path = api.client.app.fast_match  # type: ignore[attr-defined]
    assert isinstance(path, FastMatchPath)
    return path


def flip(hex_hash: str, bits: int) -> str:
    return f"{int(hex_hash, 16) ^ ((1 << bits) - 1):064x}"


def post_match(api: Api, body: Any, role: str = "matcher", **kwargs: Any) -> Any:
    return api.call("POST", "/v1/match/hashes", role, json=body, **kwargs)


def one(value: str, **extra: Any) -> dict[str, Any]:
    return {"queries": [{"signal_type": "pdq", "signal_value": value, **extra}]}


def bank_with_entry(api: Api, name: str, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new bank holding one entry with PDQ_A: (bank, entry) as the API returned them."""
    bank = api.create_bank(name, **fields)
    entry = api.call(
        "POST",
        f"/v1/banks/{bank['id']}/entries",
        "curator",
        json={"hashes": [{"signal_type": "pdq", "signal_value": PDQ_A}]},
    )
    assert entry.status_code == 201, entry.text
    return bank, entry.json()


def sqlite_file(state: ServiceState) -> str | None:
    """The SQLite database file, or None (PostgreSQL, or SQLite in memory)."""
    database = state.db.engine.url.database if state.db.is_sqlite else None
    return database if database and database != ":memory:" else None


@pytest.fixture
def banked(api: Api) -> dict[str, Any]:
    bank, entry = bank_with_entry(api, "ncii", action="review")
    post_match(api, one("0" * 64))  # a cache miss: the route checks the key and caches it
    return {"bank": bank, "entry": entry}


def test_fast_path_answers_like_the_route(
    api: Api, banked: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = fast_path(api)
    body = one(flip(PDQ_A, 5), id="item-1")
    served = path.served
    fast = post_match(api, body)
    assert fast.status_code == 200 and path.served == served + 1
    handed_on = path.handed_on
    with monkeypatch.context() as patch:  # a request the fast path does not take
        patch.setattr(match_route, "is_small", lambda _body: False)
        slow = post_match(api, body)
    assert slow.status_code == 200 and path.handed_on == handed_on + 1
    answers = [MatchResponse.model_validate(r.json()) for r in (fast, slow)]
    assert answers[0].request_id != answers[1].request_id
    assert answers[0].results == answers[1].results
    (result,) = answers[0].results
    assert result.id == "item-1" and result.matched
    assert result.banks[0].matches[0].entry_id == banked["entry"]["id"]
    assert result.banks[0].matches[0].distance == 5
    assert fast.headers["content-type"] == "application/json"


def test_bearer_key_and_no_match_take_the_fast_path(api: Api, banked: dict[str, Any]) -> None:
    path = fast_path(api)
    served = path.served
    response = api.client.post(
        "/v1/match/hashes",
        json=one("0" * 64),
        headers={"Authorization": f"Bearer {api.keys['matcher']}"},
    )
    assert response.status_code == 200 and path.served == served + 1
    assert response.json()["results"][0]["matched"] is False


@pytest.mark.parametrize(
    ("body", "role", "status", "field"),
    [
        (one("xyz"), "matcher", 422, "body.queries.0.signal_value"),
        ({**one(PDQ_A), "banks": ["nope"]}, "matcher", 422, "banks"),
        ({**one(PDQ_A), "max_distance": 40}, "matcher", 422, "body.max_distance"),
        ({"queries": []}, "matcher", 422, "body.queries"),
        (one(PDQ_A), "reviewer", 403, "X-API-Key"),
    ],
)
def test_errors_are_handed_to_the_route(
    api: Api, banked: dict[str, Any], body: Any, role: str, status: int, field: str
) -> None:
    api.call("GET", "/v1/banks", role)  # the role's key is cached, so only the body decides
    path = fast_path(api)
    handed_on = path.handed_on
    response = post_match(api, body, role)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error[0] if isinstance(error, list) else error)["field"] == field
    assert path.handed_on == handed_on + 1


def test_bad_json_and_other_content_types_are_handed_on(api: Api, banked: dict[str, Any]) -> None:
    path = fast_path(api)
    handed_on = path.handed_on
    raw = api.call(
        "POST",
        "/v1/match/hashes",
        "matcher",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert raw.status_code == 422 and isinstance(raw.json()["error"], list)
    form = api.call("POST", "/v1/match/hashes", "matcher", data={"queries": "x"})
    assert form.status_code == 415  # a JSON route reads only application/json
    assert path.handed_on == handed_on + 2


def test_records_and_review_items_are_stored_before_the_answer(
    api: Api, banked: dict[str, Any]
) -> None:
    answer = post_match(api, one(flip(PDQ_A, 3), id="upload-9")).json()
    records = api.call("GET", "/v1/matches", "reviewer").json()["records"]
    assert [(r["request_id"], r["query_label"], r["distance"]) for r in records] == [
        (answer["request_id"], "upload-9", 3)
    ]
    (review,) = api.call("GET", "/v1/reviews", "reviewer").json()["reviews"]
    assert review["match_record"]["request_id"] == answer["request_id"]
    assert state_of(api).records.requests >= 1


def test_batch_requests_use_the_route_and_still_record(api: Api, banked: dict[str, Any]) -> None:
    queries = [{"signal_type": "pdq", "signal_value": flip(PDQ_A, b)} for b in range(6)]
    path = fast_path(api)
    handed_on = path.handed_on
    response = post_match(api, {"queries": queries})
    assert response.status_code == 200 and path.handed_on == handed_on + 1
    assert all(r["matched"] for r in response.json()["results"])
    assert len(api.call("GET", "/v1/matches", "reviewer").json()["records"]) == 6


# ---------------------------------------------------------------------- the writer itself


def record_for(state: ServiceState, entry_id: int, bank_id: int) -> MatchRow:
    return {
        "request_id": "r",
        "api_key_id": None,
        "query_kind": "hashes",
        "query_label": "q",
        "bank_id": bank_id,
        "entry_id": entry_id,
        "signal_type": "pdq",
        "distance": 0,
        "query_variant": "original",
        "details": {"query": 0},
        "query_key": f"pdq:{PDQ_A}",
    }


def test_writer_commits_queued_requests_together_and_isolates_a_bad_one(
    api: Api, banked: dict[str, Any]
) -> None:
    state = state_of(api)
    writer = RecordWriter(state)  # not started: writes queue up and form one batch
    entry_id, bank_id = banked["entry"]["id"], banked["bank"]["id"]
    query = [record_from_signal_value("pdq", PDQ_A)]
    good = [writer.submit([record_for(state, entry_id, bank_id)], query) for _ in range(3)]
    bad = writer.submit([record_for(state, 10**9, bank_id)], query)  # no such entry
    writer.start()
    try:
        for done in good:
            assert done.result(timeout=30) is None
        with pytest.raises(RuntimeError, match="could not be stored"):
            bad.result(timeout=30)
    finally:
        writer.stop()
    # One failed transaction, then each request alone: three committed, one refused.
    assert writer.requests == 3 and writer.batches == 3
    stored = api.call("GET", "/v1/matches", "reviewer").json()["records"]
    assert len(stored) == 3


def test_plain_writer_stores_what_the_orm_path_stores(api: Api) -> None:
    """Banks without actions are written on the DB-API (_PlainWriter): same rows as the ORM."""
    state = state_of(api)
    bank, entry = bank_with_entry(api, "plain")
    query = [record_from_signal_value("pdq", PDQ_A)]
    rows = [record_for(state, entry["id"], int(str(bank["id"]))) for _ in range(2)]
    rows[0]["details"] = {"query": 0, "query_match_percent": 87.5, "label": "é ü"}
    rows[1]["api_key_id"], rows[1]["query_variant"] = 1, None
    plain = state.records.plain_batches
    before = utcnow()
    state.records.submit([dict(row, request_id="plain") for row in rows], query).result(30)
    assert state.records.plain_batches == plain + 1
    write_records(state, [PendingWrite([dict(row, request_id="orm") for row in rows], query)])
    with state.db.session() as session:
        stored = session.scalars(select(MatchRecord).order_by(MatchRecord.id)).all()
        got = {
            kind: [
                {c: getattr(r, c) for c in rows[0] if c != "request_id"}
                for r in stored
                if r.request_id == kind
            ]
            for kind in ("plain", "orm")
        }
        times = {r.request_id: r.created_at for r in stored}
    assert (
        got["plain"]
        == got["orm"]
        == [{k: v for k, v in r.items() if k != "request_id"} for r in rows]
    )
    assert times["plain"].replace(tzinfo=None) >= before.replace(tzinfo=None)
    assert abs(times["plain"] - times["orm"]).total_seconds() < 30


def test_loop_writer_commits_plain_batches_and_waits_on_the_loop_for_the_lock(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: a plain batch is committed on the event loop. While the writers' lock is taken
    (another worker writing) the loop tries again until it gets it; only a batch that waited
    longer than LOOP_WAIT_SECONDS goes to the writer thread. Either way before the answer."""
    state = state_of(api)
    _bank, entry = bank_with_entry(api, "plain")
    post_match(api, one("0" * 64))  # caches the key: the fast path answers from now on
    loop, thread = state.records.loop_batches, state.records.plain_batches
    assert post_match(api, one(PDQ_A)).json()["results"][0]["matched"]
    database = sqlite_file(state)
    if not database:
        assert state.records.loop_batches == 0  # PostgreSQL: always the writer thread
        return
    assert state.records.loop_batches == loop + 1

    def answer_while_locked(seconds: float, query: str) -> None:
        with open(f"{database}.record-writers.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            threading.Timer(seconds, fcntl.flock, (lock, fcntl.LOCK_UN)).start()
            assert post_match(api, one(query)).json()["results"][0]["matched"]

    answer_while_locked(0.3, flip(PDQ_A, 2))
    assert state.records.loop_batches == loop + 2  # the loop waited for the lock
    assert state.records.plain_batches == thread + 2
    monkeypatch.setattr(record_writer, "LOOP_WAIT_SECONDS", 0.05)
    answer_while_locked(0.3, flip(PDQ_A, 3))
    assert state.records.loop_batches == loop + 2
    assert state.records.plain_batches == thread + 3  # the thread stored the third
    records = api.call("GET", "/v1/matches", "reviewer").json()["records"]
    assert [r["entry_id"] for r in records] == [entry["id"]] * 3


def test_loop_writer_keeps_the_order_and_batches_what_queued_while_it_waited(
    api: Api,
) -> None:
    """Requests that arrive while the loop waits for the lock join one transaction."""
    state = state_of(api)
    database = sqlite_file(state)
    if not database:
        pytest.skip("the event loop writes match records on SQLite only")
    bank_with_entry(api, "plain")
    post_match(api, one("0" * 64))
    queries = [one(flip(PDQ_A, bits)) for bits in range(1, 6)]
    loop = state.records.loop_batches
    with open(f"{database}.record-writers.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        threading.Timer(0.3, fcntl.flock, (lock, fcntl.LOCK_UN)).start()
        with ThreadPoolExecutor(len(queries)) as pool:
            answers = list(pool.map(lambda body: post_match(api, body), queries))
    assert all(a.json()["results"][0]["matched"] for a in answers)
    assert state.records.loop_batches - loop < len(queries)  # some shared a transaction
    records = api.call("GET", "/v1/matches", "reviewer").json()["records"]
    assert sorted(r["distance"] for r in records) == sorted(range(1, 6))


def test_an_expired_key_is_looked_up_once_for_all_requests_waiting_on_it(
    api: Api, banked: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the key cache expired, a burst of requests makes one lookup, on the fast path."""
    state, path = state_of(api), fast_path(api)
    calls: list[str] = []

    def slow_lookup(*args: Any) -> Any:
        calls.append("lookup")
        time.sleep(0.2)  # the others arrive while this one is in the database
        return lookup_key(*args)

    monkeypatch.setattr(auth, "lookup_key", slow_lookup)  # the fast path resolves through auth
    state.key_cache.clear()
    served = path.served
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda bits: post_match(api, one(flip(PDQ_A, bits))), range(6)))
    assert [a.json()["results"][0]["matched"] for a in answers] == [True] * 6
    assert calls == ["lookup"] and path.served == served + 6


def test_an_unknown_key_gets_the_routes_401_after_one_lookup(
    api: Api, banked: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path looks the key up, hands the request on, and the route answers 401
    without asking the database a second time."""
    lookups: list[str] = []

    def counted(*args: Any) -> Any:
        lookups.append("lookup")
        return lookup_key(*args)

    monkeypatch.setattr(auth, "lookup_key", counted)
    state_of(api).key_cache.clear()
    wrong = {"X-API-Key": "hw_" + "x" * 43}
    for _ in range(2):
        response = post_match(api, one(PDQ_A), headers=wrong)
        assert response.status_code == 401 and response.json()["error"]["field"] == "X-API-Key"
    assert lookups == ["lookup"]  # and the second request within a second asked nobody


def test_a_large_wal_is_copied_again_under_the_record_writers_lock(
    api: Api, banked: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: with commits landing while a checkpoint copies the WAL, the WAL was never
    fully copied, so it never started over (measured: ~20 MB more per second of load).
    Past WAL_RESTART_FRAMES the copy is repeated holding the record writers' lock, so no
    record lands meanwhile, and the writer thread starts the WAL over."""
    state = state_of(api)
    database = sqlite_file(state)
    if not database:
        pytest.skip("a SQLite WAL")
    for bits in range(1, 5):
        assert post_match(api, one(flip(PDQ_A, bits))).json()["results"][0]["matched"]
    copy = record_writer.checkpoint_wal
    calls: list[tuple[tuple[int, int], bool]] = []

    def copy_noting_the_lock(raw: Any) -> tuple[int, int]:
        with open(f"{database}.record-writers.lock", "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held = True
            else:
                held = False
                fcntl.flock(lock, fcntl.LOCK_UN)
        calls.append((copy(raw), held))
        return calls[-1][0]

    monkeypatch.setattr(record_writer, "checkpoint_wal", copy_noting_the_lock)
    monkeypatch.setattr(record_writer, "WAL_RESTART_FRAMES", 10**9)
    state.records._checkpoint()
    assert [held for _result, held in calls] == [False]  # a small WAL: nobody held up
    calls.clear()
    assert post_match(api, one(flip(PDQ_A, 5))).json()["results"][0]["matched"]
    monkeypatch.setattr(record_writer, "WAL_RESTART_FRAMES", 1)
    state.records._checkpoint()
    assert [held for _result, held in calls] == [False, True]
    (frames, copied), _held = calls[-1]
    assert frames == copied  # nothing left uncopied
    with closing(sqlite3.connect(database)) as connection:  # the writer thread restarted it:
        _busy, frames, _copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames == 1  # its one-page write (not the event loop's next commit, see restart_wal)
    assert post_match(api, one(flip(PDQ_A, 6))).json()["results"][0]["matched"]
    records = api.call("GET", "/v1/matches", "reviewer").json()["records"]
    assert len(records) == 6


def test_writer_refuses_when_full_or_stopped(api: Api, banked: dict[str, Any]) -> None:
    state = state_of(api)
    writer = RecordWriter(state, max_pending=1)
    record = record_for(state, banked["entry"]["id"], banked["bank"]["id"])
    query = [record_from_signal_value("pdq", PDQ_A)]
    queued = writer.submit([record], query)
    with pytest.raises(ApiError) as full:
        writer.submit([record_for(state, banked["entry"]["id"], banked["bank"]["id"])], query)
    assert full.value.status == 503 and full.value.headers == {"Retry-After": "1"}
    writer.start()
    writer.stop()  # drains what was queued before it ends
    assert queued.result(timeout=0) is None
    with pytest.raises(ApiError) as stopped:
        writer.submit([record], query)
    assert stopped.value.status == 503


def test_deeply_nested_json_is_a_4xx_not_a_500(api: Api, banked: dict[str, Any]) -> None:
    """json.loads raises RecursionError, not a ValueError, on deep nesting (a fuzzing find)."""
    body = b'{"queries": [' + b"[" * 3000 + b"]" * 3000 + b"]}"
    response = api.call(
        "POST",
        "/v1/match/hashes",
        "matcher",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500 and "error" in response.json()
