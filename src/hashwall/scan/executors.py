"""Where batches of items are hashed: in this process, a local process pool, or Ray.

All three hand back ``concurrent.futures.Future`` objects, so the pipeline's back-pressure
(a bounded number of batches in flight) and bookkeeping are the same code for each.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

from hashwall.scan.items import ItemResult, ScanItem
from hashwall.scan.worker import WorkerConfig, process_batch

Batch = list[ScanItem]


class Executor(Protocol):
    workers: int

    def submit(self, batch: Batch) -> Future[list[ItemResult]]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """One worker, this process: for ``--jobs 1`` and tests (no process start-up)."""

    workers = 1

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config

    def submit(self, batch: Batch) -> Future[list[ItemResult]]:
        future: Future[list[ItemResult]] = Future()
        future.set_result(process_batch(batch, self.config))
        return future

    def close(self) -> None:
        pass


def _warm_up(config: WorkerConfig) -> None:
    """Pool initializer: load the banks once, before the first batch arrives."""
    from hashwall.scan.banks import load_banks

    load_banks(config.banks)


class LocalExecutor:
    """A process pool over ``workers`` cores ("spawn": safe next to the fetching threads).

    A worker that dies (a decoder crashing on a crafted file, the kernel's OOM killer) breaks
    a ``ProcessPoolExecutor`` for good: the batches it held fail (counted as
    ``worker_error``), and the next submission starts a fresh pool, so the scan goes on.
    """

    def __init__(self, config: WorkerConfig, workers: int) -> None:
        self.config = config
        self.workers = workers
        self.restarts = 0
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm_up,
            initargs=(self.config,),
        )

    def submit(self, batch: Batch) -> Future[list[ItemResult]]:
        try:
            return self._pool.submit(process_batch, batch, self.config)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
            self.restarts += 1
            return self._pool.submit(process_batch, batch, self.config)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Ray tasks (retried when a worker dies); the banks load once per Ray worker process.

    Items from local folders are read here and sent as bytes: a Ray node may not see this
    machine's files. ``address`` is ``auto`` (the running cluster) or ``ray://host:port``; a
    test may start its own cluster with ``ray.init`` before the scan, which is then reused.
    """

    def __init__(self, config: WorkerConfig, address: str, retries: int = 3) -> None:
        import ray as ray_module

        ray: Any = ray_module  # ray's API is only partly annotated
        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=False)
        self.config = config
        self._config_ref = ray.put(config)
        self._task = ray.remote(max_retries=retries, retry_exceptions=False)(_ray_batch)
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))

    def submit(self, batch: Batch) -> Future[list[ItemResult]]:
        ref = self._task.remote([_portable(item) for item in batch], self._config_ref)
        future: Future[list[ItemResult]] = ref.future()
        return future

    def close(self) -> None:
        pass


def _ray_batch(batch: Batch, config: WorkerConfig) -> list[ItemResult]:
    return process_batch(batch, config)


def _portable(item: ScanItem) -> ScanItem:
    if item.path is None:
        return item
    from dataclasses import replace

    try:
        return replace(item, payload=Path(item.path).read_bytes(), path=None)
    except OSError:
        return item  # the worker reports it unreadable


def make_executor(config: WorkerConfig, jobs: int, ray_address: str | None) -> Any:
    if ray_address:
        return RayExecutor(config, ray_address)
    if jobs <= 1:
        return InlineExecutor(config)
    return LocalExecutor(config, jobs)
