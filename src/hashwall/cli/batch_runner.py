"""Run a hashing batch with progress and per-file error lines; shared by ``hash`` and ``match``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hashwall.cli.output import report_error, stderr_console
from hashwall.cli.progress import batch_progress

if TYPE_CHECKING:
    from hashwall.hashing import HashOptions, HashRecord


@dataclass
class BatchSummary:
    hashed: int = 0
    failed: int = 0
    skipped_non_media: int = 0


def run_batch(
    paths: list[Path],
    options: HashOptions,
    jobs: int,
    show_progress: bool,
    on_record: Callable[[HashRecord], None],
    label: str = "Hashing",
) -> BatchSummary:
    """Hash everything under ``paths``: ``on_record`` per success, failures to stderr."""
    from hashwall.hashing.batch import collect_media_files, hash_many, single_threaded_numerics

    single_threaded_numerics()
    selection = collect_media_files(paths)
    summary = BatchSummary(skipped_non_media=selection.skipped_non_media)
    for error in selection.errors:
        report_error(str(error))
        summary.failed += 1
    with batch_progress(show_progress and len(selection.files) > 1) as progress:
        task = progress.add_task(label, total=len(selection.files))
        for item in hash_many(selection.files, options, jobs):
            if item.record is not None:
                on_record(item.record)
                summary.hashed += 1
            else:
                report_error(f"{item.path}: {item.error}", progress.console)
                summary.failed += 1
            progress.advance(task)
    if summary.skipped_non_media:
        stderr_console().print(
            f"skipped {summary.skipped_non_media} non-media file(s) found in folders", style="dim"
        )
    return summary
