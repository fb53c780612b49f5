"""``hashwall match``: hash media here and report every hash-list entry it matches (offline)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hashwall.cli.batch_runner import run_batch
from hashwall.cli.options import (
    BordersOption,
    ExifOption,
    JobsOption,
    MaxPixelsOption,
    MaxVideoSecondsOption,
    ModeOption,
    SecondsOption,
    build_hash_options,
    jobs_or_default,
)
from hashwall.cli.output import (
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    json_line,
    open_output,
    report_error,
    stderr_console,
)
from hashwall.hashing.options import HashMode
from hashwall.media.limits import DEFAULT_MAX_PIXELS, DEFAULT_MAX_VIDEO_SECONDS
from hashwall.signals.thresholds import PDQ_DISTANCE_THRESHOLD, PDQ_QUALITY_THRESHOLD

if TYPE_CHECKING:
    from hashwall.hashing.record import HashRecord


def match_command(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH...", help="Files and folders to check.")
    ],
    against: Annotated[
        Path,
        typer.Option(
            "--against",
            "-a",
            help="Hash list: JSON lines from 'hashwall hash', or signal_type,signal_value CSV.",
        ),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write matches to this file.")
    ] = None,
    max_distance: Annotated[
        int,
        typer.Option(
            "--max-distance",
            min=0,
            max=PDQ_DISTANCE_THRESHOLD,
            help="PDQ/vPDQ frame distance threshold; may only be stricter than 31.",
        ),
    ] = PDQ_DISTANCE_THRESHOLD,
    min_quality: Annotated[
        int,
        typer.Option(
            "--min-quality",
            min=PDQ_QUALITY_THRESHOLD,
            max=100,
            help="Ignore PDQ hashes below this quality; may only be stricter than 50.",
        ),
    ] = PDQ_QUALITY_THRESHOLD,
    mode: ModeOption = HashMode.EXACT,
    jobs: JobsOption = 0,
    exif: ExifOption = True,
    borders: BordersOption = True,
    seconds_per_hash: SecondsOption = 1.0,
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    max_video_seconds: MaxVideoSecondsOption = DEFAULT_MAX_VIDEO_SECONDS,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Check photos and videos against a list of known hashes, fully offline.

    Prints one JSON line per (file, matched entry) with the signal that matched and its distance
    (rotated, flipped and letterboxed copies match too; the matching variant is named), and for
    videos the matched-frame percentages both ways (the file is the query side). Files that match
    nothing print nothing.

    Examples:

      hashwall hash known/ -o known.jsonl

      hashwall match --against known.jsonl ~/Downloads
    """
    from hashwall.matching import HashListError, Matcher, load_hash_list

    try:
        hash_list = load_hash_list(against)
    except HashListError as error:
        report_error(str(error))
        raise typer.Exit(EXIT_USAGE) from None
    matcher = Matcher(hash_list, distance_threshold=max_distance, quality_threshold=min_quality)
    options = build_hash_options(
        mode, exif, borders, seconds_per_hash, max_pixels, max_video_seconds
    )
    matched_files = 0
    try:
        with open_output(output) as sink:

            def emit(record: HashRecord) -> None:
                nonlocal matched_files
                found = matcher.match(record)
                matched_files += bool(found)
                for match in found:
                    sink.write(json_line(match.as_json(record.path)) + "\n")

            summary = run_batch(
                paths, options, jobs_or_default(jobs), progress, emit, label="Matching"
            )
    except FileNotFoundError as error:
        report_error(str(error))
        raise typer.Exit(EXIT_USAGE) from None
    stderr_console().print(
        f"{summary.hashed} file(s) checked against {len(hash_list.entries)} entries: "
        f"{matched_files} matched, {summary.failed} failed",
        style="dim",
    )
    if summary.failed:
        raise typer.Exit(EXIT_SOME_FAILED)
