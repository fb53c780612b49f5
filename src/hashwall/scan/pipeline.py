"""Drive a scan: read sources here, hash and match on workers, write findings per unit.

Sources are read in this process (archives are streamed; URLs are fetched on a few threads)
and items go to the executor in batches, with a bounded number of batches in flight: a fast
reader never piles gigabytes of payloads up in memory (back-pressure). A unit's findings are
written, and the unit checkpointed, once all its items are back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from hashwall.scan.checkpoint import Checkpoint
from hashwall.scan.executors import Batch, make_executor
from hashwall.scan.fetch import FetchConfig
from hashwall.scan.findings import finding_key
from hashwall.scan.items import ItemResult, ScanItem, Skipped
from hashwall.scan.skips import Skip
from hashwall.scan.sources import Unit, path_units, pending
from hashwall.scan.summary import Summary
from hashwall.scan.worker import WorkerConfig

#: Items per task: enough to amortise a Ray task's overhead (a few ms), few enough to spread
#: a small archive over every core.
BATCH_ITEMS = 8
BATCH_BYTES = 32 << 20
DEFAULT_MAX_BYTES = 256 << 20


@dataclass(frozen=True)
class ScanConfig:
    worker: WorkerConfig
    paths: tuple[Path, ...] = ()
    #: Object-store prefixes (``s3://bucket/prefix``, any fsspec URL).
    prefixes: tuple[str, ...] = ()
    url_lists: tuple[Path, ...] = ()
    fetch: FetchConfig = field(default_factory=lambda: FetchConfig())
    jobs: int = 1
    ray_address: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    batch_items: int = BATCH_ITEMS


Progress = Callable[[Summary], None]


def units_for(config: ScanConfig, done: Callable[[str], bool]) -> Iterator[Unit]:
    yield from pending(path_units(config.paths, config.max_bytes), done)
    if config.prefixes:
        from hashwall.scan.sources.remote import remote_units

        for prefix in config.prefixes:
            yield from pending(remote_units(prefix, config.max_bytes), done)
    if config.url_lists:
        from hashwall.scan.fetch import url_units

        yield from url_units(config.url_lists, config.fetch, config.max_bytes, done)


def run_scan(
    config: ScanConfig,
    out: TextIO,
    checkpoint: Checkpoint | None = None,
    already_written: set[tuple[str, ...]] | None = None,
    progress: Progress | None = None,
    skip_log: TextIO | None = None,
) -> Summary:
    """Scan everything in ``config``; finding lines go to ``out``, one line per skip (source,
    reason, detail) to ``skip_log`` when given; returns the counts."""
    run = _Run(config, out, checkpoint, already_written or set(), progress)
    run.skip_log = skip_log
    executor = make_executor(config.worker, config.jobs, config.ray_address)
    try:
        run.drive(executor)
    finally:
        executor.close()
    return run.summary


class _Run:
    """The bookkeeping of one scan: batches in flight, items outstanding per unit."""

    def __init__(
        self,
        config: ScanConfig,
        out: TextIO,
        checkpoint: Checkpoint | None,
        written: set[tuple[str, ...]],
        progress: Progress | None,
    ) -> None:
        self.config = config
        self.out = out
        self.checkpoint = checkpoint
        self.written = written
        self.progress = progress
        self.summary = Summary()
        self.outstanding: dict[str, int] = {}
        self.reading: set[str] = set()
        self.findings: dict[str, list[dict[str, Any]]] = {}
        #: What each batch in flight held (unit and source, not the payloads).
        self.inflight: dict[Future[list[ItemResult]], list[tuple[str, dict[str, Any]]]] = {}
        self.started = time.monotonic()
        self.skip_log: TextIO | None = None

    def drive(self, executor: Any) -> None:
        done = self.checkpoint.is_done if self.checkpoint else (lambda _unit: False)
        resumed = len(self.checkpoint.done) if self.checkpoint else 0
        limit = 2 * executor.workers + 2
        batch: Batch = []
        for unit in units_for(self.config, done):
            if unit.id in self.outstanding:
                continue  # named twice (a file and its folder, a URL in two lists): once is enough
            self._open(unit.id)
            for event in unit.events():
                if isinstance(event, Skipped):
                    self.summary.skipped(event.reason)
                    self._log_skip(event.reason, event.source, event.detail)
                    continue
                batch.append(event)
                self.outstanding[unit.id] += 1
                if _full(batch, self.config.batch_items):
                    self._submit(executor, batch, limit)
                    batch = []
            self.reading.discard(unit.id)
            self._maybe_finish(unit.id)
        if batch:
            self._submit(executor, batch, limit)
        self._collect(0)
        self.summary.units_resumed = resumed
        self._tick()

    def _open(self, unit: str) -> None:
        self.outstanding[unit] = 0
        self.reading.add(unit)
        self.findings[unit] = []

    def _submit(self, executor: Any, batch: Batch, limit: int) -> None:
        self.summary.items_seen += len(batch)
        self.inflight[executor.submit(batch)] = [(item.unit, item.source) for item in batch]
        self._collect(limit - 1)

    def _collect(self, keep: int) -> None:
        """Wait until at most ``keep`` batches are in flight, handling each result."""
        while len(self.inflight) > keep:
            finished, _ = wait(list(self.inflight), return_when=FIRST_COMPLETED)
            for future in finished:
                held = self.inflight.pop(future)
                error = future.exception()
                results = future.result() if error is None else _failed(held, error)
                for result in results:
                    self._record(result)
            self._tick()

    def _record(self, result: ItemResult) -> None:
        self.summary.worker_cpu_seconds += result.cpu_seconds
        if result.skip is not None:
            self.summary.skips[str(result.skip)] += 1
            self._log_skip(result.skip, result.source, result.detail)
        else:
            self.summary.media_hashed += 1
        if result.findings:
            self.summary.matched_items += 1
            self.findings[result.unit].extend(result.findings)
        self.outstanding[result.unit] -= 1
        self._maybe_finish(result.unit)

    def _log_skip(self, reason: Skip, source: dict[str, Any], detail: str) -> None:
        if self.skip_log is not None:
            line = {"skip": str(reason), "source": source, "detail": detail}
            self.skip_log.write(_json_line(line) + "\n")

    def _maybe_finish(self, unit: str) -> None:
        if unit in self.reading or self.outstanding[unit]:
            return
        for data in self.findings.pop(unit):
            key = finding_key(data)
            if key in self.written:
                continue
            self.written.add(key)
            self.out.write(_json_line(data) + "\n")
            self.summary.matches += 1
        self.out.flush()
        del self.outstanding[unit]
        if self.checkpoint is not None:
            self.checkpoint.mark(unit)
        self.summary.units_done += 1

    def _tick(self) -> None:
        self.summary.seconds = time.monotonic() - self.started
        if self.progress is not None:
            self.progress(self.summary)


def _full(batch: list[ScanItem], items: int) -> bool:
    return len(batch) >= items or sum(len(i.payload or b"") for i in batch) >= BATCH_BYTES


def _failed(held: list[tuple[str, dict[str, Any]]], error: BaseException) -> list[ItemResult]:
    detail = f"{type(error).__name__}: {error}"
    return [
        ItemResult(unit, skip=Skip.WORKER_ERROR, source=source, detail=detail)
        for unit, source in held
    ]


def _json_line(data: dict[str, Any]) -> str:
    import json

    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
