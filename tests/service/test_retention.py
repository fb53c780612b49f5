"""Match records past their retention: what is pruned, what is kept, counted once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from hashwall.service.retention import prune_match_records
from hashwall.service.settings import Settings
from hashwall.store import MatchRecord, create_database
from hashwall.store.db import Database
from hashwall.store.models import utcnow
from hashwall.store.retention_models import MatchRollup
from tests.service.conftest import Api
from tests.service.test_actions import add, query
from tests.service.test_api_core import PDQ_A, flip
from tests.service.test_sweep import add_item

RETENTION = timedelta(days=90)


def _age_all_records(db: Database) -> None:
    with db.session() as session:
        session.execute(update(MatchRecord).values(created_at=utcnow() - timedelta(days=100)))


def _records(db: Database) -> int:
    with db.session(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(MatchRecord)) or 0)


def _rolled_up(db: Database) -> int:
    with db.session(readonly=True) as session:
        return int(session.scalar(select(func.sum(MatchRollup.matches))) or 0)


def test_kept_and_pruned(api: Api) -> None:
    plain = api.create_bank("plain")
    reviewed = api.create_bank("reviewed", action="review")
    hooked = api.create_bank("hooked", action="webhook")
    closed_port = "http://127.0.0.1:9/hook"  # nothing listens: the delivery stays pending
    made = api.call(
        "POST", f"/v1/banks/{hooked['id']}/webhooks", "curator", json={"url": closed_port}
    )
    assert made.status_code == 201, made.text
    add(api, plain["id"], PDQ_A)
    add(api, reviewed["id"], flip(PDQ_A, 40))
    add(api, hooked["id"], flip(PDQ_A, 80))
    for value in (PDQ_A, PDQ_A, flip(PDQ_A, 40), flip(PDQ_A, 80)):
        assert query(api, value)["results"][0]["matched"] or value != PDQ_A
    add_item(api, "hosted-copy", hashes=[{"signal_type": "pdq", "signal_value": PDQ_A}])
    db = create_database(api.settings.resolved_database_url())
    try:
        before = _records(db)
        assert before >= 5
        assert prune_match_records(db, RETENTION) == 0  # nothing is old yet
        _age_all_records(db)
        pruned = prune_match_records(db, RETENTION)
        with db.session(readonly=True) as session:
            left = session.execute(select(MatchRecord.bank_id, MatchRecord.catalog_item_id)).all()
        kept_banks = {bank_id for bank_id, item in left if item is None}
        assert kept_banks == {reviewed["id"], hooked["id"]}  # awaiting review / delivery
        assert any(item is not None for _bank, item in left)  # the catalog link
        assert pruned == before - len(left) and pruned >= 2
        assert _rolled_up(db) == pruned
        assert prune_match_records(db, RETENTION) == 0  # idempotent
    finally:
        db.dispose()


def _matched_times(api: Api, times: int) -> Database:
    """A bank whose one entry was matched ``times`` times; the database, to be disposed."""
    bank = api.create_bank()
    add(api, bank["id"], PDQ_A)
    for _ in range(times):
        query(api, PDQ_A)
    return create_database(api.settings.resolved_database_url())


def test_concurrent_prunes_count_each_record_once(api: Api) -> None:
    db = _matched_times(api, 30)
    try:
        _age_all_records(db)
        counts: list[int] = []
        threads = [
            threading.Thread(
                target=lambda: counts.append(prune_match_records(db, RETENTION, batch=7))
            )
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(counts) == 30
        assert _records(db) == 0 and _rolled_up(db) == 30
    finally:
        db.dispose()


def test_only_records_older_than_the_retention_go(api: Api) -> None:
    db = _matched_times(api, 6)
    try:
        with db.session() as session:
            oldest = sorted(session.scalars(select(MatchRecord.id)))[:4]
            session.execute(
                update(MatchRecord)
                .where(MatchRecord.id.in_(oldest))
                .values(created_at=utcnow() - timedelta(days=91))
            )
        assert prune_match_records(db, RETENTION) == 4
        assert _records(db) == 2
    finally:
        db.dispose()


def test_retention_setting() -> None:

    assert Settings(secret_key="x" * 32).match_record_retention == timedelta(days=90)
    assert (
        Settings(secret_key="x" * 32, match_record_retention_days=0).match_record_retention is None
    )
    with pytest.raises(ValueError, match="at least 1"):
        Settings(secret_key="x" * 32, match_record_retention_days=0.5)
