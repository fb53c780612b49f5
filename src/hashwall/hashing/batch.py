"""Hash many files (folders walked recursively) on all cores; a bad file never stops a batch."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from threadpoolctl import threadpool_limits

from hashwall.hashing.options import HashOptions
from hashwall.hashing.pipeline import hash_file
from hashwall.hashing.record import HashRecord
from hashwall.media.errors import MediaError
from hashwall.media.sniff import HEADER_BYTES, MEDIA_EXTENSIONS, kind_from_header


@dataclass(frozen=True)
class BatchItem:
    """The outcome for one file: a record, or the reason it could not be hashed."""

    path: str
    record: HashRecord | None = None
    error: str | None = None


@dataclass(frozen=True)
class FileSelection:
    files: list[Path]
    errors: list[MediaError]
    skipped_non_media: int


def _looks_like_media(path: Path) -> bool:
    if path.suffix.lower() in MEDIA_EXTENSIONS:
        return True
    try:
        with path.open("rb") as handle:
            return kind_from_header(handle.read(HEADER_BYTES)) is not None
    except OSError:
        return False


def collect_media_files(paths: Iterable[Path]) -> FileSelection:
    """Expand folders recursively (sorted, hidden entries skipped).

    A file named explicitly is always attempted, so a wrong file gets a clear error. Inside
    folders, files that neither carry a media extension nor start like media (READMEs, CSVs) are
    skipped and counted, while a broken ``.jpg`` is attempted and reported.
    """
    files: list[Path] = []
    errors: list[MediaError] = []
    skipped = 0
    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    candidate = Path(root) / name
                    if name.startswith(".") or not candidate.is_file():
                        continue
                    if _looks_like_media(candidate):
                        files.append(candidate)
                    else:
                        skipped += 1
        elif path.exists():
            files.append(path)
        else:
            errors.append(MediaError(path, "no such file or folder"))
    return FileSelection(files, errors, skipped)


def _hash_one(job: tuple[Path, HashOptions]) -> BatchItem:
    path, options = job
    try:
        return BatchItem(str(path), record=hash_file(path, options))
    except MediaError as error:
        return BatchItem(str(path), error=error.reason)
    except Exception as error:  # a decoder bug must not take the whole batch down
        return BatchItem(
            str(path), error=f"unexpected error while hashing ({type(error).__name__}: {error})"
        )


def single_threaded_numerics() -> None:
    """Keep BLAS to one thread per process.

    hashwall parallelises across processes; BLAS threads on top of that only contend (on a
    loaded 2-core machine a 64x512 matrix product went from 0.7 ms to 18 ms with 2 threads).
    """
    threadpool_limits(limits=1, user_api="blas")


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def hash_many(
    files: list[Path], options: HashOptions, jobs: int = 1, start_method: str | None = None
) -> Iterator[BatchItem]:
    """Hash files in input order, in ``jobs`` worker processes (1 = in this process).

    ``start_method`` is the multiprocessing start method (default: the platform's, ``fork`` on
    Linux). A process that has already decoded a video itself should pass ``"spawn"``: FFmpeg's
    decoder threads can leave a lock held in a forked child, which then hangs (seen in tests and
    benchmarks; the CLI never decodes before its workers start, so it keeps the cheaper fork).
    """
    work = [(path, options) for path in files]
    if jobs <= 1 or len(work) <= 1:
        yield from map(_hash_one, work)
        return
    workers = min(jobs, len(work))
    # Small chunks keep the progress bar moving and a slow video from holding up many photos;
    # more than one file per chunk amortises the inter-process round trip.
    chunksize = max(1, min(8, len(work) // (workers * 4)))
    context = multiprocessing.get_context(start_method) if start_method else None
    with ProcessPoolExecutor(
        max_workers=workers, initializer=single_threaded_numerics, mp_context=context
    ) as pool:
        yield from pool.map(_hash_one, work, chunksize=chunksize)
