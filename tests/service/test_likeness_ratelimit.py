"""The screening rate limit holds across workers: counters in the database (SQLite, PostgreSQL)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from importlib.util import find_spec
from typing import Any

import pytest
from sqlalchemy import func, select

from hashwall.service.settings import Settings
from hashwall.store import Database, create_database, upgrade
from hashwall.store.portal_models import PortalThrottle
from tests.service.conftest import Api

if any(find_spec(name) is None for name in ("cryptography", "onnxruntime", "cv2")):
    pytest.skip("the likeness extra is not installed", allow_module_level=True)

from hashwall.service.likeness.ratelimit import BUCKETS, SCOPE, RateLimiter
from tests.likeness.conftest import FixedScore
from tests.service.likeness_helpers import ROCKET

T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = create_database(database_url)
    upgrade(database.engine)
    yield database
    database.dispose()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_limit_per_key_and_retry_after_from_the_oldest_slice(db: Database) -> None:
    limiter = RateLimiter(3, 60)
    assert [limiter.check(db, 1, at(t)) for t in (0, 10, 20)] == [None, None, None]
    wait = limiter.check(db, 1, at(30))
    # The request at t=0 sits in the slice [0, 6): it leaves the window at 66 s.
    assert wait == pytest.approx(36.0)
    assert limiter.check(db, 2, at(30)) is None  # another key has its own budget
    assert limiter.check(db, 1, at(65)) is not None
    assert limiter.check(db, 1, at(66)) is None
    assert limiter.check(db, 1, at(67)) is not None  # 10 s and 20 s still in the window


def test_no_window_ever_holds_more_than_the_limit(db: Database) -> None:
    limiter = RateLimiter(5, 10)
    rng = random.Random(6)
    times = sorted(rng.uniform(0, 60) for _ in range(120))
    allowed = [t for t in times if limiter.check(db, 7, at(t)) is None]
    assert len(allowed) >= 5 * 5  # it lets traffic through: at least 5 per 12 s on average
    for index, start in enumerate(allowed):
        assert sum(1 for t in allowed[index:] if t < start + 10) <= 5


def test_concurrent_workers_share_one_budget(database_url: str, db: Database) -> None:
    workers = [create_database(database_url) for _ in range(2)]
    limiter = RateLimiter(10, 3600)
    results: list[float | None] = []
    lock = threading.Lock()

    def hammer(worker: Database) -> None:
        for _ in range(5):
            outcome = limiter.check(worker, 3)
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=hammer, args=(workers[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.dispose()
    assert len(results) == 30
    assert sum(outcome is None for outcome in results) == 10


def test_old_slices_are_deleted(db: Database) -> None:
    limiter = RateLimiter(100, 60)
    for second in range(0, 600, 7):
        assert limiter.check(db, 4, at(second)) is None
    with db.session() as session:
        rows = session.scalar(
            select(func.count()).select_from(PortalThrottle).where(PortalThrottle.scope == SCOPE)
        )
    assert rows is not None and rows <= BUCKETS + 3


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        RateLimiter(0, 60)


def _screen(api: Api, role: str = "matcher") -> Any:
    data = ROCKET.read_bytes()
    return api.call("POST", "/v1/likeness/screen", role, files={"file": ("r.jpg", data)})


def test_two_app_workers_enforce_one_limit_with_retry_after(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    limited = settings.model_copy(update={"likeness_rate_limit": 3})
    first, second = api_factory(limited), api_factory(limited)
    second.keys = first.keys  # the same API keys, served by two workers
    for api in (first, second):
        api.client.app.state.hashwall.likeness.classifier = lambda: FixedScore(0.1)  # type: ignore[attr-defined]
    codes = [_screen(api).status_code for api in (first, second, first)]
    assert codes == [200, 200, 200]
    refused = _screen(second)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 66
    assert _screen(first).status_code == 429
    assert _screen(second, role="curator").status_code == 200
