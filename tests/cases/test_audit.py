"""The audit chain: canonical form, JSON-lines and SQL backends, and a property test that
every single mutation of a valid chain is caught at the right entry."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashwall.cases.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditFormatError,
    ChainHead,
    Item,
    JsonlAuditStore,
    canonical_json,
    check,
    make_entry,
    verify,
)
from tests.cases.conftest import START, FakeClock


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert (
        canonical_json({"b": 1, "a": ["é", None, True]}) == '{"a":["é",null,true],"b":1}'.encode()
    )


@pytest.mark.parametrize("bad", [{"x": 1.5}, {"x": [float("nan")]}, {"x": object()}, {1: "a"}])
def test_non_portable_values_are_refused(bad: dict[Any, Any]) -> None:
    with pytest.raises(AuditFormatError):
        canonical_json(bad)


def test_hash_covers_the_canonical_entry_and_links_to_the_previous(tmp_path: Path) -> None:
    store = JsonlAuditStore(tmp_path / "audit.jsonl", FakeClock())
    first = store.append(actor="system", action="case.received", case_id="C-1", data={"n": 1})
    second = store.append(actor="reviewer:7", action="case.actioned", case_id="C-1")
    assert first.prev_hash == GENESIS_HASH and (first.seq, second.seq) == (1, 2)
    body = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[0])
    del body["hash"]
    digest = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    assert digest == first.hash == second.prev_hash
    assert first.at == "2026-05-19T09:00:00.000000Z"
    result = check(store)
    assert result.intact and result.entries == 2 and result.head == ChainHead(2, second.hash)
    assert [e.seq for e in store.entries_for_case("C-1")] == [1, 2]


def test_bad_append_writes_nothing(tmp_path: Path) -> None:
    store = JsonlAuditStore(tmp_path / "audit.jsonl", FakeClock())
    store.append(actor="system", action="a")
    before = store.path.read_bytes()
    for kwargs in ({"actor": "", "action": "a"}, {"actor": "s", "action": "a", "data": {"f": 0.1}}):
        with pytest.raises(AuditFormatError):
            store.append(**kwargs)  # type: ignore[arg-type]
    assert store.path.read_bytes() == before


def test_file_edits_are_named(tmp_path: Path) -> None:
    store = JsonlAuditStore(tmp_path / "audit.jsonl", FakeClock())
    for number in range(4):
        store.append(actor="system", action="step", data={"n": number})
    lines = store.path.read_text().splitlines()
    lines[2] = lines[2].replace('"n":2', '"n":9')
    store.path.write_text("\n".join(lines) + "\n")
    problem = check(store).problem
    assert problem is not None and (problem.position, problem.seq) == (2, 3)
    assert str(problem) == "entry #3 (seq 3): hash does not match the entry's content (edited)"
    lines[2] = "{not json"
    store.path.write_text("\n".join(lines) + "\n")
    problem = check(store).problem
    assert problem is not None and problem.position == 2 and "line 3" in problem.reason
    with pytest.raises(AuditFormatError):  # appending after a torn line would hide it
        store.path.write_text("\n".join([*lines[:2], "{torn"]) + "\n")
        store.append(actor="system", action="after")


def test_cut_off_tail_and_rewrite_need_the_recorded_head(tmp_path: Path) -> None:
    store = JsonlAuditStore(tmp_path / "audit.jsonl", FakeClock())
    for number in range(3):
        store.append(actor="system", action="step", data={"n": number})
    head = store.head()
    assert head is not None
    lines = store.path.read_text().splitlines()
    store.path.write_text("\n".join(lines[:2]) + "\n")
    assert check(store).intact  # a shorter chain is still a valid chain ...
    problem = check(store, head).problem  # ... but not the one whose head was recorded
    assert problem is not None and (problem.position, problem.seq) == (2, 3)
    # rewrite: the attacker re-creates entry 3 with other content, chaining it properly
    store.append(actor="system", action="forged")
    problem = check(store, head).problem
    assert problem is not None and "rewritten" in problem.reason
    assert ChainHead.parse(str(head)) == head
    with pytest.raises(ValueError, match="SEQ:SHA256HEX"):
        ChainHead.parse("3:abc")


def test_concurrent_appenders_never_fork_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"

    def worker(name: str) -> None:
        store = JsonlAuditStore(path)
        for number in range(25):
            store.append(actor=name, action="step", data={"n": number})

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = check(JsonlAuditStore(path))
    assert result.intact and result.entries == 100


# --- property: any single mutation is found at the right position ---------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def chains(draw: st.DrawFn) -> list[AuditEntry]:
    size = draw(st.integers(1, 7))
    entries: list[AuditEntry] = []
    clock = FakeClock(START)
    for _ in range(size):
        clock.advance(seconds=draw(st.integers(0, 10**6)))
        entries.append(
            make_entry(
                entries[-1] if entries else None,
                at=clock.now(),
                actor=draw(st.sampled_from(["system", "reviewer:1", "requester"])),
                action=draw(st.sampled_from(["case.received", "case.actioned", "notice.sent"])),
                case_id=draw(st.none() | st.sampled_from(["C-1", "C-2"])),
                data=draw(st.dictionaries(st.text(max_size=5), json_values, max_size=3)),
            )
        )
    return entries


FIELDS = ["seq", "at", "case_id", "actor", "action", "data", "prev_hash", "hash"]


def _edited(entry: AuditEntry, field: str, draw: st.DrawFn) -> AuditEntry:
    old = getattr(entry, field)
    options: dict[str, Any] = {
        "seq": st.integers(0, 20),
        "at": st.sampled_from(["2026-05-19T09:00:00.000001Z", "2020-01-01T00:00:00.000000Z"]),
        "case_id": st.none() | st.text(min_size=1, max_size=6),
        "actor": st.text(min_size=1, max_size=6),
        "action": st.text(min_size=1, max_size=6),
        "data": st.dictionaries(st.text(max_size=3), json_values, max_size=2),
        "prev_hash": st.text("0123456789abcdef", min_size=64, max_size=64),
        "hash": st.text("0123456789abcdef", min_size=64, max_size=64),
    }
    new = draw(options[field].filter(lambda value: value != old))
    return replace(entry, **{field: new})


@st.composite
def mutations(draw: st.DrawFn) -> tuple[list[AuditEntry], list[Item], int, str]:
    entries = draw(chains())
    size = len(entries)
    kind = draw(
        st.sampled_from(
            ["edit", "delete", "insert", "swap"] if size > 1 else ["edit", "delete", "insert"]
        )
    )
    items: list[Item] = list(entries)
    if kind == "edit":
        at = draw(st.integers(0, size - 1))
        items[at] = _edited(entries[at], draw(st.sampled_from(FIELDS)), draw)
        return entries, items, at, kind
    if kind == "delete":
        at = draw(st.integers(0, size - 1))
        del items[at]
        return entries, items, at, kind
    if kind == "insert":
        at = draw(st.integers(0, size))
        source = draw(st.integers(0, size - 1))
        items.insert(at, entries[source])
        # a copy of the entry that belongs right here is indistinguishable from the
        # original: the chain breaks at the original, one place further on
        return entries, items, at + 1 if source == at else at, kind
    first, second = sorted(
        draw(st.lists(st.integers(0, size - 1), min_size=2, max_size=2, unique=True))
    )
    items[first], items[second] = items[second], items[first]
    return entries, items, first, kind


@settings(max_examples=400, deadline=None)
@given(mutations())
def test_any_single_mutation_is_found_at_its_position(
    case: tuple[list[AuditEntry], list[Item], int, str],
) -> None:
    entries, items, position, kind = case
    assert verify(entries).intact
    head = ChainHead(entries[-1].seq, entries[-1].hash)
    result = verify(items, expected_head=head)
    assert result.problem is not None, kind
    assert result.problem.position == position, (kind, result.problem)


def test_forged_entry_inserted_mid_chain_breaks_the_next_one() -> None:
    entries = [make_entry(None, at=START, actor="s", action="a")]
    for number in range(3):
        entries.append(make_entry(entries[-1], at=START, actor="s", action="a", data={"n": number}))
    forged = make_entry(entries[1], at=START, actor="s", action="forged")
    result = verify([*entries[:2], forged, *entries[2:]])
    assert result.problem is not None and result.problem.position == 3
    assert "seq is 3, expected 4" in result.problem.reason
