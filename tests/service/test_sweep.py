"""Retroactive sweep: entries and catalog items are linked whichever arrives first, by the
match API's rules, once, and a sweep interrupted by a crash is finished at the next start."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from hashwall.hashing import HashOptions, hash_file
from hashwall.service import after_commit
from hashwall.service.settings import Settings
from hashwall.store import MatchRecord, create_database
from hashwall.store.catalog_models import SweepJob, SweepStatus
from tests.service.conftest import Api
from tests.service.test_api_core import PDQ_A, flip
from tests.service.test_uploads_imports import png_bytes
from tests.service.test_workers import wait_for


def record(seed: int, tmp_path: Path, transform: Any = None) -> dict[str, Any]:
    path = tmp_path / f"item-{seed}-{transform is not None}.png"
    path.write_bytes(png_bytes(seed, transform))
    return hash_file(path, HashOptions()).as_json()


def rotate(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.ROTATE_270)


def add_entry(api: Api, bank_id: int, **body: Any) -> dict[str, Any]:
    response = api.call("POST", f"/v1/banks/{bank_id}/entries", "curator", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def add_item(api: Api, content_id: str, **body: Any) -> dict[str, Any]:
    response = api.call(
        "POST", "/v1/catalog/items", "hasher", json={"content_id": content_id, **body}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def catalog_records(api: Api) -> list[dict[str, Any]]:
    records = api.call("GET", "/v1/matches", "reviewer").json()["records"]
    return [r for r in records if r["catalog_item_id"] is not None]


def summary(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (r["signal_type"], r["distance"], r["query_variant"], r["query_kind"]) for r in records
    )


@pytest.mark.parametrize("entry_first", [True, False])
def test_rotated_copy_found_in_either_order(api: Api, tmp_path: Path, entry_first: bool) -> None:
    bank = api.create_bank()
    known = record(7, tmp_path)
    hosted = record(7, tmp_path, rotate)  # the platform hosts a rotated copy
    if entry_first:
        entry = add_entry(api, bank["id"], record=known)
        item = add_item(api, "c/7", record=hosted, url="https://p.test/7")
        assert item["sweep"]["new_matches"] == 1
    else:
        item = add_item(api, "c/7", record=hosted, url="https://p.test/7")
        assert item["sweep"]["new_matches"] == 0
        entry = add_entry(api, bank["id"], record=known)
    records = catalog_records(api)
    assert [(r["entry_id"], r["catalog_item_id"]) for r in records] == [(entry["id"], item["id"])]
    (only,) = records
    assert only["signal_type"] in ("sha256", "pdq") and only["query_kind"] == "catalog"
    # Exactly what the match API says about the hosted item:
    answer = api.call("POST", "/v1/match/hashes", "matcher", json={"queries": [{"record": hosted}]})
    hit = answer.json()["results"][0]["banks"][0]["matches"][0]
    assert (hit["signal"], hit["distance"], hit["query_variant"]) == (
        only["signal_type"],
        only["distance"],
        only["query_variant"],
    )
    assert only["query_variant"].startswith("rotate")


def test_same_records_whichever_arrives_first(
    api_factory: Callable[[Settings], Api], settings: Settings, tmp_path: Path
) -> None:
    results = []
    for order in ("entries-first", "items-first"):
        api = api_factory(settings)  # same database: names and content ids per order
        strict = api.create_bank(f"strict-{order}", pdq_threshold=8)
        loose = api.create_bank(f"loose-{order}")
        # far apart per order (256 bits), so the two runs cannot match each other
        base = PDQ_A if order == "entries-first" else flip(PDQ_A, 256)
        entries = [
            (strict["id"], flip(base, 4)),
            (strict["id"], flip(base, 12)),
            (loose["id"], flip(base, 20)),
            (loose["id"], flip(base, 40)),
        ]
        items = [(f"{order}/a", base), (f"{order}/b", flip(base, 2))]

        def add_entries(api: Api = api, entries: list[tuple[int, str]] = entries) -> None:
            for bank_id, value in entries:
                add_entry(api, bank_id, hashes=[{"signal_type": "pdq", "signal_value": value}])

        def add_items(api: Api = api, items: list[tuple[str, str]] = items) -> None:
            for content_id, value in items:
                add_item(api, content_id, hashes=[{"signal_type": "pdq", "signal_value": value}])

        steps = (add_entries, add_items) if order == "entries-first" else (add_items, add_entries)
        for step in steps:
            step()
        mine = {strict["id"], loose["id"]}
        records = [r for r in catalog_records(api) if r["bank_id"] in mine]
        results.append(summary(records))
        # strict bank: only distance <= 8; loose: <= 31; 40 bits away never
        assert {r["distance"] for r in records} == {4, 2, 20, 18}
    assert results[0] == results[1]


def test_negative_bank_suppresses_sweep_matches(api: Api) -> None:
    bank = api.create_bank("ncii")
    negative = api.create_bank("known-fp", negative=True)
    add_entry(api, negative["id"], hashes=[{"signal_type": "pdq", "signal_value": PDQ_A}])
    add_entry(api, bank["id"], hashes=[{"signal_type": "pdq", "signal_value": flip(PDQ_A, 3)}])
    item = add_item(api, "x", hashes=[{"signal_type": "pdq", "signal_value": PDQ_A}])
    assert item["sweep"]["new_matches"] == 0
    other = add_item(api, "y", hashes=[{"signal_type": "pdq", "signal_value": flip(PDQ_A, 1)}])
    assert other["sweep"]["new_matches"] == 0  # same variant hits the negative entry too
    assert catalog_records(api) == []


def _import(api: Api, bank_id: int, lines: list[str], key: str = "k1") -> Any:
    return api.call(
        "POST",
        f"/v1/banks/{bank_id}/imports",
        "curator",
        files={"file": ("hashes.jsonl", "\n".join(lines).encode(), "application/x-ndjson")},
        data={"idempotency_key": key},
    )


def _count_records(api: Api) -> int:
    db = create_database(api.settings.resolved_database_url())
    try:
        with db.session() as session:
            return int(session.scalar(select(func.count()).select_from(MatchRecord)) or 0)
    finally:
        db.dispose()


def test_bulk_import_sweeps_once_and_bank_sweep_adds_nothing(api: Api, tmp_path: Path) -> None:
    for seed in (40, 41):
        add_item(api, f"hosted/{seed}", record=record(seed, tmp_path, rotate))
    bank = api.create_bank()
    lines = [json.dumps(record(seed, tmp_path)) for seed in (40, 41, 42)]
    assert _import(api, bank["id"], lines).status_code == 201
    assert len(catalog_records(api)) == 2
    assert _import(api, bank["id"], lines).json()["created"] is False
    swept = api.call("POST", f"/v1/banks/{bank['id']}/sweep", "curator")
    assert swept.status_code == 200, swept.text
    assert swept.json()["checked"] == 3 and swept.json()["new_matches"] == 0
    assert _count_records(api) == 2
    assert api.call("POST", f"/v1/banks/{bank['id']}/sweep", "reviewer").status_code == 403
    assert api.call("POST", "/v1/banks/999999/sweep", "curator").status_code == 404


def test_sweep_interrupted_after_commit_finishes_at_next_start(
    api_factory: Callable[[Settings], Api],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = api_factory(settings)
    add_item(api, "hosted", record=record(50, tmp_path, rotate))
    bank = api.create_bank()

    class Killed(Exception):
        """Stands for the process dying between the import's commit and its sweep."""

    def crash(_state: object, _job_id: int) -> None:
        raise Killed

    monkeypatch.setattr(after_commit, "run_job", crash)
    # The import is committed: the failed sweep does not make its answer an error.
    answer = _import(api, bank["id"], [json.dumps(record(50, tmp_path))])
    assert answer.status_code == 201 and answer.json()["sweep"] == "pending"
    monkeypatch.undo()
    assert catalog_records(api) == []  # the import is there, its sweep is pending
    db = create_database(settings.resolved_database_url())
    try:
        with db.session() as session:
            statuses = session.scalars(select(SweepJob.status)).all()
        assert SweepStatus.PENDING in statuses
        restarted = api_factory(settings)
        restarted.keys = {**restarted.keys, **api.keys}
        wait_for(lambda: len(catalog_records(restarted)) == 1, 5)
        with db.session() as session:
            assert set(session.scalars(select(SweepJob.status))) == {SweepStatus.DONE}
    finally:
        db.dispose()
    assert _count_records(api) == 1


def test_entry_upload_sweeps(api: Api) -> None:
    item = add_item(api, "u", hashes=[{"signal_type": "md5", "signal_value": "0" * 32}])
    bank = api.create_bank()
    image = io.BytesIO(png_bytes(60))
    added = api.call(
        "POST",
        f"/v1/banks/{bank['id']}/entries/upload",
        "curator",
        files={"file": ("e.png", image.getvalue(), "image/png")},
    )
    assert added.status_code == 201
    assert catalog_records(api) == []  # different picture
    same = add_item(
        api,
        "u2",
        hashes=[{"signal_type": "sha256", "signal_value": added.json()["signals"][-1]["value"]}],
    )
    assert item["sweep"]["new_matches"] == 0 and same["sweep"]["new_matches"] == 1


def test_sweep_failed_in_a_running_worker_is_retried_without_restart(
    api_factory: Callable[[Settings], Api],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sweep that failed in its request (a database error, say) is not left until the next
    restart: the worker's sweep thread retries it once it is older than the retry period."""
    api = api_factory(settings.model_copy(update={"sweep_retry_seconds": 0.3}))
    add_item(api, "hosted", record=record(51, tmp_path, rotate))
    bank = api.create_bank()

    class DatabaseHiccup(Exception):
        pass

    def fail(_state: object, _job_id: int) -> None:
        raise DatabaseHiccup

    monkeypatch.setattr(after_commit, "run_job", fail)
    answer = _import(api, bank["id"], [json.dumps(record(51, tmp_path))])
    assert answer.status_code == 201 and answer.json()["sweep"] == "pending"
    monkeypatch.undo()
    wait_for(lambda: len(catalog_records(api)) == 1, 5)
    assert _count_records(api) == 1
