"""A worker that dies costs its batch (counted), never the scan: the pool is started again."""

from __future__ import annotations

import time
from pathlib import Path

from hashwall.hashing.options import HashOptions
from hashwall.scan.banks import BankSpec
from hashwall.scan.executors import LocalExecutor
from hashwall.scan.items import ScanItem
from hashwall.scan.worker import WorkerConfig
from tests.scan.conftest import Pictures


def test_a_killed_worker_pool_is_replaced(tmp_path: Path, pictures: Pictures) -> None:
    config = WorkerConfig(BankSpec((str(pictures.bank),)), HashOptions())
    item = ScanItem("unit", {"url": "http://a.example/k.jpg"}, payload=pictures.known)
    executor = LocalExecutor(config, 1)
    try:
        assert executor.submit([item]).result(timeout=120)[0].findings
        pool = executor._pool
        for process in list(pool._processes.values()):  # type: ignore[union-attr]
            process.kill()
        deadline = time.monotonic() + 30
        while not pool._broken and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.05)
        results = executor.submit([item]).result(timeout=120)
        assert executor.restarts == 1
        assert results[0].findings[0]["entry"]["label"] == "known-1"
    finally:
        executor.close()
