"""Bulk imports at bank scale (issue 19, item 4): the bulk writer stores what the entries API
would, imports stay all-or-nothing and idempotent, large imports reach the live index's base
and match, and the answer's ``sweep`` field is honest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select, text

from hashwall.service import bulk_entries
from hashwall.service import live_index as live_index_module
from hashwall.service.hash_input import record_from_object, record_from_value
from hashwall.service.index_bulk import Additions
from hashwall.service.live_index import _Base
from hashwall.service.records import signal_values
from hashwall.service.routes import imports as imports_module
from hashwall.store import Entry, EntrySignal, ImportJob, create_database
from tests.service.conftest import Api
from tests.service.test_sweep import add_item, catalog_records
from tests.service.test_uploads_imports import import_file, jsonl_line
from tests.service.test_workers import wait_for

PLANTED = f"{0xFEED:064x}"


def hashes(count: int, start: int = 1) -> list[str]:
    """Distinct PDQ values far enough apart that none matches another."""
    rng = np.random.default_rng(start)
    return [row.tobytes().hex() for row in rng.integers(0, 256, (count, 32), dtype=np.uint8)]


def csv_of(values: list[str]) -> str:
    return "".join(f"pdq,{value}\n" for value in values)


def matched(api: Api, value: str) -> bool:
    response = api.call(
        "POST",
        "/v1/match/hashes",
        "matcher",
        json={"queries": [{"signal_type": "pdq", "signal_value": value}]},
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["results"][0]["matched"])


def stored(api: Api, job_id: int) -> list[tuple[Any, ...]]:
    """Every imported entry with its signal rows, in line order."""
    db = create_database(api.settings.resolved_database_url())
    try:
        with db.session() as session:
            entries = session.scalars(
                select(Entry).where(Entry.import_job_id == job_id).order_by(Entry.id)
            ).all()
            return [
                (
                    e.state.value, e.content_type, e.label, e.source, e.case_ref, e.meta,
                    [(s.signal_type, s.variant, s.value, s.value_key, s.quality)
                     for s in e.signals],
                )
                for e in entries
            ]  # fmt: skip
    finally:
        db.dispose()


def count(api: Api, model: Any) -> int:
    db = create_database(api.settings.resolved_database_url())
    try:
        with db.session() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        db.dispose()


def test_bulk_rows_equal_what_the_record_path_stores(api: Api, tmp_path: Path) -> None:
    """Canonical lines take the fast path, the others the generic one; both must store what
    ``signals_from_record`` of the parsed record says, with the entries API's columns."""
    bank = api.create_bank()
    lines = [
        "signal_type,signal_value",
        "pdq," + "ab" * 32,
        "PDQ, 0x" + "CD" * 32 + " ",
        "md5," + "e" * 32,
        "sha256," + "f" * 64,
        '"pdq","' + "12" * 32 + '"',
        "pdq," + "34" * 32 + ",extra column",
    ]
    answer = import_file(api, bank["id"], "\r\n".join(lines), source="list", case_ref="C-1")
    assert answer.status_code == 201, answer.text
    assert answer.json()["entry_count"] == 6
    expected = [
        ("active", "photo", "", "list", "C-1", {}, [(t, v, x, x[:64], q) for t, v, x, q in rows])
        for rows in (
            signal_values(record_from_value(kind, value, "f"))
            for kind, value in (
                ("pdq", "ab" * 32),
                ("pdq", "cd" * 32),
                ("md5", "e" * 32),
                ("sha256", "f" * 64),
                ("pdq", "12" * 32),
                ("pdq", "34" * 32),
            )
        )
    ]
    assert stored(api, answer.json()["id"]) == expected
    records = [json.loads(jsonl_line(seed, tmp_path)) for seed in (30, 31)]
    answer = import_file(api, bank["id"], "\n".join(json.dumps(r) for r in records))
    assert answer.status_code == 201, answer.text
    rows = stored(api, answer.json()["id"])
    for row, data in zip(rows, records, strict=True):
        record = record_from_object(data, "r")
        assert row[1] == str(record.content_type)
        assert row[2].endswith(Path(data["path"]).name)
        assert row[6] == [(t, v, x, x[:64], q) for t, v, x, q in signal_values(record)]


def test_bulk_timestamps_read_back_like_the_entries_api(api: Api) -> None:
    bank = api.create_bank()
    added = api.call(
        "POST",
        f"/v1/banks/{bank['id']}/entries",
        "curator",
        json={"hashes": [{"signal_type": "pdq", "signal_value": "9" * 64}]},
    ).json()
    job = import_file(api, bank["id"], csv_of(hashes(3))).json()
    listed = api.call("GET", f"/v1/banks/{bank['id']}/entries", "reviewer").json()["entries"]
    imported = [e for e in listed if e["import_job_id"] == job["id"]]
    assert len(imported) == 3 and imported[0]["created_at"] == imported[0]["updated_at"]
    db = create_database(api.settings.resolved_database_url())
    try:
        with db.session() as session:
            shapes = session.execute(
                text("SELECT id, created_at FROM entries WHERE id IN (:a, :b)"),
                {"a": added["id"], "b": imported[0]["id"]},
            ).all()
        # Stored the same way (SQLite: the same text form; PostgreSQL: timestamptz).
        assert len({type(value) for _id, value in shapes}) == 1
        if isinstance(shapes[0][1], str):
            assert len({len(value) for _id, value in shapes}) == 1
    finally:
        db.dispose()


def test_retry_answers_the_existing_job(api: Api) -> None:
    bank = api.create_bank()
    content = csv_of(hashes(50))
    first = import_file(api, bank["id"], content)
    again = import_file(api, bank["id"], content)
    assert first.status_code == again.status_code == 201
    assert first.json()["created"] and not again.json()["created"]
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["sweep"] == again.json()["sweep"] == "done"
    assert count(api, Entry) == 50 and count(api, ImportJob) == 1


def test_bad_line_in_the_middle_stores_nothing(api: Api) -> None:
    bank = api.create_bank()
    values = hashes(999)
    content = csv_of(values[:499]) + "pdq,not-a-hash\n" + csv_of(values[499:])
    answer = import_file(api, bank["id"], content)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "file"
    assert answer.json()["error"]["message"].startswith("file line 500:")
    assert count(api, Entry) == count(api, EntrySignal) == count(api, ImportJob) == 0
    assert not matched(api, values[0])


class Crash(Exception):
    """Stands for the server dying between two bulk statements."""


def test_import_dying_between_chunks_leaves_nothing_and_retry_completes(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = api.create_bank()
    values = hashes(120)
    monkeypatch.setattr(imports_module, "_FLUSH_EVERY", 25)
    writes: list[int] = []
    originals = {
        cls: cls.write for cls in (bulk_entries._SqliteWriter, bulk_entries._PostgresWriter)
    }

    def dying(cls: Any) -> Any:
        def write(self: Any, batch: Any) -> None:
            writes.append(len(batch))
            if len(writes) == 3:
                raise Crash
            originals[cls](self, batch)

        return write

    for cls in originals:
        monkeypatch.setattr(cls, "write", dying(cls))
    crashed = import_file(api, bank["id"], csv_of(values), idempotency_key="k")
    assert crashed.status_code == 500 and crashed.json()["error"]["code"] == "internal"
    assert count(api, Entry) == count(api, EntrySignal) == count(api, ImportJob) == 0
    assert not matched(api, values[10])
    monkeypatch.undo()
    done = import_file(api, bank["id"], csv_of(values), idempotency_key="k")
    assert done.status_code == 201 and done.json()["entry_count"] == 120
    assert (
        import_file(api, bank["id"], "pdq," + "0" * 64, idempotency_key="k").json()["id"]
        == (done.json()["id"])
    )
    assert count(api, Entry) == 120 and matched(api, values[10])


def test_large_import_reaches_the_base_and_matches(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above ``BULK_MIN`` new entries the import is appended to the index's base; it must
    match, leave earlier entries matching, and its entries must still be withdrawable."""
    monkeypatch.setattr(live_index_module, "BULK_MIN", 10)
    monkeypatch.setattr(imports_module, "_FLUSH_EVERY", 40)
    bank = api.create_bank()
    early = hashes(5, start=99)
    assert import_file(api, bank["id"], csv_of(early)).status_code == 201
    values = hashes(300)
    values[150] = PLANTED
    answer = import_file(api, bank["id"], csv_of(values) + "md5," + "a" * 32 + "\n")
    assert answer.status_code == 201, answer.text
    assert matched(api, PLANTED) and matched(api, values[0]) and matched(api, early[0])
    state = api.client.app.state.hashwall  # type: ignore[attr-defined]
    assert len(state.index._base.entry_ids) >= 301  # appended to the base, not the overlay
    md5 = api.call(
        "POST",
        "/v1/match/hashes",
        "matcher",
        json={"queries": [{"signal_type": "md5", "signal_value": "a" * 32}]},
    )
    assert md5.json()["results"][0]["matched"]
    listed = api.call("GET", f"/v1/banks/{bank['id']}/entries?limit=1000", "reviewer").json()[
        "entries"
    ]
    planted = next(e for e in listed if e["signals"][0]["value"] == PLANTED)
    withdrawn = api.call("POST", f"/v1/entries/{planted['id']}/withdraw", "curator")
    assert withdrawn.status_code == 200, withdrawn.text
    assert not matched(api, PLANTED) and matched(api, values[151])
    # Re-applying the import's change (as a replaying worker does) neither duplicates
    # entries nor revives the withdrawn one.
    size = len(state.index)
    state.index.sync_import(state.db, answer.json()["id"])
    assert len(state.index) == size and not matched(api, PLANTED)


def test_sweep_field_says_whether_the_sweep_ran(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bank = api.create_bank()
    values = hashes(20)
    add_item(api, "hosted-1", hashes=[{"signal_type": "pdq", "signal_value": values[3]}])
    small = import_file(api, bank["id"], csv_of(values[:10]))
    assert small.json()["sweep"] == "done"
    assert len(catalog_records(api)) == 1
    # Large imports answer first; the worker's sweep thread links the copy soon after.
    monkeypatch.setattr(imports_module, "SWEEP_INLINE_MAX", 5)
    add_item(api, "hosted-2", hashes=[{"signal_type": "pdq", "signal_value": values[15]}])
    large = import_file(api, bank["id"], csv_of(values[10:]))
    assert large.status_code == 201 and large.json()["sweep"] == "pending"
    wait_for(lambda: len(catalog_records(api)) == 2, 10)
    again = import_file(api, bank["id"], csv_of(values[10:]))
    assert not again.json()["created"] and again.json()["sweep"] == "done"


def test_signal_ids_continue_after_an_import(api: Api) -> None:
    """Bulk ids come from the same sequence as single entries': the next entry's signal row
    gets a new id (the live index refuses a reused one)."""
    bank = api.create_bank()
    import_file(api, bank["id"], csv_of(hashes(30)))
    added = api.call(
        "POST",
        f"/v1/banks/{bank['id']}/entries",
        "curator",
        json={"hashes": [{"signal_type": "pdq", "signal_value": "7" * 64}]},
    )
    assert added.status_code == 201, added.text
    assert matched(api, "7" * 64)
    assert count(api, EntrySignal) == 31


def _additions(ids: list[int], first_row: int, values: list[str]) -> Additions:
    fresh = Additions()
    fresh.add(
        [
            (first_row + i, entry_id, 1, "pdq", "original", value, 100)
            for i, (entry_id, value) in enumerate(zip(ids, values, strict=True))
        ]
    )
    return fresh


def test_base_extended_with_ids_below_its_own() -> None:
    """PostgreSQL may give an import ids below entries committed before it: the extended
    base re-sorts and every row still names its own entry."""
    values = hashes(6)
    base = _Base.empty().extended(_additions([10, 11, 12], 100, values[:3]))
    base = base.extended(_additions([2, 3, 13], 50, values[3:]))
    assert base.entry_ids.tolist() == [2, 3, 10, 11, 12, 13]
    assert base.pdq_rows.tolist() == [50, 51, 52, 100, 101, 102]
    owners = base.entry_ids[base.pdq_owners].tolist()
    assert owners == [2, 3, 13, 10, 11, 12]
    rows = base.pdq_rows_of(np.asarray([base.position(13), base.position(2)]))
    assert sorted(rows.tolist()) == [50, 52]
